"""The smoke suite end to end on the real data: records, tables, figures, determinism."""

from __future__ import annotations

import json

import pytest

import adapters
from benchmarks.__main__ import main
from benchmarks.execute import isolated_python
from benchmarks.metrics import keys as K
from benchmarks.suites import load_suite

pytestmark = pytest.mark.slow


def _metrics(results, suite="smoke"):
    """Metrics of the ok cells; a failed cell fails the test, a skipped one (a backend whose
    environment is absent: conversion without .tox/conversion) is left out."""
    out = {}
    for path in sorted((results / suite / "records").glob("*.json")):
        record = json.loads(path.read_text())
        assert record["status"] in ("ok", "skipped"), record["error"]
        if record["status"] == "ok":
            out[record["cell_id"]] = record["metrics"]
    return out


def test_smoke_suite_runs_end_to_end_and_reproduces_itself(tmp_path, capsys):
    results = tmp_path / "results"
    assert main(["run", "--suite", "smoke", "--results-dir", str(results), "--json"]) == 0
    first = _metrics(results)
    expected = {f"{e.label}__mnist__seed0" for e in load_suite("smoke").entries
                if not adapters.missing_libraries(e.adapter)
                or isolated_python(adapters.backend_of(e.adapter)) is not None}
    assert {"ann-vae__mnist__seed0", "surrogate-vae__mnist__seed0"} <= expected
    assert set(first) == expected
    vae = first["ann-vae__mnist__seed0"]
    # One epoch on 2,000 images is far from real data (it need not beat noise: blur scores badly).
    assert 0 < vae[K.FID_DATA_FLOOR] < vae[K.FID] and vae[K.FID_NOISE_CEILING] > 0
    assert vae[K.FEATURE_NET_ACCURACY] >= 0.99
    # 16 Adam steps: better than a constant grey image (MSE ≈ 0.23 on MNIST), not yet good.
    assert 0 < vae[K.RECON_MSE] < 0.22
    for cid, metrics in first.items():  # every backend: spikes where spiking, none where not
        spiking = not cid.startswith("ann-")
        assert (metrics[K.SPIKES] > 0) == spiking, cid
    tables = results / "smoke" / "tables"
    assert {p.name for p in tables.iterdir()} >= {"summary.md", "summary.tex", "summary.csv"}
    assert "ann-vae" in (tables / "summary.md").read_text()

    # Same suite, seed and machine: the same numbers, bit for bit.
    assert main(["run", "--suite", "smoke", "--results-dir", str(results), "--force",
                 "--no-tables"]) == 0
    second = _metrics(results)
    for cid, metrics in first.items():
        for key in (K.FID, K.KID, K.PRECISION, K.RECALL, K.RECON_MSE, K.MACS, K.ENERGY_NJ,
                    K.SPIKES):
            assert second[cid].get(key) == metrics.get(key), (cid, key)
