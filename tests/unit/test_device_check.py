"""scripts/device_check.py's table, built from two hand-made runs of the same suite."""

from __future__ import annotations

import importlib.util

import pytest

from benchmarks.metrics import keys as K
from benchmarks.workers import REPO_ROOT


@pytest.fixture(scope="module")
def device_check():
    spec = importlib.util.spec_from_file_location("device_check",
                                                  REPO_ROOT / "scripts" / "device_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(cell: str, *, status: str = "ok", device: str = "cpu", reason: str | None = None,
            **metrics: float) -> dict:
    env = {"device": device, **({"device_requested": "cuda:0", "device_reason": reason}
                                if reason else {})}
    base = {K.FID: 30.0, K.FID_AE: 150.0, K.PRECISION: 0.5, K.RECALL: 0.4, K.SPIKES: 100.0,
            K.SYNAPTIC_OPS: 2000.0, K.MACS: 10.0, K.NEURON_UPDATES: 500.0,
            K.TRAIN_SECONDS: 20.0}
    return {"cell_id": cell, "status": status, "metrics": {**base, **metrics},
            "op_counts": {"spikes": 1.0}, "env": env}


def test_rows_hold_speedups_differences_and_where_each_cell_ran(device_check):
    cpu = [_record("vae__mnist__seed0"), _record("stdp__mnist__seed0"),
           _record("gan__mnist__seed0")]
    gpu = [_record("vae__mnist__seed0", device="cuda:0", **{K.FID: 30.5, K.TRAIN_SECONDS: 4.0}),
           _record("stdp__mnist__seed0", reason="spyker has no CUDA"),
           _record("gan__mnist__seed0", device="cuda:0", **{K.SPIKES: 101.0})]
    rows = {r["cell"]: r for r in device_check.compare_records(cpu, gpu)}
    vae = rows["vae__mnist__seed0"]
    assert vae["speedup"] == pytest.approx(5.0) and vae["ran_on"] == "cuda:0"
    assert vae["diffs"][K.FID] == pytest.approx(0.5) and vae["diffs"][K.RECALL] == 0.0
    assert vae["counts_equal"] is True
    assert vae["largest"] == (K.FID, pytest.approx(0.5 / 30.0))  # train time is no model metric
    assert rows["gan__mnist__seed0"]["counts_equal"] is False
    assert rows["stdp__mnist__seed0"]["largest"] is None
    assert rows["vae__mnist__seed0"]["diffs"][K.RECON_MSE] is None  # neither side has it
    text = device_check.render(list(rows.values()), "cuda")
    assert "| vae__mnist__seed0 | ok / ok | cuda:0 | 20.0 / 4.0 | 5.00 | 0.5 |" in text
    assert "- stdp__mnist__seed0 ran on cpu: spyker has no CUDA" in text
    assert "**no**" in text


def test_a_cell_missing_or_failed_on_one_side_shows(device_check):
    rows = device_check.compare_records([_record("a"), _record("b")],
                                        [_record("a", status="failed")])
    assert [(r["cell"], r["status"]) for r in rows] == [("a", "ok / failed"),
                                                         ("b", "ok / missing")]
    assert rows[1]["speedup"] is None and rows[1]["largest"] is None
    text = device_check.render(rows, "cuda:1")
    assert "| b | ok / missing | ? |" in text


def test_cpu_against_cpu_is_all_zeros(device_check):
    records = [_record("a"), _record("b", **{K.FID: 12.0})]
    rows = device_check.compare_records(records, records)
    assert all(r["largest"] is None and r["counts_equal"] for r in rows)
    assert all(v == 0.0 for r in rows for v in r["diffs"].values() if v is not None)
    assert all(r["speedup"] == 1.0 for r in rows)


def test_the_script_runs_cpu_against_cpu_end_to_end(device_check, tmp_path, monkeypatch, capsys):
    """main() with its two runs made in this process on synthetic data (tests.fakes): the same
    suite twice on the CPU gives the same numbers, cell by cell."""
    import dataclasses

    from benchmarks.plan import select_cells
    from benchmarks.suites import load_suite
    from tests.fakes import TINY_ANN_GAN, TINY_ANN_VAE, run_suite, tiny_suite

    path = tmp_path / "check.toml"
    path.write_text(tiny_suite("check", TINY_ANN_VAE + "\n" + TINY_ANN_GAN))
    ran = []

    def run_here(suite_name, device, results_dir, extra=()):
        suite = dataclasses.replace(load_suite(suite_name), device=device)
        run_suite(suite, select_cells(suite), results_dir=results_dir, force=True)
        ran.append(device)
        return 0

    monkeypatch.setattr(device_check, "run_suite", run_here)
    code = device_check.main(["--device", "cpu", "--suite", str(path), "--work-dir",
                              str(tmp_path / "work")])
    out = capsys.readouterr().out
    assert code == 0 and ran == ["cpu", "cpu"]
    assert "| ann-vae__mnist__seed0 | ok / ok | cpu |" in out
    assert "| ann-gan__mnist__seed0 | ok / ok | cpu |" in out
    assert out.count("| yes | none |") == 2  # same op counts, no metric moved
