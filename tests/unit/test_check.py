"""The metric regression check: tolerances, directions, findings, the baseline file, and the CLI on
tiny real runs (an unchanged run passes; a run with corrupted weights fails, naming the metric)."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

import adapters
from adapters.ann import AnnVAE
from benchmarks import check
from benchmarks import records as rec
from benchmarks.__main__ import main
from benchmarks.metrics import keys as K
from benchmarks.plan import select_cells
from benchmarks.suites import load_suite
from tests.fakes import TINY_ANN_VAE, FakeContext, run_suite, tiny_suite

SUITE_NAME = "unit-check"


def _record(label: str, seed: int, metrics: dict[str, float | None], *, dataset: str = "mnist",
            status: str = "ok", config_hash: str = "h0", suite: str = SUITE_NAME,
            feature_net: str | None = None) -> dict[str, Any]:
    return {
        "schema_version": rec.SCHEMA_VERSION, "suite": suite,
        "cell_id": rec.cell_id(label, dataset, seed), "config_hash": f"{config_hash}-{seed}",
        "adapter": {"label": label, "name": label, "backend": "ann", "family": "vae", "config": {}},
        "dataset": {"name": dataset}, "seed": seed, "status": status,
        "error": None if status == "ok" else {"type": "RuntimeError", "message": "boom"},
        "metrics": metrics if status == "ok" else {k: None for k in metrics},
        "metric_config": {"feature_net_weights_sha256": feature_net}, "op_counts": None,
        "fit": None, "timing": {},
        "env": {"git": "abc1234"}, "artifacts": {},
    }


def _pair(values0: dict[str, float], values1: dict[str, float], **kw: Any) -> list[dict[str, Any]]:
    return [_record("vae", 0, values0, **kw), _record("vae", 1, values1, **kw)]


BASE = _pair({K.FID: 50.0, K.PRECISION: 0.60, K.MACS: 274432.0, K.TRAIN_SECONDS: 3.0},
             {K.FID: 52.0, K.PRECISION: 0.62, K.MACS: 274432.0, K.TRAIN_SECONDS: 9.0})


def _fresh(fid: float = 51.0, precision: float = 0.61, macs: float = 274432.0,
           **kw: Any) -> list[dict[str, Any]]:
    return _pair({K.FID: fid, K.PRECISION: precision, K.MACS: macs},
                 {K.FID: fid, K.PRECISION: precision, K.MACS: macs}, **kw)


# ------------------------------------------------------------------------------------------
# Tolerances


def test_tolerance_is_the_largest_of_spread_and_floors():
    # FID 50, 52: std = sqrt(2) = 1.4142, 3·std = 4.243 < 10 % of 51 = 5.1 (> abs floor 0.5)
    assert check.tolerance(K.FID, 51.0, math.sqrt(2)) == (pytest.approx(5.1), "rel_floor")
    # FID 40, 50: std = sqrt(50) = 7.071, 3·std = 21.21 > 4.5
    assert check.tolerance(K.FID, 45.0, math.sqrt(50)) == (pytest.approx(21.2132, abs=1e-4),
                                                           "k_sigma")
    # an ANN's MACs are equal over seeds: std 0, relative 1e-6·274432 = 0.27 < half an op
    assert check.tolerance(K.MACS, 274432.0, 0.0) == (0.5, "abs_floor")
    # precision has no relative floor: 0.05 absolute; a single seed has no std
    assert check.tolerance(K.PRECISION, 0.61, None) == (0.05, "abs_floor")
    with pytest.raises(ValueError, match="not checked"):
        check.tolerance(K.TRAIN_SECONDS, 1.0, 0.1)


def test_every_checked_metric_has_a_floor_and_machine_metrics_are_not_checked():
    directed = {k for k, s in K.METRICS.items() if s.higher_is_better is not None}
    assert set(check.CHECKED) == directed - set(check.UNCHECKED) == set(check.FLOORS)
    assert {K.FID, K.KID, K.RECON_MSE, K.RECON_BCE, K.SPIKES, K.SYNAPTIC_OPS, K.MACS,
            K.ENERGY_NJ, K.PRECISION, K.RECALL} <= set(check.CHECKED)
    assert K.TRAIN_SECONDS not in check.CHECKED and K.TIMESTEPS not in check.CHECKED


def test_floors_come_from_the_metric_declarations(monkeypatch):
    assert check.FLOORS[K.FID] == K.spec(K.FID).floor == K.Floor(rel=0.10, abs=0.5)
    declared = dict(K.METRICS)
    declared[K.FID] = dataclasses.replace(K.METRICS[K.FID], floor=K.Floor(rel=0.0, abs=7.0))
    monkeypatch.setattr(K, "METRICS", declared)
    assert check.tolerance(K.FID, 51.0, math.sqrt(2)) == (7.0, "abs_floor")
    fid = check.build_baseline(BASE, SUITE_NAME)["groups"]["vae__mnist"]["metrics"][K.FID]
    assert (fid["tolerance"], fid["rel_floor"], fid["abs_floor"]) == (7.0, 0.0, 7.0)


def test_a_metric_is_checked_only_for_the_families_it_applies_to(monkeypatch):
    declared = dict(K.METRICS)
    declared[K.PRECISION] = dataclasses.replace(K.METRICS[K.PRECISION],
                                                families=frozenset({"gan"}))
    monkeypatch.setattr(K, "METRICS", declared)
    metrics = check.build_baseline(BASE, SUITE_NAME)["groups"]["vae__mnist"]["metrics"]
    assert K.FID in metrics and K.PRECISION not in metrics  # BASE's family is "vae"


def test_baseline_holds_stats_values_tolerances_and_config_hashes():
    base = check.build_baseline(BASE, SUITE_NAME)
    assert base["suite"] == SUITE_NAME and base["schema_version"] == 1 and base["created"]
    group = base["groups"]["vae__mnist"]
    assert group["cells"] == {"0": {"cell_id": "vae__mnist__seed0", "config_hash": "h0-0"},
                              "1": {"cell_id": "vae__mnist__seed1", "config_hash": "h0-1"}}
    fid = group["metrics"][K.FID]
    assert fid["mean"] == 51.0 and fid["std"] == pytest.approx(math.sqrt(2)) and fid["n"] == 2
    assert fid["values"] == {"0": 50.0, "1": 52.0}
    assert fid["tolerance"] == pytest.approx(5.1) and fid["tolerance_from"] == "rel_floor"
    assert fid["higher_is_better"] is False
    assert group["metrics"][K.MACS]["tolerance"] == 0.5
    assert group["metrics"][K.PRECISION]["higher_is_better"] is True
    assert K.TRAIN_SECONDS not in group["metrics"]  # machine-dependent: not checked
    assert K.RECON_MSE not in group["metrics"]  # not reported: not applicable


def test_a_single_seed_has_no_std_and_takes_the_floors():
    base = check.build_baseline([_record("vae", 0, {K.FID: 40.0})], SUITE_NAME)
    fid = base["groups"]["vae__mnist"]["metrics"][K.FID]
    assert fid["std"] is None and fid["n"] == 1 and fid["tolerance"] == pytest.approx(4.0)


def test_baseline_refuses_failed_missing_and_foreign_cells():
    with pytest.raises(ValueError, match=r"vae__mnist__seed1 \(failed: RuntimeError: boom\)"):
        check.build_baseline([BASE[0], _record("vae", 1, {K.FID: 1.0}, status="failed")],
                             SUITE_NAME)
    with pytest.raises(ValueError, match=r"\['vae__mnist__seed2'\].*no record"):
        check.build_baseline(BASE, SUITE_NAME, expected_cells=[r["cell_id"] for r in BASE]
                             + ["vae__mnist__seed2"])
    with pytest.raises(ValueError, match="suite"):
        check.build_baseline(BASE, "ci")
    with pytest.raises(ValueError, match="no records"):
        check.build_baseline([], SUITE_NAME)


def test_a_pooled_baseline_takes_every_runs_seeds_and_names_its_runs():
    other_cpu = _pair({K.FID: 60.0, K.PRECISION: 0.40, K.MACS: 274432.0},
                      {K.FID: 62.0, K.PRECISION: 0.42, K.MACS: 274432.0})
    for r in other_cpu:
        r["env"] = {"git": "abc1234", "cpu": "Intel Xeon"}
    base = check.build_baseline(BASE, SUITE_NAME, pool=[other_cpu])
    fid = base["groups"]["vae__mnist"]["metrics"][K.FID]
    # 50, 52, 60, 62: mean 56, sample std sqrt((36 + 16 + 16 + 36) / 3) = 5.888, 3·std = 17.66
    assert fid["values"] == {"0": 50.0, "1": 52.0, "0#1": 60.0, "1#1": 62.0}
    assert fid["mean"] == 56.0 and fid["n"] == 4
    assert fid["std"] == pytest.approx(math.sqrt(104 / 3))
    assert fid["tolerance"] == pytest.approx(3 * math.sqrt(104 / 3))
    assert fid["tolerance_from"] == "k_sigma"
    assert base["groups"]["vae__mnist"]["cells"]["1"]["config_hash"] == "h0-1"
    assert base["runs"] == [{"cells": 2, "cpu": ["unknown"], "git": ["abc1234"]},
                            {"cells": 2, "cpu": ["Intel Xeon"], "git": ["abc1234"]}]
    # each machine's own run passes against the pooled band; without pooling the other fails
    assert check.compare(base, other_cpu).passed and check.compare(base, BASE).passed
    assert not check.compare(check.build_baseline(BASE, SUITE_NAME), other_cpu).passed
    assert "runs" not in check.build_baseline(BASE, SUITE_NAME)
    assert "0#1: 60" in check.render_baseline(base)


def test_a_pooled_run_must_be_complete_and_of_the_same_configs():
    with pytest.raises(ValueError, match=r"pooled run 1.*vae__mnist__seed1 \(failed"):
        check.build_baseline(BASE, SUITE_NAME,
                             pool=[[BASE[0], _record("vae", 1, {K.FID: 1.0}, status="failed")]])
    with pytest.raises(ValueError, match=r"pooled run 1 has other cells.*only in the first "
                                         r"\['vae__mnist__seed1'\]"):
        check.build_baseline(BASE, SUITE_NAME, pool=[BASE[:1]])
    with pytest.raises(ValueError, match=r"pooled run 1 ran other configs.*h0-0 vs h9-0"):
        check.build_baseline(BASE, SUITE_NAME, pool=[_pair({K.FID: 1.0}, {K.FID: 1.0},
                                                           config_hash="h9")])


# ------------------------------------------------------------------------------------------
# Comparing


def _compare(fresh: list[dict[str, Any]]) -> check.CheckResult:
    return check.compare(check.build_baseline(BASE, SUITE_NAME), fresh)


def test_within_tolerance_passes():
    result = _compare(_fresh(fid=56.0, precision=0.57))  # 51 + 5.1 and 0.61 - 0.05 not crossed
    assert result.passed and not result.findings
    assert {v.metric: v.verdict for v in result.verdicts} == {
        K.FID: "ok", K.PRECISION: "ok", K.MACS: "ok"}


def test_lower_is_better_regression_is_detected_and_named():
    result = _compare(_fresh(fid=56.2))  # 51 + 5.1 = 56.1
    assert not result.passed
    (finding,) = result.failures
    assert (finding.kind, finding.label, finding.dataset, finding.metric) == \
        ("regression", "vae", "mnist", K.FID)
    assert (finding.baseline_mean, finding.fresh) == (51.0, 56.2)
    assert finding.tolerance == pytest.approx(5.1)
    assert "vae on mnist: fid regressed: fresh 56.2 vs baseline 51 ± 5.1 (lower is better" \
        in finding.message
    assert "REGRESSED" in check.render_result(result)


def test_higher_is_better_direction():
    worse = _compare(_fresh(precision=0.55))  # 0.61 - 0.05 = 0.56
    assert [(f.kind, f.metric) for f in worse.failures] == [("regression", K.PRECISION)]
    assert "higher is better" in worse.failures[0].message
    better = _compare(_fresh(precision=0.70))
    assert better.passed and [(f.kind, f.metric) for f in better.notes] == \
        [("improvement", K.PRECISION)]


def test_improvement_is_a_note_not_a_failure():
    result = _compare(_fresh(fid=30.0))
    assert result.passed
    (note,) = result.notes
    assert note.kind == "improvement" and note.metric == K.FID and "--update-baseline" in note.message


def test_an_op_count_that_grows_by_one_fails():
    result = _compare(_fresh(macs=274433.0))
    assert [(f.kind, f.metric) for f in result.failures] == [("regression", K.MACS)]


def test_failed_skipped_and_missing_cells_are_regressions():
    failed = [_fresh()[0], _record("vae", 1, {K.FID: 51.0}, status="failed")]
    result = _compare(failed)
    assert [(f.kind, f.label) for f in result.failures] == [("failed", "vae")]
    assert "vae__mnist__seed1 failed: RuntimeError: boom" in result.failures[0].message
    # the other seed is still compared
    assert {v.verdict for v in result.verdicts} == {"ok"}

    skipped = _compare([_fresh()[0], _record("vae", 1, {K.FID: 51.0}, status="skipped")])
    assert [f.kind for f in skipped.failures] == ["skipped"]

    missing = _compare(_fresh()[:1])
    assert [f.kind for f in missing.failures] == ["missing"]
    assert "vae__mnist__seed1" in missing.failures[0].message

    nothing = _compare([])
    assert [f.kind for f in nothing.failures] == ["missing", "missing"]
    assert {v.verdict for v in nothing.verdicts} == {"not measured"}


def test_a_metric_no_longer_reported_is_a_regression():
    fresh = _pair({K.FID: 51.0, K.MACS: 274432.0}, {K.FID: 51.0, K.MACS: 274432.0})
    result = _compare(fresh)
    assert [(f.kind, f.metric) for f in result.failures] == [("no-longer-reported", K.PRECISION)]


def test_config_change_is_reported_not_compared():
    result = _compare(_fresh(fid=500.0, config_hash="h1"))
    (finding,) = result.failures
    assert finding.kind == "config-changed"
    assert "config changed" in finding.message and "--update-baseline" in finding.message
    assert "h0-0 -> h1-0" in finding.message
    assert {v.verdict for v in result.verdicts} == {"not compared"}  # FID 500 not judged


def test_new_cells_and_metrics_are_notes():
    fresh = _fresh() + [_record("gan", 0, {K.FID: 80.0})]
    fresh[0]["metrics"][K.KID] = fresh[1]["metrics"][K.KID] = 0.3
    result = _compare(fresh)
    assert result.passed
    assert sorted((f.kind, f.label, f.metric) for f in result.notes) == \
        [("new", "gan", None), ("new", "vae", K.KID)]


def test_a_failed_cell_the_baseline_does_not_know_is_still_a_failure():
    result = _compare(_fresh() + [_record("gan", 0, {K.FID: 80.0}, status="skipped")])
    assert [(f.kind, f.label, f.seed) for f in result.failures] == [("skipped", "gan", 0)]


# ------------------------------------------------------------------------------------------
# The feature network a cell was measured with

SHA_INTEL, SHA_AMD, SHA_OTHER = "1" * 64, "2" * 64, "3" * 64


def test_a_baseline_keeps_each_groups_feature_networks_pooled_ones_too():
    intel = _pair({K.FID: 50.0}, {K.FID: 52.0}, feature_net=SHA_INTEL)
    amd = _pair({K.FID: 51.0}, {K.FID: 53.0}, feature_net=SHA_AMD)
    group = check.build_baseline(amd, SUITE_NAME, pool=[intel])["groups"]["vae__mnist"]
    assert group["feature_net_weights_sha256"] == [SHA_INTEL, SHA_AMD]
    # records made before records kept the hash: none stored
    assert check.build_baseline(BASE, SUITE_NAME)["groups"]["vae__mnist"][
        "feature_net_weights_sha256"] == []


def test_a_cell_measured_with_another_feature_network_fails_and_is_not_compared():
    base = check.build_baseline(_pair({K.FID: 50.0}, {K.FID: 52.0}, feature_net=SHA_INTEL),
                                SUITE_NAME, pool=[_pair({K.FID: 51.0}, {K.FID: 53.0},
                                                        feature_net=SHA_AMD)])
    same = check.compare(base, _pair({K.FID: 51.0}, {K.FID: 52.0}, feature_net=SHA_AMD))
    assert same.passed and not same.findings
    other = _pair({K.FID: 500.0}, {K.FID: 500.0}, feature_net=SHA_OTHER)
    result = check.compare(base, other)
    (finding,) = result.failures
    assert finding.kind == "other-feature-net"
    assert "measured with another feature network" in finding.message
    assert SHA_OTHER[:12] in finding.message and SHA_INTEL[:12] in finding.message
    assert {v.verdict for v in result.verdicts} == {"not compared"}  # FID 500 not judged
    per_cell = check.compare(base, [other[0], _pair({K.FID: 51.0}, {K.FID: 51.0},
                                                    feature_net=SHA_AMD)[1]], per_cell=True)
    assert [(f.kind, f.seed) for f in per_cell.failures] == [("other-feature-net", 0)]
    assert [(v.seed, v.verdict) for v in per_cell.verdicts] == [(1, "ok")]


def test_a_baseline_without_feature_networks_notes_that_it_cannot_tell():
    # the committed baselines predate the hash: a fresh run that records one is compared, with
    # a note per group, and a regression is still one
    result = _compare(_fresh(feature_net=SHA_OTHER))
    assert result.passed
    assert [(f.kind, f.severity) for f in result.findings] == [("feature-net-unknown", "note")]
    assert "cannot be told apart" in result.findings[0].message
    assert {v.verdict for v in result.verdicts} == {"ok"}
    assert [f.kind for f in _compare(_fresh(fid=80.0, feature_net=SHA_OTHER)).failures] == \
        ["regression"]
    # a fresh record without the hash against a baseline with one: compared, noted
    base = check.build_baseline(_fresh(feature_net=SHA_INTEL), SUITE_NAME)
    unnamed = check.compare(base, _fresh())
    assert unnamed.passed and [f.kind for f in unnamed.notes] == ["feature-net-unknown"]


def test_the_committed_ci_baseline_passes_its_own_records_measured_with_a_named_network():
    results = Path(__file__).resolve().parents[2] / "results"
    baseline = check.load_baseline(results / "ci" / "baseline.json", suite="ci")
    records = rec.load_records(results / "ci" / "records")
    for r in records:
        r["metric_config"]["feature_net_weights_sha256"] = SHA_INTEL
    result = check.compare(baseline, records)
    assert result.passed and result.verdicts
    assert {f.kind for f in result.notes} == {"feature-net-unknown"}
    assert len(result.notes) == len(baseline["groups"])


def test_records_of_another_suite_are_refused():
    with pytest.raises(ValueError, match=r"suite\(s\) \['ci'\]"):
        _compare(_fresh(suite="ci"))


# ------------------------------------------------------------------------------------------
# The baseline file


def test_baseline_round_trip_with_sorted_keys(tmp_path):
    base = check.build_baseline(BASE, SUITE_NAME)
    path = tmp_path / "sub" / "baseline.json"
    check.write_baseline(path, base)
    text = path.read_text()
    assert json.loads(text) == base
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert check.load_baseline(path, suite=SUITE_NAME) == base
    assert not list(path.parent.glob("*.tmp"))


def test_bad_baseline_files_are_clear_errors(tmp_path):
    path = tmp_path / "baseline.json"
    with pytest.raises(FileNotFoundError, match=rf"{path} does not exist.*--update-baseline"):
        check.load_baseline(path, suite=SUITE_NAME)
    path.write_text("{ not json")
    with pytest.raises(ValueError, match=rf"{path} is not valid JSON.*--update-baseline"):
        check.load_baseline(path)
    path.write_text(json.dumps({"groups": {}}))
    with pytest.raises(ValueError, match="is not a SpikeGenBench baseline"):
        check.load_baseline(path)
    base = check.build_baseline(BASE, SUITE_NAME)
    check.write_baseline(path, {**base, "schema_version": 99})
    with pytest.raises(ValueError, match="schema_version 99"):
        check.load_baseline(path)
    check.write_baseline(path, base)
    with pytest.raises(ValueError, match=rf"is for suite '{SUITE_NAME}', not 'ci'"):
        check.load_baseline(path, suite="ci")


# ------------------------------------------------------------------------------------------
# End to end: tiny real runs through the CLI

SUITE = tiny_suite(SUITE_NAME, TINY_ANN_VAE, seeds=(0, 1))


class CorruptedVAE(AnnVAE):
    """ann-vae as a code regression would leave it: same config (and hash), ruined weights."""

    name: ClassVar[str] = "ann-vae"

    def fit(self, train, *, seed, progress=None):
        report = super().fit(train, seed=seed, progress=progress)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.decoder.parameters():
                p.add_(torch.randn(p.shape, generator=gen))
        return report


def _run(suite_file, results) -> None:
    suite = load_suite(suite_file)
    out = run_suite(suite, select_cells(suite), results_dir=results, context_factory=FakeContext)
    assert [r["status"] for r in out] == ["ok", "ok"]


def _check(suite_file, results, baseline, *extra: str) -> int:
    return main(["check", "--suite", str(suite_file), "--results-dir", str(results),
                 "--baseline", str(baseline), *extra])


def test_unchanged_code_passes_and_corrupted_weights_fail(tmp_path, monkeypatch, capsys):
    suite_file = tmp_path / "unit.toml"
    suite_file.write_text(SUITE)
    baseline = tmp_path / "baseline.json"
    _run(suite_file, tmp_path / "first")
    assert _check(suite_file, tmp_path / "first", baseline, "--update-baseline") == 0
    shown = capsys.readouterr().out
    assert "ann-vae" in shown and "recon_mse" in shown and "tolerance" in shown
    groups = json.loads(baseline.read_text())["groups"]
    assert groups["ann-vae__mnist"]["metrics"][K.FID]["n"] == 2

    _run(suite_file, tmp_path / "again")  # a fresh run of the unchanged code
    assert _check(suite_file, tmp_path / "again", baseline) == 0
    assert "check passed" in capsys.readouterr().out

    monkeypatch.setitem(adapters.ADAPTERS, "ann-vae", f"{__name__}:CorruptedVAE")
    _run(suite_file, tmp_path / "degraded")
    assert _check(suite_file, tmp_path / "degraded", baseline, "--json") == 1
    result = json.loads(capsys.readouterr().out)
    assert result["passed"] is False
    failed = {(f["kind"], f["label"], f["metric"]) for f in result["findings"]
              if f["severity"] == "fail"}
    assert ("regression", "ann-vae", K.RECON_MSE) in failed
    assert ("regression", "ann-vae", K.RECON_BCE) in failed
    assert not any(kind == "config-changed" for kind, _, _ in failed)  # a real comparison


def test_fewer_epochs_is_a_config_change_and_a_refresh_is_deliberate(tmp_path, capsys):
    suite_file = tmp_path / "unit.toml"
    suite_file.write_text(SUITE)
    baseline = tmp_path / "baseline.json"
    _run(suite_file, tmp_path / "first")
    assert _check(suite_file, tmp_path / "first", baseline, "--update-baseline") == 0
    before = baseline.read_text()

    suite_file.write_text(SUITE.replace("epochs = 1", "epochs = 2"))
    _run(suite_file, tmp_path / "longer")
    capsys.readouterr()
    assert _check(suite_file, tmp_path / "longer", baseline) == 1
    out = capsys.readouterr().out
    assert "config changed" in out and "--update-baseline" in out
    assert baseline.read_text() == before  # the check never rewrites the baseline by itself

    assert _check(suite_file, tmp_path / "longer", baseline, "--update-baseline") == 0
    assert _check(suite_file, tmp_path / "longer", baseline) == 0


def test_update_baseline_pools_another_runs_folder(tmp_path, capsys, caplog):
    suite_file = tmp_path / "unit.toml"
    suite_file.write_text(SUITE)
    baseline = tmp_path / "baseline.json"
    _run(suite_file, tmp_path / "first")
    _run(suite_file, tmp_path / "second")
    assert _check(suite_file, tmp_path / "first", baseline, "--update-baseline",
                  "--pool-results-dir", str(tmp_path / "second")) == 0
    data = json.loads(baseline.read_text())
    assert len(data["runs"]) == 2
    assert data["groups"]["ann-vae__mnist"]["metrics"][K.FID]["n"] == 4
    assert _check(suite_file, tmp_path / "second", baseline) == 0
    with pytest.raises(SystemExit, match="only goes with --update-baseline"):
        _check(suite_file, tmp_path / "second", baseline, "--pool-results-dir",
               str(tmp_path / "first"))
    with caplog.at_level(logging.ERROR):
        assert _check(suite_file, tmp_path / "first", baseline, "--update-baseline",
                      "--pool-results-dir", str(tmp_path / "nothing")) == 2
    assert f"under {tmp_path / 'nothing'} (--pool-results-dir)" in caplog.records[-1].getMessage()


def test_update_baseline_refuses_an_incomplete_run(tmp_path, capsys, caplog):
    suite_file = tmp_path / "unit.toml"
    suite_file.write_text(SUITE)
    baseline = tmp_path / "baseline.json"
    suite = load_suite(suite_file)
    run_suite(suite, select_cells(suite, seeds=[0]), results_dir=tmp_path / "r",
              context_factory=FakeContext)
    assert _check(suite_file, tmp_path / "r", baseline, "--update-baseline") == 2
    assert not baseline.exists()
    assert _check(suite_file, tmp_path / "r", baseline) == 2  # no baseline yet: says how to make one
    with caplog.at_level(logging.ERROR):  # a folder without records: one line, exit 2
        assert _check(suite_file, tmp_path / "nothing", baseline) == 2
    message = caplog.records[-1].getMessage()
    assert "no records for suite 'unit-check'" in message and "run it first" in message
    assert f"--results-dir {tmp_path / 'nothing'} --no-tables" in message
