"""The command line: demo, bench, crossover, --help, progress on stderr (``fit`` is in
test_cli_fit.py). Sizes are tiny so the whole file runs in seconds; nothing asserts on
timings."""
from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time

import pytest

from cli_util import assert_one_line_error, assert_png, run_cli, run_subprocess
from gradfit.cli import bench, crossover, demo

DEMO_SMALL = ("demo", "--rows", 2000, "--cols", 10)
DEMO_TINY = ("demo", "--rows", 500, "--cols", 5)
LABELS = [label for label, _ in demo.strategies(1.0, 2000)]
TOO_LARGE = "fixed 2.5/L (too large)"


def _row(stdout: str, label: str) -> list[str]:
    """The fields after ``label`` on its table row: iter, seconds, objective, rel. error,
    outcome words."""
    rows = [line for line in stdout.splitlines() if line.startswith(label + " ")]
    assert len(rows) == 1, f"{label!r}: {len(rows)} rows in\n{stdout}"
    return rows[0][len(label):].split()


def _no_matplotlib(monkeypatch):
    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)


# ----------------------------------------------------------------------------------- demo

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    pytest.importorskip("matplotlib")
    png = tmp_path_factory.mktemp("demo") / "convergence.png"
    status, out, err = run_cli(*DEMO_SMALL, "--plot", png)
    return status, out, err, png


def test_demo_exits_0_and_prints_every_strategy(demo_run):
    status, out, err, _ = demo_run
    assert status == 0, err
    assert "Traceback" not in err
    assert "2000 rows x 10 columns" in out
    assert "exact (solve_normal)" in out
    for label in LABELS:
        _row(out, label)  # exactly one row per strategy
    assert "f* =" in out


def test_demo_too_large_rate_diverges_and_only_it(demo_run):
    _, out, _, _ = demo_run
    assert "DIVERGED" in _row(out, TOO_LARGE)
    for label in LABELS:
        if label != TOO_LARGE:
            assert "DIVERGED" not in _row(out, label), label


def test_demo_converged_strategies_are_accurate(demo_run):
    _, out, _, _ = demo_run
    f_star = float(_row(out, "exact (solve_normal)")[2])
    assert f_star > 0
    converged = 0
    for label in LABELS:
        fields = _row(out, label)
        if fields[4:] != ["converged"]:
            continue
        converged += 1
        n_iter, objective, rel_error = int(fields[0]), float(fields[2]), float(fields[3])
        assert n_iter > 0, label
        if label.startswith("sgd"):  # SGD's promise: the objective within its tol, 1e-3
            assert 0 <= objective - f_star <= 1e-3 * f_star, (label, objective, f_star)
            continue
        assert rel_error < 1e-5, (label, rel_error)
        assert abs(objective - f_star) <= 1e-8 * f_star, (label, objective, f_star)
    # the well-behaved strategies of the lecture converge on this cond-100 problem
    for label in ("fixed 1/L", "lipschitz", "exact line search", "barzilai-borwein",
                  "nesterov 0.5/L", "fista"):
        assert _row(out, label)[4:] == ["converged"], label
    assert converged >= 6


def test_demo_plot_writes_a_png(demo_run):
    _, out, _, png = demo_run
    assert_png(png)
    assert f"wrote {png}" in out


def test_demo_plot_without_matplotlib_prints_table_then_exits_2(monkeypatch, tmp_path):
    _no_matplotlib(monkeypatch)
    png = tmp_path / "c.png"
    status, out, err = run_cli(*DEMO_TINY, "--plot", png)
    assert_one_line_error(status, err, "demo", "pip install", "matplotlib")
    for label in LABELS:  # the table is complete anyway
        _row(out, label)
    assert "f* =" in out
    assert not png.exists()
    assert "wrote" not in out


def test_demo_plot_to_unwritable_path_exits_2(tmp_path):
    pytest.importorskip("matplotlib")
    status, out, err = run_cli(*DEMO_TINY, "--plot", tmp_path / "no" / "such" / "dir.png")
    assert_one_line_error(status, err, "demo", "cannot write")
    assert "f* =" in out


