"""One rank of `datamap train` under torchrun, for test_parallel.py (run as a script by torchrun).

``python tests/ddp_cli_worker.py [--die-on-rank R] train ARGS...`` runs the command; with
``--die-on-rank R`` rank R dies (``os._exit``, as a killed process would: no cleanup, no
message) when its second pass starts, after the first pass's checkpoint is on disk.
"""

from __future__ import annotations

import os
import sys

from datamap_widget import train
from datamap_widget.cli import main


def die_at_second_pass(rank: int) -> None:
    if int(os.environ["RANK"]) != rank:
        return
    plan = train._epoch_batches
    calls = []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os._exit(9)
        return plan(*args, **kwargs)

    train._epoch_batches = dying


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[0] == "--die-on-rank":
        die_at_second_pass(int(argv[1]))
        argv = argv[2:]
    sys.exit(main(argv))
