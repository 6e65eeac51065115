"""Helpers shared by the command-line tests (test_cli.py, test_cli_fit.py)."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
import warnings

from gradfit.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(*argv) -> tuple[int, str, str]:
    """``gradfit.cli.main(argv)`` in this process: (exit status, stdout, stderr).

    Warnings are shown as the interpreter would show them on stderr (they are part of what a
    user sees), an uncaught exception becomes status 1 with its traceback on stderr, and
    argparse's SystemExit becomes its status — so every test can assert on what a user of
    ``python -m gradfit`` would see."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings(record=True) as caught:
        _python_default_filters()
        try:
            status = main([str(a) for a in argv])
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:  # what a user would see: a traceback and status 1
            status = 1
            err.write(traceback.format_exc())
    shown = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
                    for w in caught)
    return status, out.getvalue(), err.getvalue() + shown


def _python_default_filters() -> None:
    """The warning filters of a plain ``python -m gradfit`` (not pytest's)."""
    warnings.resetwarnings()
    warnings.simplefilter("default")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                     ResourceWarning):
        warnings.simplefilter("ignore", category)


def run_subprocess(*argv, **kwargs) -> subprocess.CompletedProcess:
    """``python -m gradfit argv`` in a child process, stdout and stderr captured (pipes: not
    terminals)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run([sys.executable, "-m", "gradfit", *map(str, argv)],
                          capture_output=True, text=True, env=env, timeout=120, **kwargs)


def assert_one_line_error(status: int, err: str, command: str, *fragments: str) -> str:
    """Exit status 2, exactly one line on stderr, no traceback, the line starts with
    'gradfit COMMAND: error:' and contains every fragment. Returns the line."""
    assert "Traceback" not in err, err
    assert status == 2, (status, err)
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0]
    assert line.startswith(f"gradfit {command}: error:"), line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def assert_png(path) -> None:
    with open(path, "rb") as fh:
        data = fh.read()
    assert len(data) > len(PNG_SIGNATURE) + 25, len(data)
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 0 and height > 0