@pytest.mark.parametrize("args", [("--rows", 0), ("--cols", -3), ("--cond", "abc"),
                                  ("--cond", "inf"), ("--tol", 0), ("--max-iter", "x")])
def test_demo_bad_options_exit_2(args):
    status, out, err = run_cli("demo", *args)
    assert status == 2
    assert "Traceback" not in err
    assert "error:" in err and out == ""


@pytest.mark.parametrize("rows, cols", [(20, 3), (5, 10), (1, 1)])
def test_demo_small_problems_do_not_crash(rows, cols):
    """Fewer rows than the SGD rows' batch of 32 (or a single row): a table, or a one-line
    error; never a traceback."""
    status, out, err = run_cli("demo", "--rows", rows, "--cols", cols)
    assert "Traceback" not in err, err
    assert status in (0, 2), (status, err)
    if status == 2:
        assert_one_line_error(status, err, "demo")


# ---------------------------------------------------------------------------------- bench

def test_bench_tiny_sizes_print_a_table():
    status, out, err = run_cli("bench", "--quick", "--sizes", "200x5,500x10", "--repeat", 1)
    assert status == 0, err
    assert "Traceback" not in err
    assert out.startswith("gradfit bench")
    assert re.search(r"^what\s+size\s+numpy\s+gradfit\s+speed-up", out, re.M), out
    for what in ("exact solve", "GD iteration"):
        for size in ("200x5", "500x10"):
            assert re.search(rf"^{what}\s+{size}\s+\S+ms\s+\S+ms\s+\S+x", out, re.M), \
                (what, size, out)
    assert "speed-up = numpy / gradfit" in out


@pytest.mark.parametrize("sizes", ["abc", "200", "200x", "x5", "200x5x3", "200x5,", "2e2x5",
                                   "0x5", "-5x3", "200x0"])
def test_bench_malformed_sizes_exit_2(sizes):
    status, out, err = run_cli("bench", "--quick", f"--sizes={sizes}", "--repeat", 1)
    assert_one_line_error(status, err, "bench", "--sizes")


def test_bench_empty_sizes_exit_2(monkeypatch):
    """An explicit but empty --sizes (say, an unset shell variable) is malformed too; it
    must not silently fall back to the default sizes (minutes)."""
    monkeypatch.setattr(bench, "QUICK_SIZES", [(60, 3)])
    monkeypatch.setattr(bench, "FULL_SIZES", [(60, 3)])
    status, out, err = run_cli("bench", "--quick", "--sizes=", "--repeat", 1)
    assert_one_line_error(status, err, "bench", "--sizes")


@pytest.mark.parametrize("repeat", ["-1", "abc"])
def test_bench_bad_repeat_exit_2(repeat):
    status, out, err = run_cli("bench", "--quick", "--sizes", "60x3", f"--repeat={repeat}")
    assert "Traceback" not in err, err
    assert status == 2


# ------------------------------------------------------------------------------ crossover

def _check_crossover_table(out: str, sizes) -> None:
    assert out.startswith("gradfit crossover")
    assert "relative error 0.0001" in out
    for n in sizes:
        assert re.search(rf"^\s+{n}\s+{4 * n}\s+[\d.]+\s+[\d.]+\s+\d+\s+(exact|GD)$", out,
                         re.M), (n, out)
    last = out.strip().splitlines()[-1] if "wrote" not in out else \
        out.strip().splitlines()[-2]
    assert last.startswith("no crossing in this range") or \
        re.match(r"the lines cross near n = \d+", last), last


def test_crossover_runs_and_prints_a_table():
    status, out, err = run_cli("crossover", "--sizes", "20,40", "--accuracy", "1e-4")
    assert status == 0, err
    assert "Traceback" not in err
    _check_crossover_table(out, (20, 40))


