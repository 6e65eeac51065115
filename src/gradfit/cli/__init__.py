"""``gradfit`` / ``python -m gradfit``: demo, fit, bench and crossover commands.

User errors (bad files, bad options) print one line on stderr and exit with status 2; no
traceback. Progress goes to stderr, only when it is a terminal, and ``--quiet`` silences it.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from ..errors import DivergenceError, IllConditionedError
from ._common import UserError

EPILOG = """examples:
  gradfit demo                          every step-size strategy compared on a synthetic problem
  gradfit demo --plot convergence.png   ... and the convergence picture
  gradfit fit data.csv --target price   least squares on a CSV file with a header row
  gradfit bench --quick                 gradfit against NumPy code on this machine
  gradfit crossover                     where the normal equation stops being the right tool
"""


def _one_line_warning(message, category, *args, **kwargs) -> str:
    return f"gradfit: {category.__name__}: {message}\n"


def build_parser() -> argparse.ArgumentParser:
    from . import bench, crossover, demo, fitcsv

    parser = argparse.ArgumentParser(
        prog="gradfit", description="Linear least squares, exact and by gradient descent.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (demo, fitcsv, bench, crossover):
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.__doc__,
                           epilog=module.EXAMPLE,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--quiet", action="store_true", help="no progress output on stderr")
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        with warnings.catch_warnings():
            warnings.formatwarning = _one_line_warning
            return args.run(args) or 0
    except (UserError, DivergenceError, IllConditionedError) as exc:
        print(f"gradfit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradfit: interrupted", file=sys.stderr)
        return 130
