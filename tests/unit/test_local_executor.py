"""``run --jobs N``: cells in spawned worker processes, on tiny synthetic data.

Workers are fresh Python processes: they unpickle :class:`tests.fakes.FakeContext` and get the
test adapters from the registry the parent hands them.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import pytest

import adapters
from adapters.ann import AnnVAE
from benchmarks.__main__ import main
from benchmarks.check import UNCHECKED  # timings: they measure the machine
from benchmarks.driver import run_suite
from benchmarks.executors.local import LocalWorkers
from benchmarks.plan import select_cells
from benchmarks.suites import load_suite
from benchmarks.workers import REPO_ROOT
from tests.fakes import TINY_ANN_GAN, TINY_ANN_VAE, FakeContext, tiny_suite
from tests.fakes import run_suite as run_sequential

SUITE = tiny_suite("jobs", f"""{TINY_ANN_VAE}
[[entry]]
adapter = "exit-vae"
seeds = [0]

{TINY_ANN_GAN}seeds = [0]
""", seeds=(0, 1))


class ExitVAE(AnnVAE):
    """Training ends its own process with exit code 7, as an OOM kill or a segfault would; in the
    test's own process (the sequential executor) it raises instead."""

    name: ClassVar[str] = "exit-vae"

    def fit(self, train, *, seed, progress=None):
        if mp.parent_process() is not None:  # a --jobs worker
            Path(os.environ["EXIT_VAE_LOG"]).open("a").write("attempt\n")
            os._exit(7)
        raise RuntimeError("exit-vae ran outside a worker")


@pytest.fixture
def suite(tmp_path, monkeypatch):
    monkeypatch.setitem(adapters.ADAPTERS, "exit-vae", "test_local_executor:ExitVAE")
    monkeypatch.setenv("EXIT_VAE_LOG", str(tmp_path / "exit-vae.log"))
    path = tmp_path / "jobs.toml"
    path.write_text(SUITE)
    return load_suite(path)


def _parallel(suite, cells, results: Path, *, jobs: int = 2, max_retries: int = 1):
    return run_suite(suite, cells, LocalWorkers(jobs, FakeContext), results_dir=results,
                     max_retries=max_retries)


def _records(results: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text())
            for p in sorted((results / "jobs" / "records").glob("*.json"))}


def test_two_workers_give_the_sequential_numbers_and_a_dead_worker_costs_one_cell(suite,
                                                                                  tmp_path):
    cells = select_cells(suite)
    par_dir, seq_dir = tmp_path / "par", tmp_path / "seq"
    out = _parallel(suite, cells, par_dir, max_retries=1)
    assert [r["cell_id"] for r in out] == [c.cell_id for c in cells]  # the suite's order
    status = {r["cell_id"]: r["status"] for r in out}
    assert status == {"ann-vae__mnist__seed0": "ok", "ann-vae__mnist__seed1": "ok",
                      "exit-vae__mnist__seed0": "failed", "ann-gan__mnist__seed0": "ok"}
    dead = _records(par_dir)["exit-vae__mnist__seed0"]
    assert dead["error"]["type"] == "WorkerDied"
    assert "all 2 attempt(s)" in dead["error"]["message"]
    assert "exit code 7" in dead["error"]["message"]
    assert (tmp_path / "exit-vae.log").read_text().count("attempt") == 2  # retried once
    assert all(v is None for v in dead["metrics"].values())

    run_sequential(suite, [c for c in cells if c.entry.adapter != "exit-vae"],
                   results_dir=seq_dir)
    par, seq = _records(par_dir), _records(seq_dir)
    for cid, record in seq.items():
        got = par[cid]
        assert got["config_hash"] == record["config_hash"]
        assert got["env"]["jobs"] == 2 and record["env"]["jobs"] == 1
        for key, value in record["metrics"].items():
            if key not in UNCHECKED:
                assert got["metrics"][key] == value, (cid, key)
        assert (par_dir / got["artifacts"]["samples"].removeprefix("results/")).is_file()
        assert (par_dir / "jobs" / "models" / f"{cid}.pt").is_file()

    # resume: the finished cells are kept, only the failed one runs again (and dies again)
    (tmp_path / "exit-vae.log").unlink()
    again = _parallel(suite, cells, par_dir, max_retries=0)
    assert [r["timing"] for r in again if r["status"] == "ok"] == \
        [par[r["cell_id"]]["timing"] for r in again if r["status"] == "ok"]
    assert (tmp_path / "exit-vae.log").read_text().count("attempt") == 1