def test_crossover_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "crossover.png"
    status, out, err = run_cli("crossover", "--sizes", "20,40", "--accuracy", "1e-4",
                               "--plot", png)
    assert status == 0, err
    _check_crossover_table(out, (20, 40))
    assert_png(png)
    assert f"wrote {png}" in out


def test_crossover_plot_without_matplotlib_exits_2(monkeypatch, tmp_path):
    _no_matplotlib(monkeypatch)
    status, out, err = run_cli("crossover", "--sizes", "20,40", "--accuracy", "1e-4",
                               "--plot", tmp_path / "c.png")
    assert_one_line_error(status, err, "crossover", "pip install")
    _check_crossover_table(out, (20, 40))


@pytest.mark.parametrize("sizes", ["abc", "0", "-3", "20,,40", "20.5", "20,", "20;40"])
def test_crossover_bad_sizes_exit_2(sizes):
    status, out, err = run_cli("crossover", f"--sizes={sizes}")
    assert_one_line_error(status, err, "crossover", "--sizes")
    assert out == ""


def test_crossover_empty_sizes_exit_2(monkeypatch):
    """--sizes= (empty) is malformed: no silent fall-back to the default sizes (minutes)."""
    monkeypatch.setattr(crossover, "DEFAULT_SIZES", [10])
    monkeypatch.setattr(crossover, "LARGE_SIZES", [10])
    status, out, err = run_cli("crossover", "--sizes=", "--accuracy", "1e-3")
    assert_one_line_error(status, err, "crossover", "--sizes")


# ----------------------------------------------------------------------------------- help

@pytest.mark.parametrize("command", ["demo", "fit", "predict", "bench", "crossover"])
def test_command_help_shows_examples(command):
    status, out, err = run_cli(command, "--help")
    assert status == 0
    assert err == ""
    assert f"usage: gradfit {command}" in out
    assert "examples" in out
    assert f"gradfit {command}" in out.split("examples", 1)[1]
    assert "--quiet" in out


def test_top_level_help_lists_commands_and_examples():
    for argv in ((), ("--help",)):
        status, out, err = run_cli(*argv)
        assert status == 0 and err == ""
        assert "examples" in out
        for command in ("demo", "fit", "predict", "bench", "crossover"):
            assert command in out


def test_unknown_command_exits_2():
    status, out, err = run_cli("frobnicate")
    assert status == 2
    assert "Traceback" not in err and "invalid choice" in err


# ----------------------------------------------------------- progress, --quiet and piping

def test_demo_piped_stderr_is_silent():
    """stderr a pipe (not a terminal): a successful run writes nothing there."""
    proc = run_subprocess(*DEMO_TINY)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    for label in LABELS:
        _row(proc.stdout, label)


def test_quiet_error_still_reported(tmp_path):
    status, out, err = run_cli("fit", tmp_path / "missing.csv", "--target", "y", "--quiet")
    assert_one_line_error(status, err, "fit", "missing.csv")


def _run_with_terminal_stderr(*argv) -> tuple[int, str, bytes]:
    """Run ``python -m gradfit argv`` with stderr on a pseudo-terminal; returns the exit
    status, stdout and everything written to the terminal."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "gradfit", *map(str, argv)],
                                stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        chunks = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # drain the terminal until the child closes it
            if not select.select([master], [], [], 1.0)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        stdout = proc.stdout.read().decode()
        proc.wait(timeout=120)
    finally:
        os.close(master)
    return proc.returncode, stdout, b"".join(chunks)


def test_progress_on_a_terminal_and_quiet_silences_it():
    status, out, tty = _run_with_terminal_stderr(*DEMO_TINY)
    assert status == 0
    assert b"demo [" in tty  # the progress bar, on a terminal only
    assert "demo [" not in out

    status, out, tty = _run_with_terminal_stderr(*DEMO_TINY, "--quiet")
    assert status == 0
    assert tty == b""
    for label in LABELS:
        _row(out, label)
