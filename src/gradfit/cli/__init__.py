"""``gradfit`` / ``python -m gradfit``: demo, fit, predict, bench and crossover commands.

Exit status: 0 success (warnings, such as a fit that did not converge, allowed), 1 the fit
failed (gradient descent diverged), 2 usage or data errors (bad options, unreadable or
malformed files); each error is one line on stderr, no traceback. Output to a pipe that
closes early (``gradfit demo | head -3``) ends quietly, with status 141 (128 + SIGPIPE,
as other Unix commands). Progress goes to stderr, only when
it is a terminal, and ``--quiet`` silences it.

The command modules import only NumPy and gradfit at module level: scikit-learn, pandas
and matplotlib are imported when a command needs them, so that ``--help`` is fast.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from ._common import FitFailed, UserError

EPILOG = """examples:
  gradfit demo                          every step-size strategy compared on a synthetic problem
  gradfit demo --plot convergence.png   ... and the convergence picture
  gradfit fit data.csv --target price   least squares on a CSV file with a header row
  gradfit fit data.csv --target price --categorical town --dropna --save model.json
  gradfit predict model.json new.csv --out predictions.csv
  gradfit bench --quick                 gradfit against NumPy code on this machine
  gradfit crossover                     where the normal equation stops being the right tool

exit status:
  0  success (warnings allowed, e.g. a fit that stopped at --max-iter)
  1  the fit failed (gradient descent diverged)
  2  usage or data error (bad options; unreadable, malformed or non-numeric data)
  141  standard output closed early (`gradfit demo | head -3`), as other commands killed
     by SIGPIPE; nothing is printed
"""
COMMANDS = ("demo", "fitcsv", "predict", "bench", "crossover")


def _one_line_warning(message, category, *args, **kwargs) -> str:
    return f"gradfit: {category.__name__}: {message}\n"


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="gradfit", description="Linear least squares, exact and by gradient descent.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f".{name}", __name__)
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
    from ..errors import DivergenceError, IllConditionedError
    try:
        with warnings.catch_warnings():
            saved = warnings.formatwarning
            warnings.formatwarning = _one_line_warning
            try:
                status = args.run(args) or 0
            finally:
                warnings.formatwarning = saved
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except UserError as exc:
        print(f"gradfit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (FitFailed, DivergenceError, IllConditionedError) as exc:
        print(f"gradfit {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`gradfit demo | head -3`): stop quietly. Python would
        # report the unflushed rest at exit, so standard output now points at devnull.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 141  # as a process killed by SIGPIPE: 128 + 13
    except KeyboardInterrupt:
        print("gradfit: interrupted", file=sys.stderr)
        return 130
