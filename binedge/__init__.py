"""binedge: train binarized / hard-threshold networks and deploy them bit-exactly.

``binedge.convert(model, example_input, ...)`` lowers any model built from binedge layers and
ordinary torch ops to the integer deployment graph (binedge.converter; imported on first use, so
that ``import binedge`` stays light).
"""

__version__ = "0.1.0"

__all__ = ["convert", "__version__"]


def __getattr__(name):
    if name == "convert":
        from .converter import convert

        globals()["convert"] = convert
        return convert
    raise AttributeError(f"module 'binedge' has no attribute {name!r}")
