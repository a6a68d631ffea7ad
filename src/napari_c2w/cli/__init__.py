"""``napari-c2w``: command-line faces of the package's functions (one subcommand a module)."""

from __future__ import annotations

import argparse
import logging
import sys

from .. import __version__
from ..errors import C2WError

#: subcommand name -> module in this package defining ``add_parser(subparsers)``.
SUBCOMMANDS = {
    "phantom": "phantom_cmd",
    "import": "import_cmd",
    "export": "export_cmd",
    "review": "review_cmd",
    "report": "report_cmd",
    "predict": "predict_cmd",
    "check": "check_cmd",
    "adapt": "adapt_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="napari-c2w", description=__doc__.split(":", 1)[1].strip())
    parser.add_argument("--version", action="version", version=f"napari-c2w {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="print debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        importlib.import_module(f".{module}", __name__).add_parser(sub)
    for subparser in sub.choices.values():  # -v before or after the subcommand
        subparser.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="print debug messages"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        return int(args.func(args) or 0)
    except (C2WError, FileExistsError, ValueError) as err:
        print(f"napari-c2w {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # read-only or full output folders, unreadable inputs
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"napari-c2w {args.command}: error: {err.strerror or err}{where}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"napari-c2w {args.command}: interrupted; finished cases are kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
