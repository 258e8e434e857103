"""The run path on tiny synthetic data (sequential executor): records, failures, resume,
determinism, learned filters, trained twins, the record's family, the sample command."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pytest
import torch

import adapters
from adapters.ann import AnnVAE
from benchmarks.__main__ import main
from benchmarks.metrics import keys as K
from benchmarks.plan import select_cells
from benchmarks.suites import load_suite
from tests.fakes import TINY_ANN_GAN, TINY_ANN_VAE, TWIN_SUITE, blobs, run_suite, tiny_suite

SUITE = tiny_suite("unit", f"""{TINY_ANN_VAE}
[[entry]]
adapter = "broken-vae"

{TINY_ANN_GAN}""")


class BrokenVAE(AnnVAE):
    """An adapter whose training always fails: its cell must be recorded as failed."""

    name: ClassVar[str] = "broken-vae"

    def fit(self, train, *, seed, progress=None):
        raise RuntimeError("deliberately broken")


@pytest.fixture
def suite(tmp_path, monkeypatch):
    monkeypatch.setitem(adapters.ADAPTERS, "broken-vae", "test_run:BrokenVAE")
    path = tmp_path / "unit.toml"
    path.write_text(SUITE)
    return load_suite(path)


def _run(suite, results, **kw):
    return run_suite(suite, select_cells(suite), results_dir=results, **kw)


def test_cells_are_recorded_and_a_failure_does_not_stop_the_others(suite, tmp_path):
    results = tmp_path / "results"
    out = _run(suite, results)
    assert [r["status"] for r in out] == ["ok", "failed", "ok"]
    files = sorted(p.name for p in (results / "unit" / "records").glob("*.json"))
    assert files == ["ann-gan__mnist__seed0.json", "ann-vae__mnist__seed0.json",
                     "broken-vae__mnist__seed0.json"]
    failed = json.loads((results / "unit/records/broken-vae__mnist__seed0.json").read_text())
    assert failed["error"]["type"] == "RuntimeError"
    assert "deliberately broken" in failed["error"]["message"]
    assert all(v is None for v in failed["metrics"].values())  # a failure is never a number

    vae = json.loads((results / "unit/records/ann-vae__mnist__seed0.json").read_text())
    m = vae["metrics"]
    assert m[K.FID] >= 0 and 0 <= m[K.PRECISION] <= 1 and 0 <= m[K.RECALL] <= 1
    assert 0 <= m[K.RECON_MSE] <= 1 and m[K.RECON_BCE] > 0
    # ann-vae(hidden 32, latent 8) decoder: 8*32 + 32*32 + 32*784 MACs, no spikes
    assert m[K.MACS] == 8 * 32 + 32 * 32 + 32 * 784
    assert m[K.SPIKES] == 0 and m[K.SYNAPTIC_OPS] == 0
    assert m[K.ENERGY_NJ] == pytest.approx(m[K.MACS] * 4.6 / 1000)
    assert m[K.ENERGY_RATIO] == pytest.approx(1.0)  # it is its own family's baseline
    assert vae["adapter"]["config"]["epochs"] == 1 and vae["adapter"]["backend"] == "ann"
    assert vae["env"]["threads"] == 1 and vae["metric_config"]["energy_model"] == "horowitz-45nm@1"
    gan = json.loads((results / "unit/records/ann-gan__mnist__seed0.json").read_text())
    assert gan["metrics"][K.RECON_MSE] is None  # a GAN cannot reconstruct
    assert (results / vae["artifacts"]["samples"].removeprefix("results/")).is_file()
    assert vae["timing"]["recon_seconds"] > 0 and gan["timing"]["recon_seconds"] is None

    # the run's summary: each cell's time per phase, and the wall time
    summary = (results / "unit" / "run_summary.md").read_text()
    assert "3 run now" in summary and "wall time" in summary
    assert "| cell | status | train | sample | reconstruct | evaluate |" in summary
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")[1:]]
            for line in summary.splitlines() if line.startswith("| ann-") or "broken" in line}
    assert rows["ann-vae__mnist__seed0"][0] == "ok"
    assert all(float(v) >= 0 for v in rows["ann-vae__mnist__seed0"][1:])
    assert rows["ann-gan__mnist__seed0"][3] == "—"  # a GAN does not reconstruct
    assert rows["broken-vae__mnist__seed0"] == ["failed", "—", "—", "—", "—"]


def test_rerun_resumes_and_force_reproduces_the_numbers(suite, tmp_path):
    results = tmp_path / "results"
    first = _run(suite, results)
    path = results / "unit/records/ann-vae__mnist__seed0.json"
    stamp = path.stat().st_mtime_ns
    second = _run(suite, results)
    assert path.stat().st_mtime_ns == stamp  # skipped: same config hash
    assert second[0] == first[0]
    assert second[1]["status"] == "failed"  # failed cells are tried again
    third = _run(suite, results, force=True)
    for key in (K.FID, K.KID, K.RECON_MSE, K.MACS):
        assert third[0]["metrics"][key] == first[0]["metrics"][key]


def test_changed_config_is_rerun(suite, tmp_path):
    results = tmp_path / "results"
    _run(suite, results)
    path = results / "unit/records/ann-vae__mnist__seed0.json"
    old_hash = json.loads(path.read_text())["config_hash"]
    text = SUITE.replace("hidden = 32, latent = 8", "hidden = 32, latent = 6")
    (tmp_path / "unit.toml").write_text(text)
    changed = load_suite(tmp_path / "unit.toml")
    _run(changed, results)
    assert json.loads(path.read_text())["config_hash"] != old_hash


def test_sample_command_writes_uint8_samples(suite, tmp_path, capsys):
    results = tmp_path / "results"
    _run(suite, results)
    out = tmp_path / "s.npz"
    code = main(["sample", "--suite", str(tmp_path / "unit.toml"), "--adapter", "ann-vae",
                 "--dataset", "mnist", "--seed", "0", "-n", "7", "--out", str(out),
                 "--results-dir", str(results), "--json"])
    assert code == 0
    images = np.load(out)["images"]
    assert images.shape == (7, 28, 28) and images.dtype == np.uint8
    assert json.loads(capsys.readouterr().out)["shape"] == [7, 28, 28]  # stdout is only JSON


def test_bad_entry_config_fails_before_any_cell_runs(tmp_path, monkeypatch):
    path = tmp_path / "bad.toml"
    path.write_text(SUITE.replace("hidden = 32, latent = 8", "hidden = 32, latnt = 8"))
    monkeypatch.setitem(adapters.ADAPTERS, "broken-vae", "test_run:BrokenVAE")
    with pytest.raises(ValueError, match=r"entry 'ann-vae'.*unknown config key\(s\) \['latnt'\]"):
        load_suite(path)  # at load, before anything is planned or run
    assert not (tmp_path / "results").exists()


class FilterVAE(AnnVAE):
    """An adapter with learned filters to show (as stdp-ae has)."""

    name: ClassVar[str] = "filter-vae"

    def learned_filters(self):
        return torch.linspace(-1, 1, 4 * 5 * 5).reshape(4, 5, 5)


def test_learned_filters_are_drawn_beside_the_sample_grids(tmp_path, monkeypatch):
    from benchmarks import figures

    drawn = []
    monkeypatch.setitem(adapters.ADAPTERS, "filter-vae", "test_run:FilterVAE")
    monkeypatch.setattr(figures, "filter_grid", lambda filters, path, *, title:
                        drawn.append((filters, path, title)), raising=False)
    path = tmp_path / "unit.toml"
    path.write_text(tiny_suite("unit", '[[entry]]\nadapter = "filter-vae"\n'
                                       'config = { epochs = 1, hidden = 16, latent = 4 }\n'))
    suite = load_suite(path)
    (record,) = run_suite(suite, select_cells(suite), results_dir=tmp_path / "results")
    assert record["status"] == "ok", record["error"]
    ((filters, where, title),) = drawn
    assert torch.equal(filters, FilterVAE().learned_filters())
    assert where == tmp_path / "results/unit/figures/filters/filter-vae__mnist__seed0.png"
    assert "filter-vae" in title
    assert "filters" not in record["artifacts"]  # as before: the sample grid only


def test_outputs_carry_the_learned_filters_and_none_without_them(tmp_path, monkeypatch):
    from benchmarks.execute import produce

    monkeypatch.setitem(adapters.ADAPTERS, "filter-vae", "test_run:FilterVAE")
    config = {"epochs": 1, "hidden": 16, "latent": 4}
    kw = {"train": blobs(32, 0), "recon_ref": None, "n_eval": 4, "seed": 0, "progress": False}
    out = produce("filter-vae", config, model_path=tmp_path / "f.pt", **kw)
    assert out.filters is not None and out.filters.shape == (4, 5, 5)
    assert produce("ann-vae", config, model_path=tmp_path / "a.pt", **kw).filters is None


class MisnamedVAE(AnnVAE):
    """A VAE whose registered name ends in another family's."""

    name: ClassVar[str] = "misnamed-gan"


