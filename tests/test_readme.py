"""The README's Python examples run as written (so they cannot rot), and its test command is
the one .ci/run runs."""
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, capsys):
    if "gradfit.dask" in BLOCKS[index]:  # the optional extra
        pytest.importorskip("dask.array")
        pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an example that warns is a bad example
        exec(compile(BLOCKS[index], f"README block {index}", "exec"), {})
    assert capsys.readouterr().out.strip()


def test_ci_runs_the_readme_test_command():
    command = re.search(r'pip install "\.\[test\]" && (python -m pytest[^`\n]*)', README)
    assert command, "the README's test command was not found"
    assert command.group(1).strip() in (ROOT / ".ci" / "run").read_text()


# ----------------------------------------------------- the command-line session, as shown
CONSOLE = re.findall(r"```console\n(.*?)```", README, re.S)


def _session(block: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for each '$ ' line of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def _same_line(actual: str, expected: str) -> bool:
    """Equal, but for numbers (to 1e-6: last digits may differ between BLAS builds) and the
    time a fit took (the number before 's')."""
    a, e = re.split(r"[\s,]+", actual), re.split(r"[\s,]+", expected)  # CSV lines too
    if len(a) != len(e):
        return False
    for i, (x, y) in enumerate(zip(a, e, strict=True)):
        if x == y or (i + 1 < len(e) and e[i + 1] == "s"):
            continue
        try:
            if abs(float(x) - float(y)) > 1e-6 * abs(float(y)) + 1e-12:
                return False
        except ValueError:
            return False
    return True


def test_readme_has_a_command_line_session():
    assert len(CONSOLE) == 1
    commands = [command for command, _ in _session(CONSOLE[0])]
    fit = next(c for c in commands if "--save" in c)
    for option in ("--categorical", "--dropna", "--save"):
        assert option in fit
    assert any(c.startswith("gradfit predict") for c in commands)


def test_readme_command_line_session_runs_as_shown(tmp_path, monkeypatch):
    """Each command of the README's console block, in a fresh directory, prints what the
    README shows (stdout and stderr together) and exits 0, or 2 when it shows an error.
    gradfit commands run in this process (``gradfit.cli.main``, what the script runs), the
    others in a shell."""
    import shlex
    import subprocess
    import sys

    from cli_util import run_cli
    monkeypatch.chdir(tmp_path)
    for command, expected in _session(CONSOLE[0]):
        if command.startswith("gradfit "):
            status, out, err = run_cli(*shlex.split(command)[1:])
        else:
            if command.startswith("python "):
                command = f"{sys.executable} {command[len('python '):]}"
            proc = subprocess.run(command, shell=True, capture_output=True, text=True,
                                  timeout=300)
            status, out, err = proc.returncode, proc.stdout, proc.stderr
        output = (out + err).splitlines()
        error = any(": error:" in line for line in expected)
        assert status == (2 if error else 0), (command, out, err)
        assert len(output) == len(expected), (command, output)
        for got, want in zip(output, expected, strict=True):
            assert _same_line(got, want), (command, got, want)
