"""``python -m tools.reference {train,ensemble,evaluate,gpu,steptime} [options]``; ``--help`` after a command lists its options."""

from __future__ import annotations

import sys

COMMANDS = {"train": "train the reference recipe (resumable)",
            "ensemble": "combine trained networks, choose the served form on validation",
            "evaluate": "measure a model once on the test split, publish it with its card",
            "gpu": "train + evaluate + export + card in one budgeted run, fast on one GPU",
            "steptime": "time the GPU mode's training step here, count its FLOPs per face"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        lines = "\n".join(f"  {name:9} {what}" for name, what in COMMANDS.items())
        print(f"usage: python -m tools.reference COMMAND [options]\n\ncommands:\n{lines}", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    import importlib

    module = importlib.import_module(f"tools.reference.{argv[0]}")
    module.main(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