def test_a_records_family_and_backend_come_from_the_adapter_class(tmp_path, monkeypatch):
    from benchmarks.execute import failed_record
    from benchmarks.plan import plan

    monkeypatch.setitem(adapters.ADAPTERS, "misnamed-gan", "test_run:MisnamedVAE")
    path = tmp_path / "odd.toml"
    path.write_text(tiny_suite("odd", '[[entry]]\nadapter = "misnamed-gan"\n'))
    suite = load_suite(path)
    (p,) = plan(suite, select_cells(suite), tmp_path)
    record = failed_record(suite, p, "RuntimeError", "boom")
    assert record["adapter"]["family"] == "vae" and record["adapter"]["backend"] == "ann"
    assert record["error"] == {"type": "RuntimeError", "message": "boom", "traceback": ""}
    assert all(v is None for v in record["metrics"].values())


def test_a_cell_starts_from_its_trained_twin_with_the_same_numbers(tmp_path, monkeypatch):
    monkeypatch.setitem(adapters.ADAPTERS, "twin-vae", "tests.fakes:TwinVAE")
    path = tmp_path / "twin.toml"
    path.write_text(TWIN_SUITE)
    suite = load_suite(path)
    results = tmp_path / "results"
    ann, twin, other = run_suite(suite, select_cells(suite), results_dir=results)
    assert twin["fit"]["extra"]["twin_train_seconds"] == ann["fit"]["train_seconds"]
    assert twin["metrics"][K.TRAIN_SECONDS] >= ann["fit"]["train_seconds"]  # its cost, reused
    assert "twin_train_seconds" not in other["fit"]["extra"]  # another config: trained itself
    # trained from scratch (no ann-vae model on disk), the twin gives the same numbers
    (results / "twin" / "models" / "ann-vae__mnist__seed0.pt").unlink()
    alone = run_suite(suite, select_cells(suite, labels=["twin-vae"]), results_dir=results,
                      force=True)[0]
    assert "twin_train_seconds" not in alone["fit"]["extra"]
    for key in (K.FID, K.KID, K.RECON_MSE, K.MACS):
        assert alone["metrics"][key] == twin["metrics"][key] == ann["metrics"][key]


