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
