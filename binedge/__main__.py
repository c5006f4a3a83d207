"""``python -m binedge ...``: the binedge command line (what torchrun and ``binedge train --nproc`` start)."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="binedge")