class ScriptedExecutor:
    """Runs no cell: attempt k of a cell ends as ``script[cell label][k - 1]`` says ("died" or
    "ok", an ok record with one file), so the driver's own work can be checked alone."""

    label = "scripted"
    jobs = 3

    def __init__(self, script):
        self.script = script
        self.submitted = []
        self._running = []

    def open(self, suite, results_dir, jobs):
        self.suite = suite

    def has_room(self):
        return len(self._running) < self.jobs

    def submit(self, job):
        self.submitted.append((job.cell_id, job.attempt))
        self._running.append(job)

    def running(self):
        return list(self._running)

    def wait(self):
        from benchmarks.execute import make_record
        from benchmarks.executors import Died, Finished

        ended, self._running = self._running, []
        out = []
        for job in ended:
            if self.script[job.planned.cell.entry.label][job.attempt - 1] == "died":
                out.append((job, Died("WorkerDied", "worker process", "exit code 9")))
            else:
                record = make_record(self.suite, job.planned, status="ok", error=None)
                out.append((job, Finished(record, {f"unit/figures/{job.cell_id}.png": b"png"})))
        return out

    def close(self):
        self.closed = True


def test_the_driver_retries_a_dead_worker_then_records_it_failed(suite, tmp_path):
    from benchmarks import driver

    executor = ScriptedExecutor({"ann-vae": ["died", "ok"], "broken-vae": ["died", "died"],
                                 "ann-gan": ["ok"]})
    results = tmp_path / "results"
    out = driver.run_suite(suite, select_cells(suite), executor, results_dir=results,
                           max_retries=1)
    assert [r["status"] for r in out] == ["ok", "failed", "ok"]  # the suite's order
    assert sorted(executor.submitted) == [("ann-gan__mnist__seed0", 1),
                                          ("ann-vae__mnist__seed0", 1),
                                          ("ann-vae__mnist__seed0", 2),
                                          ("broken-vae__mnist__seed0", 1),
                                          ("broken-vae__mnist__seed0", 2)]
    assert executor.closed
    dead = json.loads((results / "unit/records/broken-vae__mnist__seed0.json").read_text())
    assert dead["error"]["type"] == "WorkerDied"
    assert dead["error"]["message"] == ("the worker process running this cell died on all 2 "
                                        "attempt(s) (exit code 9)")
    assert all(r["env"]["jobs"] == 3 for r in out)
    for r in out:
        written = json.loads((results / "unit/records" / f"{r['cell_id']}.json").read_text())
        assert written == r
    assert (results / "unit/figures/ann-vae__mnist__seed0.png").read_bytes() == b"png"
    # resume: the ok cells are not submitted again, the failed one is (no retry now)
    again = ScriptedExecutor({"broken-vae": ["died"]})
    driver.run_suite(suite, select_cells(suite), again, results_dir=results, max_retries=0)
    assert again.submitted == [("broken-vae__mnist__seed0", 1)]


