"""``compare``: a run against the committed reference, cell by cell, by the check's rules; and
where runs go by default (``runs/``, never the reference ``results/``).

The reference is the fixture records (tests/fixtures/records/README.md gives their values: ann-vae
on MNIST has FID 10, 12, 14, so mean 12, std 2 and tolerance 3·2 = 6); a run starts as a copy of
them and is changed one way per test.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import benchmarks.__main__ as cli
from benchmarks import check
from benchmarks import data as datamod
from benchmarks import records as rec
from benchmarks.executors import sequential
from benchmarks.metrics import keys as K
from tests.fakes import TINY_ANN_VAE, FakeContext, tiny_suite

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "records"
SHA_A, SHA_B = "a" * 64, "b" * 64


def _fixtures(*, ok_only: bool = True) -> list[dict[str, Any]]:
    """The fixture records (suite ``fixture``), each measured with feature network ``SHA_A``."""
    records = [dict(rec.read_record(p)) for p in sorted(FIXTURES.glob("*.json"))]
    for r in records:
        r["metric_config"]["feature_net_weights_sha256"] = SHA_A
    return [r for r in records if r["status"] == "ok" or not ok_only]


def _cells(records: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(r["adapter"]["label"], r["dataset"]["name"], r["seed"]) for r in records]


def _find(records: list[dict[str, Any]], cid: str) -> dict[str, Any]:
    return next(r for r in records if r["cell_id"] == cid)


def _compare(reference: list[dict[str, Any]], run: list[dict[str, Any]],
             expected: list[tuple[str, str, int]] | None = None) -> check.Comparison:
    return check.compare_runs(reference, run, "fixture",
                              expected=_cells(reference) if expected is None else expected)


REFERENCE = _fixtures()
ANN0, ANN1, ANN2 = (f"ann-vae__mnist__seed{s}" for s in range(3))


def _run() -> list[dict[str, Any]]:
    """A run that equals the reference."""
    return copy.deepcopy(REFERENCE)


def test_a_run_equal_to_the_reference_passes_value_by_value():
    c = _compare(REFERENCE, _run())
    assert c.passed and not c.result.findings and not c.environment
    assert {v.verdict for v in c.result.verdicts} == {"ok"}
    # one verdict per cell and checked metric it reports, with the cell's own value
    n_values = sum(1 for r in REFERENCE for k in check.CHECKED if r["metrics"].get(k) is not None)
    assert len(c.result.verdicts) == n_values
    fid2 = next(v for v in c.result.verdicts
                if (v.label, v.dataset, v.seed, v.metric) == ("ann-vae", "mnist", 2, K.FID))
    assert (fid2.fresh, fid2.baseline_mean, fid2.baseline_std, fid2.tolerance) == \
        (14.0, 12.0, 2.0, pytest.approx(6.0))


def test_a_value_outside_its_tolerance_fails_naming_cell_and_metric():
    run = _run()
    _find(run, ANN2)["metrics"][K.FID] = 18.5  # 12 + 6 = 18 is the edge
    _find(run, ANN1)["metrics"][K.FID] = 17.9  # inside
    c = _compare(REFERENCE, run)
    assert not c.passed
    (failure,) = c.result.failures
    assert (failure.kind, failure.label, failure.dataset, failure.seed, failure.metric) == \
        ("regression", "ann-vae", "mnist", 2, K.FID)
    assert "ann-vae on mnist: seed 2: fid regressed: run 18.5 vs reference 12 ± 6" \
        in failure.message
    fids = {v.seed: v.verdict for v in c.result.verdicts
            if (v.label, v.dataset, v.metric) == ("ann-vae", "mnist", K.FID)}
    assert fids == {0: "ok", 1: "ok", 2: "REGRESSED"}


def test_a_value_better_beyond_its_tolerance_is_a_note_as_in_the_check():
    run = _run()
    _find(run, ANN0)["metrics"][K.PRECISION] = 0.95  # higher is better; reference 0.72 ± 0.06
    c = _compare(REFERENCE, run)
    assert c.passed
    assert [(f.kind, f.seed, f.metric) for f in c.result.notes] == \
        [("improvement", 0, K.PRECISION)]


def test_missing_failed_skipped_and_config_changed_cells_are_listed_not_compared():
    run = [r for r in _run() if r["cell_id"] != ANN1]  # missing
    failed = _find(run, ANN0)
    failed.update(status="failed", error={"type": "RuntimeError", "message": "boom"})
    skipped = _find(run, "surrogate-vae-T4__mnist__seed1")
    skipped.update(status="skipped", error={"type": "ImportError", "message": "no snntorch"})
    changed = _find(run, ANN2)
    changed["config_hash"] = "0123456789abcdef"
    changed["metrics"][K.FID] = 500.0  # not judged: another config answers another question
    c = _compare(REFERENCE, run, _cells(REFERENCE) + [("ann-vae", "mnist", 3)])
    assert not c.passed
    assert sorted((f.kind, f.label, f.seed) for f in c.result.failures) == [
        ("config-changed", "ann-vae", 2), ("failed", "ann-vae", 0), ("missing", "ann-vae", 1),
        ("missing", "ann-vae", 3), ("skipped", "surrogate-vae-T4", 1)]
    messages = {(f.kind, f.seed): f.message for f in c.result.failures}
    assert "ann-vae__mnist__seed1 is in the reference but has no run record" in \
        messages[("missing", 1)]
    assert "nor a value in the reference" in messages[("missing", 3)]
    assert "RuntimeError: boom" in messages[("failed", 0)]
    assert f"-> {changed['config_hash']}), so it is not compared" in \
        messages[("config-changed", 2)]
    # not one of these cells has a verdict; the other cells are still compared
    judged = {(v.label, v.dataset, v.seed) for v in c.result.verdicts}
    assert not judged & {("ann-vae", "mnist", s) for s in range(4)}
    assert ("surrogate-vae-T4", "mnist", 0) in judged


def test_a_run_of_one_seed_is_compared_against_the_references_mean_over_all_its_seeds():
    run = [r for r in _run() if r["seed"] == 0]
    c = _compare(REFERENCE, run, [x for x in _cells(REFERENCE) if x[2] == 0])
    assert c.passed and not c.result.failures  # seeds 1 and 2 were not asked for
    fid0 = next(v for v in c.result.verdicts
                if (v.label, v.dataset, v.seed, v.metric) == ("ann-vae", "mnist", 0, K.FID))
    assert (fid0.fresh, fid0.baseline_mean, fid0.baseline_std) == (10.0, 12.0, 2.0)
    assert {v.seed for v in c.result.verdicts} == {0}
    # a seed asked for and not run is still missing
    c = _compare(REFERENCE, run, [x for x in _cells(REFERENCE) if x[2] in (0, 1)])
    assert ("missing", "ann-vae", 1) in {(f.kind, f.label, f.seed) for f in c.result.failures}


def test_a_cell_measured_with_another_feature_network_is_listed_not_compared():
    run = _run()
    for r in run:
        if r["dataset"]["name"] == "fashion-mnist":
            r["metric_config"]["feature_net_weights_sha256"] = SHA_B
            r["metrics"][K.FID] = 500.0
    c = _compare(REFERENCE, run)
    fashion = [r["seed"] for r in run if r["dataset"]["name"] == "fashion-mnist"]
    assert [(f.kind, f.dataset) for f in c.result.failures] == \
        [("other-feature-net", "fashion-mnist")] * len(fashion)
    assert "another feature network (bbbbbbbbbbbb) than the reference (aaaaaaaaaaaa)" in \
        c.result.failures[0].message
    assert {v.dataset for v in c.result.verdicts} == {"mnist"}
    # where the reference does not record its network (older records), the run is compared
    old = copy.deepcopy(REFERENCE)
    for r in old:
        r["metric_config"].pop("feature_net_weights_sha256")
    c = _compare(old, run)
    assert {f.kind for f in c.result.failures} == {"regression"}
    assert "feature-net-unknown" in {f.kind for f in c.result.notes}


def _measured_with(records: list[dict[str, Any]], sha: str, dataset: str,
                   fid_shift: float = 0.0) -> list[dict[str, Any]]:
    """``records`` with ``dataset``'s cells measured with feature network ``sha``, their FIDs
    moved by ``fid_shift``."""
    out = copy.deepcopy(records)
    for r in out:
        if r["dataset"]["name"] == dataset:
            r["metric_config"]["feature_net_weights_sha256"] = sha
            r["metrics"][K.FID] += fid_shift
    return out


def test_a_data_set_measured_with_another_network_takes_the_pool_measured_with_it():
    # another kind of CPU's reference: network B, and FIDs 100 higher than the main reference's
    pool = _measured_with(_measured_with(REFERENCE, SHA_B, "fashion-mnist", 100.0),
                          SHA_B, "mnist", 100.0)
    run = _measured_with(_run(), SHA_B, "fashion-mnist", 100.0)
    chosen, pooled = check.match_reference(REFERENCE, {"other": [], "amd": pool}, run)
    assert pooled == {"fashion-mnist": "amd"}
    assert {r["cell_id"]: r for r in chosen} == \
        {r["cell_id"]: r for r in REFERENCE if r["dataset"]["name"] == "mnist"} | \
        {r["cell_id"]: r for r in pool if r["dataset"]["name"] == "fashion-mnist"}
    c = _compare(chosen, run, _cells(REFERENCE))
    assert c.passed and {v.verdict for v in c.result.verdicts} == {"ok"}
    assert {v.dataset for v in c.result.verdicts} == {"mnist", "fashion-mnist"}
    # against the main reference alone, the same run's Fashion-MNIST cells are not compared
    assert {f.kind for f in _compare(REFERENCE, run).result.failures} == {"other-feature-net"}
    # a network no pool was measured with keeps the main reference, and so is not compared
    third = _measured_with(_run(), "c" * 64, "fashion-mnist")
    chosen, pooled = check.match_reference(REFERENCE, {"amd": pool}, third)
    assert pooled == {} and sorted(map(id, chosen)) == sorted(map(id, REFERENCE))
    # a run measured with the main reference's networks never takes a pool
    chosen, pooled = check.match_reference(REFERENCE, {"amd": pool}, _run())
    assert pooled == {} and sorted(map(id, chosen)) == sorted(map(id, REFERENCE))


def test_cells_the_reference_has_no_value_for():
    reference = _fixtures(ok_only=False)  # conversion-vae-T32 seed 0 failed there
    run = _run()
    twin = copy.deepcopy(_find(run, ANN0))
    twin.update(cell_id="conversion-vae-T32__mnist__seed0", adapter={
        **twin["adapter"], "label": "conversion-vae-T32", "name": "conversion-vae",
        "backend": "conversion"})
    expected = _cells(run + [twin])
    c = _compare(reference, run + [twin], expected)
    assert c.passed  # nothing to compare it with is not a failure of the run
    (note,) = [f for f in c.result.notes if f.label == "conversion-vae-T32"]
    assert note.kind == "reference-not-ok" and "failed" in note.message
    assert not [v for v in c.result.verdicts if v.label == "conversion-vae-T32"]
    # a cell of the run that failed is a failure, whether or not the reference has the cell
    twin.update(status="failed", error={"type": "ValueError", "message": "bad"})
    c = _compare(reference, run + [twin], expected)
    assert [(f.kind, f.label) for f in c.result.failures] == [("failed", "conversion-vae-T32")]


def test_environment_differences_are_read_from_the_records():
    run = _run()
    for r in run:
        r["env"]["cpu"] = "Intel Xeon"
        r["env"]["versions"]["torch"] = "2.6.0"
        if r["dataset"]["name"] == "mnist":
            r["metric_config"]["feature_net_test_accuracy"] = 0.9931
    diffs = {d.field: (d.reference, d.fresh) for d in _compare(REFERENCE, run).environment}
    assert diffs == {
        "cpu": (("not recorded",), ("Intel Xeon",)),
        "versions.torch": (("2.5.1",), ("2.6.0",)),
        "feature_net_test_accuracy (mnist)": (("0.992",), ("0.9931",)),
    }


def test_the_markdown_has_a_table_per_dataset_the_differences_and_the_lists():
    run = [r for r in _run() if r["cell_id"] != ANN1]
    _find(run, ANN2)["metrics"][K.FID] = 18.5
    for r in run:
        r["env"]["cpu"] = "Intel Xeon"
    text = check.render_comparison(_compare(REFERENCE, run), run="runs/fixture",
                                   reference="results/fixture")
    lines = text.splitlines()
    assert lines[0] == "# Suite `fixture`: the run against the reference"
    assert "## mnist" in lines and "## fashion-mnist" in lines
    assert "| label | metric | better | reference mean ± std (n) | tolerance | seed 0 | seed 1 " \
           "| seed 2 |" in lines
    assert "| ann-vae | fid | lower | 12 ± 2 (3) | 6 | 10 ok | missing | **18.5 REGRESSED** |" \
        in lines
    assert "| cpu | not recorded | Intel Xeon |" in lines
    assert "## Outside tolerance (1)" in lines and "## Missing cells (1)" in lines
    assert lines[-1] == "comparison FAILED: 2 problem(s)"
    assert f"{len(REFERENCE) - 1} of {len(REFERENCE)} cells compared" in text


# ------------------------------------------------------------------------------------------
# The CLI: runs/ by default, the reference only when named

SUITE = tiny_suite("fixture", TINY_ANN_VAE, seeds=(0, 1, 2))


@pytest.fixture
def suite_file(tmp_path):
    path = tmp_path / "fixture.toml"
    path.write_text(SUITE)
    return path


def _write(folder: Path, records: list[dict[str, Any]]) -> None:
    for r in records:
        rec.write_record(folder, r)


def _ann_vae_mnist() -> list[dict[str, Any]]:
    return [copy.deepcopy(_find(REFERENCE, cid)) for cid in (ANN0, ANN1, ANN2)]


def _errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_compare_cli_prints_and_writes_the_comparison_and_exits_by_its_verdict(
        suite_file, tmp_path, capsys, caplog):
    reference, run = tmp_path / "reference", tmp_path / "run"
    _write(reference, _ann_vae_mnist())
    _write(run, _ann_vae_mnist())
    args = ["compare", "--suite", str(suite_file), "--run-dir", str(run), "--reference",
            str(reference)]
    assert cli.main(args) == 0
    shown = capsys.readouterr().out
    written = run / "fixture" / "tables" / "comparison.md"
    assert written.read_text() == shown
    assert "| ann-vae | fid | lower | 12 ± 2 (3) | 6 | 10 ok | 12 ok | 14 ok |" in shown
    assert shown.endswith("comparison passed: every compared value is within tolerance and no "
                          "cell is missing\n")

    changed = _ann_vae_mnist()
    changed[2]["metrics"][K.FID] = 30.0
    _write(run, changed)
    out = tmp_path / "elsewhere" / "cmp.md"
    assert cli.main([*args, "--json", "--out", str(out)]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["passed"] is False and result["cells"] == 3
    assert [(f["kind"], f["seed"], f["metric"]) for f in result["findings"]] == \
        [("regression", 2, K.FID)]
    assert "**30 REGRESSED**" in out.read_text()  # --out: the Markdown goes there
    assert written.read_text() == shown  # and not over the default file

    _write(run, _ann_vae_mnist())
    assert cli.main([*args, "--seeds", "0"]) == 0
    shown = capsys.readouterr().out
    assert "| ann-vae | fid | lower | 12 ± 2 (3) | 6 | 10 ok |\n" in shown
    assert "1 of 1 cells compared" in shown

    with caplog.at_level(logging.ERROR):
        assert cli.main([*args[:-1], str(tmp_path / "nothing")]) == 2
        assert cli.main(["compare", "--suite", "no-such-suite", "--run-dir", str(run)]) == 2
    missing, unknown = _errors(caplog)[-2:]
    assert f"no records for suite 'fixture' under {tmp_path / 'nothing'} (--reference)" in missing
    assert "no-such-suite" in unknown


def test_compare_cli_takes_the_pooled_reference_of_the_runs_feature_network(
        suite_file, tmp_path, capsys):
    reference, run = tmp_path / "reference", tmp_path / "run"
    _write(reference, _ann_vae_mnist())
    pool = reference / "fixture" / "pool" / "amd-epyc"
    _write(pool, _measured_with(_ann_vae_mnist(), SHA_B, "mnist", 100.0))
    _write(run, _measured_with(_ann_vae_mnist(), SHA_B, "mnist", 100.0))
    args = ["compare", "--suite", str(suite_file), "--run-dir", str(run), "--reference",
            str(reference)]
    assert cli.main(args) == 0
    shown = capsys.readouterr().out
    assert f"For mnist the reference is the pooled run `{pool / 'fixture'}`" in shown
    assert "| ann-vae | fid | lower | 112 ± 2 (3) | 11.2 | 110 ok | 112 ok | 114 ok |" in shown
    assert cli.main([*args, "--json"]) == 0
    pooled = json.loads(capsys.readouterr().out)["pooled_reference"]
    assert pooled == {"mnist": str(pool / "fixture")}
    shutil.rmtree(pool)
    assert cli.main(args) == 1  # without the pool: measured with another network
    assert "other feature net" in capsys.readouterr().out


def test_a_default_run_writes_into_runs_never_into_the_reference(suite_file, tmp_path,
                                                                 monkeypatch, capsys):
    runs, results = tmp_path / "runs", tmp_path / "results"
    monkeypatch.setattr(rec, "DEFAULT_RUNS", runs)
    monkeypatch.setattr(rec, "DEFAULT_RESULTS", results)
    real = sequential.Sequential
    monkeypatch.setattr(sequential, "Sequential", lambda: real(FakeContext))
    fetched: list[tuple[str, str | None]] = []
    monkeypatch.setattr(datamod, "fetch", lambda name, **kw: fetched.append(
        (name, os.environ.get(datamod.ENV_DATA_DIR))))
    monkeypatch.delenv(datamod.ENV_DATA_DIR, raising=False)

    assert cli.main(["run", "--suite", str(suite_file), "--seeds", "0", "--no-tables",
                     "--data-dir", str(tmp_path / "idx")]) == 0
    assert (runs / "fixture" / "records" / f"{ANN0}.json").is_file()
    assert not results.exists()
    # the data set was fetched once, before the cell, with --data-dir in the environment that
    # worker processes inherit
    assert fetched == [("mnist", str(tmp_path / "idx"))]

    # compare reads runs/ against results/ by default; the reference is made deliberately
    capsys.readouterr()
    assert cli.main(["compare", "--suite", str(suite_file)]) == 2  # no reference yet
    shutil.copytree(runs / "fixture" / "records", results / "fixture" / "records")
    assert cli.main(["compare", "--suite", str(suite_file)]) == 1  # seeds 1, 2 not run
    assert (runs / "fixture" / "tables" / "comparison.md").is_file()
    assert not (results / "fixture" / "tables").exists()
    assert "## Missing cells (2)" in capsys.readouterr().out


def test_a_data_set_that_cannot_be_fetched_stops_the_run_before_any_cell(suite_file, tmp_path,
                                                                         monkeypatch, caplog):
    def unavailable(name, **kw):
        raise datamod.DataError(f"could not obtain {name}")

    monkeypatch.setattr(datamod, "fetch", unavailable)
    monkeypatch.setattr("benchmarks.driver.run_suite",
                        lambda *a, **k: pytest.fail("a cell ran before the data were there"))
    with caplog.at_level(logging.ERROR):
        assert cli.main(["run", "--suite", str(suite_file), "--results-dir",
                         str(tmp_path / "r")]) == 2
    assert _errors(caplog)[-1] == "could not obtain mnist"


def test_hints_name_the_results_dir_only_when_it_is_not_runs(suite_file, tmp_path, monkeypatch):
    monkeypatch.setattr(rec, "DEFAULT_RUNS", tmp_path / "runs")
    sample = ["sample", "--suite", str(suite_file), "--adapter", "ann-vae", "--dataset", "mnist",
              "--seed", "0", "--out", str(tmp_path / "s.npz")]
    with pytest.raises(SystemExit) as default:
        cli.main(sample)
    assert f"no trained model at {tmp_path / 'runs' / 'fixture' / 'models'}" in str(default.value)
    assert "--results-dir" not in str(default.value)
    with pytest.raises(SystemExit) as chosen:
        cli.main([*sample, "--results-dir", str(tmp_path / "mine")])
    assert str(chosen.value).endswith(f"--seeds 0 --results-dir {tmp_path / 'mine'}")
