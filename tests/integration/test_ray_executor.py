"""The Ray executor on a real local Ray instance (2 CPUs) and tiny synthetic data.

Ray workers are separate processes: they import this module by name (its folder and the
repository root are on their ``PYTHONPATH``) to unpickle :class:`tests.fakes.FakeContext`, and
register the test adapters through the ``worker_process_setup_hook`` of the Ray instance the
fixture starts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

import pytest

import adapters
from adapters.ann import AnnVAE
from benchmarks.check import UNCHECKED  # timings: they measure the machine
from benchmarks.driver import run_suite
from benchmarks.metrics import keys as K
from benchmarks.plan import select_cells
from benchmarks.suites import load_suite
from benchmarks.workers import REPO_ROOT
from tests.fakes import TINY_ANN_GAN, TINY_ANN_VAE, TWIN_SUITE, FakeContext, tiny_suite
from tests.fakes import run_suite as run_local

ray = pytest.importorskip("ray", reason="needs Ray: pip install -e '.[ray]' (or tox -e ray)")

from benchmarks.executors.ray import RayExecutor  # noqa: E402  (after the importorskip)

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent

SUITE = tiny_suite("raytest", f"""{TINY_ANN_VAE}
{TINY_ANN_GAN}seeds = [0]
""", seeds=(0, 1))

CRASH_SUITE = tiny_suite("raycrash", f"""[[entry]]
adapter = "crash-vae"

{TINY_ANN_VAE}""")

_TEST_ADAPTERS = {"crash-vae": "test_ray_executor:CrashVAE", "twin-vae": "tests.fakes:TwinVAE"}


class CrashVAE(AnnVAE):
    """An adapter whose training kills its own process, as an OOM kill or a segfault would."""

    name: ClassVar[str] = "crash-vae"

    def fit(self, train, *, seed, progress=None):
        os._exit(1)


def register_test_adapters() -> None:
    """Ray's ``worker_process_setup_hook``: the test adapters, in every worker process."""
    adapters.ADAPTERS.update(_TEST_ADAPTERS)


