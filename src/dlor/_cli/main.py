"""Entry point of the ``dlor`` command: ``dlor {reproduce,demo,info} ...``."""

from __future__ import annotations

import argparse
import sys

from .._errors import DLoRError
from . import demo, info, reproduce

SUBCOMMANDS = {"reproduce": reproduce, "demo": demo, "info": info}


class CLIError(Exception):
    """A user error the CLI reports as one line, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlor",
        description="Diagonal-plus-Low-Rank neural networks (arXiv 2605.05659).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in SUBCOMMANDS.items():
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (DLoRError, CLIError, FileNotFoundError, IsADirectoryError, PermissionError) as err:
        print(f"dlor {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dlor {args.command}: interrupted; finished results are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