@pytest.mark.parametrize("jobs, max_retries, message", [
    (0, 1, "jobs must be an int from 1 to .*, got 0"),
    (True, 1, "jobs must be an int from 1 to .*, got True"),
    (2, -1, "max_retries must be an int >= 0, got -1"),
])
def test_bad_jobs_or_retries_are_rejected(suite, tmp_path, jobs, max_retries, message):
    with pytest.raises(ValueError, match=message):
        _parallel(suite, select_cells(suite), tmp_path, jobs=jobs, max_retries=max_retries)
    assert not (tmp_path / "jobs").exists()


def test_cli_rejects_jobs_with_ray_and_jobs_below_one(suite, tmp_path, caplog):
    path = tmp_path / "jobs.toml"
    assert main(["run", "--suite", str(path), "--jobs", "0", "--results-dir",
                 str(tmp_path)]) == 2
    assert "--jobs must be >= 1, got 0" in caplog.text
    assert main(["run", "--suite", str(path), "--jobs", "2", "--executor", "ray",
                 "--results-dir", str(tmp_path)]) == 2
    assert "--jobs is for the local executor" in caplog.text
    assert not (tmp_path / "jobs").exists()


class SleepVAE(AnnVAE):
    """Training writes its process id to ``$SLEEP_VAE_PID`` and then takes a minute."""

    name: ClassVar[str] = "sleep-vae"

    def fit(self, train, *, seed, progress=None):
        Path(os.environ["SLEEP_VAE_PID"]).write_text(str(os.getpid()))
        time.sleep(60)
        raise RuntimeError("sleep-vae woke up: its worker outlived the killed parent")


_PARENT = """
import adapters
from benchmarks.driver import run_suite
from benchmarks.executors.local import LocalWorkers
from benchmarks.plan import select_cells
from benchmarks.suites import load_suite
from tests.fakes import FakeContext
adapters.ADAPTERS["sleep-vae"] = "test_local_executor:SleepVAE"
suite = load_suite({suite!r})
run_suite(suite, select_cells(suite, labels=["sleep-vae"]), LocalWorkers(1, FakeContext),
          results_dir={results!r})
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_workers_end_with_their_parent(tmp_path, how):
    suite = tmp_path / "sleep.toml"
    suite.write_text(SUITE.replace('adapter = "exit-vae"', 'adapter = "sleep-vae"'))
    pid_file = tmp_path / "worker.pid"
    env = {**os.environ, "SLEEP_VAE_PID": str(pid_file),
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(Path(__file__).parent)])}
    parent = subprocess.Popen([sys.executable, "-c", _PARENT.format(
        suite=str(suite), results=str(tmp_path / "results"))], env=env, cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists():
            assert parent.poll() is None and time.monotonic() < deadline, "no worker started"
            time.sleep(0.2)
        worker = int(pid_file.read_text())
        parent.send_signal(how)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 15
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(worker), f"worker {worker} outlived its parent ({how.name})"
    finally:
        parent.kill()


class _CountingWorkers(LocalWorkers):
    """LocalWorkers that counts the worker processes it starts."""

    started = 0

    def _start_worker(self):
        type(self).started += 1
        return super()._start_worker()


def test_never_more_workers_than_pending_cells(suite, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    cells = [c for c in select_cells(suite) if c.entry.adapter == "ann-vae"][:1]
    _CountingWorkers.started = 0
    with caplog.at_level("WARNING"):
        out = run_suite(suite, cells, _CountingWorkers(8, FakeContext),
                        results_dir=tmp_path / "r")
    assert [r["status"] for r in out] == ["ok"]
    assert _CountingWorkers.started == 1  # --jobs 8, one pending cell: one worker
    assert not [r for r in caplog.records if "threads on" in r.getMessage()]


def test_jobs_out_of_range_are_refused_and_oversubscription_warned(suite, tmp_path, caplog,
                                                                   monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    for bad in (0, 9, 1000, True, 2.0):
        with pytest.raises(ValueError, match=r"--jobs must be an int from 1 to 8 .*2-core"):
            LocalWorkers(bad)
    ex = LocalWorkers(3, FakeContext)
    jobs = [object()] * 3
    with caplog.at_level("WARNING"):
        ex.open(suite, tmp_path, jobs)
    (msg,) = [r.getMessage() for r in caplog.records if "threads on" in r.getMessage()]
    assert f"3 cells at once x {suite.threads} thread(s)" in msg and "2 core(s)" in msg