class CountingFactory:
    """A context factory that counts its calls (in the driver: contexts are built once)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, name: str, suite: object) -> FakeContext:
        self.calls.append(name)
        return FakeContext(name, suite)


@pytest.fixture(scope="module")
def ray_instance():
    """A local Ray instance with 2 CPUs whose workers import this module and its adapters."""
    if ray.is_initialized():
        pytest.fail("Ray is already initialized in this process")
    pythonpath = os.pathsep.join(p for p in (str(HERE), str(REPO_ROOT),
                                             os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=True,
             runtime_env={"env_vars": {"PYTHONPATH": pythonpath},
                          "worker_process_setup_hook": f"{__name__}.register_test_adapters"})
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture
def test_adapters(monkeypatch):
    for name, target in _TEST_ADAPTERS.items():
        monkeypatch.setitem(adapters.ADAPTERS, name, target)


def run_suite_ray(suite, cells, *, results_dir, context_factory=None, max_retries=1):
    return run_suite(suite, cells, RayExecutor(context_factory=context_factory),
                     results_dir=results_dir, max_retries=max_retries)


def _records(results: Path, suite: str) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text())
            for p in sorted((results / suite / "records").glob("*.json"))}


def test_ray_records_equal_the_local_executors_and_resume(ray_instance, tmp_path):
    path = tmp_path / "raytest.toml"
    path.write_text(SUITE)
    suite = load_suite(path)
    cells = select_cells(suite)
    local_dir, ray_dir = tmp_path / "local", tmp_path / "ray"
    run_local(suite, cells, results_dir=local_dir)
    factory = CountingFactory()
    out = run_suite_ray(suite, cells, results_dir=ray_dir, context_factory=factory)

    assert factory.calls == ["mnist"]  # one context for the data set, shared by all its tasks
    assert [r["cell_id"] for r in out] == [c.cell_id for c in cells]
    local, remote = _records(local_dir, "raytest"), _records(ray_dir, "raytest")
    assert set(remote) == set(local) == {"ann-vae__mnist__seed0", "ann-vae__mnist__seed1",
                                         "ann-gan__mnist__seed0"}
    for cid, want in local.items():
        got = remote[cid]
        assert got["status"] == want["status"] == "ok", got["error"]
        assert got == out[[r["cell_id"] for r in out].index(cid)]  # returned = written
        for key in ("config_hash", "adapter", "dataset", "seed", "op_counts", "metric_config",
                    "artifacts"):
            assert got[key] == want[key], (cid, key)
        same = {k: v for k, v in want["metrics"].items() if k not in UNCHECKED}
        assert {k: got["metrics"][k] for k in same} == same, cid
        assert got["metrics"][K.FID] is not None
        assert got["env"]["threads"] == 1
        assert (ray_dir / got["artifacts"]["samples"].removeprefix("results/")).is_file()
        assert (ray_dir / "raytest" / "models" / f"{cid}.pt").is_file()
    # ann-vae seeds 0 and 1 differ: the seed reached the task.
    assert remote["ann-vae__mnist__seed0"]["metrics"][K.FID] != \
        remote["ann-vae__mnist__seed1"]["metrics"][K.FID]

    stamps = {p: p.stat().st_mtime_ns for p in (ray_dir / "raytest" / "records").glob("*.json")}
    again = CountingFactory()
    second = run_suite_ray(suite, cells, results_dir=ray_dir, context_factory=again)
    assert again.calls == []  # everything recorded: nothing prepared, nothing submitted
    assert second == out
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_a_dead_worker_is_retried_then_recorded_as_failed(ray_instance, test_adapters, tmp_path):
    path = tmp_path / "raycrash.toml"
    path.write_text(CRASH_SUITE)
    suite = load_suite(path)
    results = tmp_path / "results"
    out = run_suite_ray(suite, select_cells(suite), results_dir=results,
                        context_factory=FakeContext, max_retries=1)
    assert [r["status"] for r in out] == ["failed", "ok"]
    written = _records(results, "raycrash")
    crashed = written["crash-vae__mnist__seed0"]
    assert crashed == out[0]
    assert crashed["error"]["type"] == "WorkerCrashedError"
    assert "died on all 2 attempt(s)" in crashed["error"]["message"]
    assert all(v is None for v in crashed["metrics"].values())  # a failure is never a number
    assert written["ann-vae__mnist__seed0"]["metrics"][K.FID] is not None

    # A re-run tries the failed cell again (no retry this time) and keeps the finished one.
    stamp = (results / "raycrash/records/ann-vae__mnist__seed0.json").stat().st_mtime_ns
    again = run_suite_ray(suite, select_cells(suite), results_dir=results,
                          context_factory=FakeContext, max_retries=0)
    assert "died on all 1 attempt(s)" in again[0]["error"]["message"]
    assert (results / "raycrash/records/ann-vae__mnist__seed0.json").stat().st_mtime_ns == stamp


def test_a_task_starts_from_a_twin_the_driver_recorded(ray_instance, test_adapters, tmp_path):
    """A task writes into its own scratch folder but finds its trained twin in the driver's
    results folder (a local instance sees it), as a conversion cell finds its ANN."""
    path = tmp_path / "twin.toml"
    path.write_text(TWIN_SUITE)
    suite = load_suite(path)
    results = tmp_path / "results"
    (ann,) = run_suite_ray(suite, select_cells(suite, labels=["ann-vae"]), results_dir=results,
                           context_factory=FakeContext)
    twin, other = run_suite_ray(suite, select_cells(suite, labels=["twin-vae", "twin-vae-other"]),
                                results_dir=results, context_factory=FakeContext)
    assert twin["status"] == other["status"] == "ok"
    assert twin["fit"]["extra"]["twin_train_seconds"] == ann["fit"]["train_seconds"]
    assert twin["metrics"][K.FID] == ann["metrics"][K.FID]
    assert "twin_train_seconds" not in other["fit"]["extra"]  # another config: trained itself
    assert (results / "twin" / "models" / "twin-vae__mnist__seed0.pt").is_file()


def test_a_data_set_that_cannot_be_prepared_fails_its_cells(ray_instance, tmp_path):
    path = tmp_path / "raytest.toml"
    path.write_text(SUITE)
    suite = load_suite(path)

    def no_data(name: str, suite: object) -> FakeContext:
        raise FileNotFoundError(f"{name} is not fetched")

    out = run_suite_ray(suite, select_cells(suite), results_dir=tmp_path / "results",
                        context_factory=no_data)
    assert [r["status"] for r in out] == ["failed"] * 3
    assert all("mnist is not fetched" in r["error"]["message"] for r in out)
    assert len(_records(tmp_path / "results", "raytest")) == 3


def test_smoke_suite_on_real_data_through_ray_equals_local(ray_instance, tmp_path):
    """The smoke suite's PyTorch cells on the fetched MNIST: the same numbers either way."""
    suite = load_suite("smoke")
    cells = select_cells(suite, labels=["ann-vae", "ann-gan"])
    local_dir, ray_dir = tmp_path / "local", tmp_path / "ray"
    local = run_suite(suite, cells, results_dir=local_dir)  # the real data sets
    remote = run_suite_ray(suite, cells, results_dir=ray_dir)
    for want, got in zip(local, remote, strict=True):
        assert got["status"] == want["status"] == "ok", got["error"]
        assert got["config_hash"] == want["config_hash"]
        assert got["op_counts"] == want["op_counts"]
        same = {k: v for k, v in want["metrics"].items() if k not in UNCHECKED}
        assert {k: got["metrics"][k] for k in same} == same, got["cell_id"]
