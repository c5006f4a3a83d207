"""``python -m binedge ...`` and the ``binedge`` script: the command line (what torchrun and
``binedge train --nproc`` start).

A process of a multi-process run (torchrun's WORLD_SIZE > 1) ends with ``os._exit`` once the
command is done and its output flushed (binedge.distributed.end_worker): torch's Gloo threads can
still be releasing a finished collective's tensors when the interpreter shuts down, and a thread
that then needs the GIL aborts the whole process (SIGABRT, "terminate called without an active
exception"), which turned a finished run into a failed one. Everything the run wrote is closed
and renamed into place before the command returns.
"""

from .cli import main
from .distributed import end_worker, in_torchrun


def run() -> None:
    try:
        main(prog_name="binedge")
        code = 0
    except SystemExit as e:  # click's standalone mode always ends this way
        if not in_torchrun():
            raise
        code = e.code
    end_worker(code)


if __name__ == "__main__":
    run()
