"""``python -m evaluator CKPT --task ...``: ``rzoo eval`` for launchers such as torchrun.

    torchrun --nproc_per_node 8 -m evaluator CKPT --task ade20k-c --data-root DIR --out r.json

Every rank evaluates its part of each shard; rank 0 writes the results and prints the table.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from zoo.cli import app

    args = list(sys.argv[1:] if argv is None else argv)
    app(["eval", *args], prog_name="python -m evaluator")


if __name__ == "__main__":
    main()
