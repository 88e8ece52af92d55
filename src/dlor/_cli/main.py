"""Entry point of the ``dlor`` command: ``dlor {reproduce,demo,info} ...``."""

from __future__ import annotations

import argparse
import sys

from .._errors import DLoRError
from .._options import OneLineParser
from . import CLIError, construct, decompose, demo, info, lm, pieces, reproduce

SUBCOMMANDS = {
    "reproduce": reproduce,
    "decompose": decompose,
    "construct": construct,
    "pieces": pieces,
    "lm": lm,
    "demo": demo,
    "info": info,
}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="dlor",
        description="Diagonal-plus-Low-Rank neural networks (arXiv 2605.05659).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS.values():
        module.add_parser(sub)
    return parser


def _version() -> str:
    """This installation's version, from the package metadata."""
    import dlor

    return dlor.__version__


def _prog(args) -> str:
    """``dlor COMMAND`` (``dlor lm train``) for the messages."""
    return " ".join(["dlor", args.command] + ([args.lm_command] if getattr(args, "lm_command", None) else []))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (DLoRError, CLIError, FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError) as err:
        message = " ".join(str(err).split())  # always one line
        print(f"{_prog(args)}: error: {message}", file=sys.stderr)
        return 2
    except (OverflowError, FloatingPointError) as err:  # a value the checks let through overflowed the arithmetic
        print(f"{_prog(args)}: error: the computation overflowed ({err}); use smaller values", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{_prog(args)}: interrupted; finished results are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