def test_resume_measures_again_a_record_made_with_another_feature_network(suite, tmp_path):
    from benchmarks.plan import plan
    from benchmarks.records import read_record, write_record

    results = tmp_path / "results"
    _run(suite, results)
    path = results / "unit/records/ann-vae__mnist__seed0.json"
    record = read_record(path)
    record["metric_config"]["feature_net_weights_sha256"] = "a" * 64
    write_record(results, record)
    cells = select_cells(suite)

    def recorded(extractor):
        planned = plan(suite, cells, results, extractors={"mnist": extractor})
        return {p.cell.cell_id: p.recorded is not None for p in planned}

    assert recorded("a" * 64) == {"ann-vae__mnist__seed0": True, "broken-vae__mnist__seed0": False,
                                  "ann-gan__mnist__seed0": True}
    assert recorded("b" * 64)["ann-vae__mnist__seed0"] is False  # another extractor: run again
    assert recorded(None)["ann-vae__mnist__seed0"] is True  # nothing cached to compare with


def test_jobs_take_the_data_sets_in_turn(tmp_path):
    from benchmarks.driver import interleave
    from benchmarks.executors import Job
    from benchmarks.plan import plan

    path = tmp_path / "two.toml"
    path.write_text(tiny_suite("two", TINY_ANN_VAE, seeds=(0, 1)).replace(
        'datasets = ["mnist"]', 'datasets = ["mnist", "fashion-mnist"]'))
    two = load_suite(path)
    jobs = [Job(i, p) for i, p in enumerate(plan(two, select_cells(two), tmp_path / "r"))]
    assert [j.cell_id for j in jobs] == [
        "ann-vae__mnist__seed0", "ann-vae__mnist__seed1",
        "ann-vae__fashion-mnist__seed0", "ann-vae__fashion-mnist__seed1"]
    assert [j.cell_id for j in interleave(jobs)] == [
        "ann-vae__mnist__seed0", "ann-vae__fashion-mnist__seed0",
        "ann-vae__mnist__seed1", "ann-vae__fashion-mnist__seed1"]
    assert interleave(jobs[:2]) == jobs[:2] and interleave([]) == []


def test_reevaluation_adds_new_metrics_and_keeps_a_record_it_cannot_reproduce(suite, tmp_path,
                                                                              monkeypatch):
    from benchmarks.records import read_record, write_record

    results = tmp_path / "results"
    first = {r["cell_id"]: r for r in _run(suite, results)}
    vae_path = results / "unit/records/ann-vae__mnist__seed0.json"
    gan_path = results / "unit/records/ann-gan__mnist__seed0.json"
    # as if recorded before the second feature space existed
    vae = read_record(vae_path)
    del vae["metrics"][K.FID_AE]
    write_record(results, vae)
    # and a record whose numbers its saved model does not give back
    gan = read_record(gan_path)
    gan["metrics"][K.FID] += 1.0
    write_record(results, gan)

    again = {r["cell_id"]: r for r in run_suite(suite, select_cells(suite), results_dir=results,
                                                reevaluate=True)}
    vae_after = read_record(vae_path)
    assert vae_after["metrics"][K.FID_AE] == first["ann-vae__mnist__seed0"]["metrics"][K.FID_AE]
    for key in (K.FID, K.KID, K.RECON_MSE, K.MACS, K.CLASSES_AT_5PCT):
        assert vae_after["metrics"][key] == first["ann-vae__mnist__seed0"]["metrics"][key]
    assert vae_after["timing"]["train_seconds"] == vae["timing"]["train_seconds"]  # not trained
    assert "reevaluated" in vae_after["timing"] and vae_after["fit"] == vae["fit"]
    assert read_record(gan_path) == gan  # not reproduced: kept as it was
    assert again["ann-gan__mnist__seed0"] == gan
    assert "broken-vae__mnist__seed0" not in again  # no ok record: left alone
    failed = read_record(results / "unit/records/broken-vae__mnist__seed0.json")
    assert failed["status"] == "failed"
