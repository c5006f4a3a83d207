"""binedge: train binarized / hard-threshold networks and deploy them bit-exactly."""

__version__ = "0.1.0"
