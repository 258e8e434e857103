"""scripts/cpu_budget_estimate.py: the README's table of the full suite's CPU time per cell."""

from __future__ import annotations

import importlib.util

import pytest

from benchmarks.suites import load_suite
from benchmarks.workers import REPO_ROOT


@pytest.fixture(scope="module")
def budget():
    spec = importlib.util.spec_from_file_location(
        "cpu_budget_estimate", REPO_ROOT / "scripts" / "cpu_budget_estimate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _quick(adapter: str, dataset: str, train: float, epochs: int, **config) -> dict:
    return {"status": "ok", "seed": 0, "adapter": {"label": adapter, "config": config},
            "dataset": {"name": dataset}, "fit": {"epochs": epochs, "extra": {}},
            "timing": {"train_seconds": train, "sample_seconds": 2.0, "recon_seconds": 3.0,
                       "eval_seconds": 5.0}}


def test_an_estimate_scales_the_epoch_time_and_t(budget):
    quick = budget.quick_profile([_quick("surrogate-vae", "mnist", 60.0, 6, timesteps=8),
                                  _quick("surrogate-vae", "mnist", 120.0, 6, timesteps=8)])
    profile = quick[("surrogate-vae", "mnist")]
    assert profile["per_epoch"] == 15.0
    seconds = budget.estimate("surrogate-vae", {"epochs": 100, "timesteps": 16}, profile)
    assert seconds == pytest.approx((15.0 * 100 + 10.0) * 2)
    assert budget.estimate("surrogate-vae", {"epochs": 100, "timesteps": 16,
                                             "architecture": "conv"}, profile) is None


def test_the_table_covers_every_full_row(budget, capsys):
    assert budget.main([]) == 0
    out = capsys.readouterr().out
    for entry in load_suite("full").entries:
        assert f"| `{entry.label}` |" in out
    assert "measured (full, seed 0)" in out and "estimated from quick" in out
    assert "CPU hours" in out
