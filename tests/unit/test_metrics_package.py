"""The package root re-exports the public API lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import benchmarks.metrics as metrics


def test_every_export_resolves():
    for name in metrics.__all__:
        assert getattr(metrics, name) is not None, name
    with pytest.raises(AttributeError, match="no_such_thing"):
        metrics.no_such_thing  # noqa: B018


def test_reading_the_keys_imports_no_torch_fidelity():
    code = ("import sys; from benchmarks.metrics import keys; "
            "print(keys.FID, 'torch_fidelity' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.split() == ["fid", "False"]
