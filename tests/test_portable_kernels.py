"""The two kernel sets of csrc/gf_cpu.h: AVX2 + FMA where the CPU has them, portable ones
otherwise or with GRADFIT_PORTABLE=1.

* The environment variable is honoured by both compiled modules, and "0" or "" leave the
  choice to the CPU.
* Every dispatched kernel (kernel_problems.py) gives the same fits both ways: float64 to 1e-9
  relative, float32 to float32 rounding; and the exact solver's float64 fits match
  numpy.linalg.lstsq (an independent reference) both ways.

CI also runs the kernel and solver tests under GRADFIT_PORTABLE=1 (.ci/run); there
test_reported_path_in_this_process checks that the switch really took effect.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kernel_problems as kp

HERE = Path(__file__).resolve().parent


@functools.cache
def _isa_with(value):
    env = dict(os.environ)
    env.pop("GRADFIT_PORTABLE", None)
    if value is not None:
        env["GRADFIT_PORTABLE"] = value
    code = "import kernel_problems as kp; print(kp.kernel_isa())"
    out = subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def _avx512_active():
    from gradfit import _normal

    return _normal._refine_isa() == "avx512f"


def _portable_requested():
    value = os.environ.get("GRADFIT_PORTABLE", "")
    return value not in ("", "0")


def test_reported_path_in_this_process():
    isa = kp.kernel_isa()
    assert isa in ("avx2-fma", "portable")
    if _portable_requested():
        assert isa == "portable"


def test_refinement_isa_follows_the_kernel_choice():
    from gradfit import _normal

    isa = _normal._refine_isa()
    assert isa in ("avx512f", "avx2-fma", "portable")
    if isa == "avx512f":
        assert kp.kernel_isa() == "avx2-fma"  # an AVX-512 CPU has AVX2; portable means neither
    else:
        assert isa == kp.kernel_isa()


@pytest.mark.skipif(not _avx512_active(), reason="the AVX-512 kernels do not run here")
def test_avx2_kernels_on_an_avx512_cpu(tmp_path):
    """GRADFIT_NO_AVX512 keeps the AVX2 kernels (Gram, refinement) where AVX-512 would run:
    their own tests run on them in a subprocess, and the fits agree with these."""
    env = dict(os.environ, GRADFIT_NO_AVX512="1")
    code = "from gradfit import _normal; print(_normal._refine_isa())"
    out = subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env, check=True,
                         capture_output=True, text=True)
    assert out.stdout.strip() == "avx2-fma"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                    str(HERE / "test_gram_pass.py"), str(HERE / "test_refinement.py"),
                    "-k", "gram_pass or refine_pass"],
                   cwd=HERE, env=env, check=True, capture_output=True)
    npz = tmp_path / "avx2.npz"
    subprocess.run([sys.executable, str(HERE / "kernel_problems.py"), str(npz)], cwd=HERE,
                   env=env, check=True, capture_output=True)
    loaded = np.load(npz)
    avx2 = {k: loaded[k] for k in loaded.files if k != "__isa__"}
    assert kp.compare(avx2, kp.run()) == {}


def test_environment_forces_portable():
    assert _isa_with("1") == "portable"


@pytest.mark.parametrize("value", ["0", ""])
def test_environment_zero_or_empty_leaves_cpu_choice(value):
    assert _isa_with(value) == _isa_with(None)


def test_portable_kernels_give_the_same_fits(tmp_path):
    env = dict(os.environ, GRADFIT_PORTABLE="1")
    out = tmp_path / "portable.npz"
    subprocess.run([sys.executable, str(HERE / "kernel_problems.py"), str(out)], cwd=HERE,
                   env=env, check=True, capture_output=True)
    loaded = np.load(out)
    assert str(loaded["__isa__"]) == "portable"
    portable = {k: loaded[k] for k in loaded.files if k != "__isa__"}
    here = kp.run()
    assert kp.compare(portable, here) == {}

    # Both agree with LAPACK's SVD least squares on the exact solver's float64 problems.
    for name, (_dtype, X, y, sw, _) in kp.problems().items():
        if not name.startswith("normal-noint-float64") or sw is not None:
            continue
        ref = np.linalg.lstsq(X, y, rcond=None)[0]
        for got in (portable[name], here[name]):
            np.testing.assert_allclose(got[:-1], ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
            assert got[-1] == 0.0
