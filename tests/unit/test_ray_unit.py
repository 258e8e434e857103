"""The Ray executor's checks that need no Ray instance: install hint, arguments, resume, paths."""

from __future__ import annotations

import importlib
import logging
import sys

import pytest

from benchmarks import records as rec
from benchmarks.driver import run_suite, write_files
from benchmarks.execute import make_record
from benchmarks.plan import plan, select_cells
from benchmarks.suites import load_suite

SUITE = """
[suite]
name = "rayunit"
datasets = ["mnist"]
seeds = [0, 1]
n_train = 16
n_eval = 8
n_recon = 8
threads = 1

[[entry]]
adapter = "ann-vae"
config = { epochs = 1, hidden = 8, latent = 4 }
cpus = 3
gpus = 1
"""


def test_without_ray_the_import_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # None in sys.modules: import fails
    monkeypatch.delitem(sys.modules, "benchmarks.executors.ray", raising=False)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[ray\]'.*tox -e ray"):
        importlib.import_module("benchmarks.executors.ray")


def test_ray_is_imported_by_its_executor_only():
    """Planning, executing and the other executors never import Ray (it is optional)."""
    import subprocess

    code = ("import sys, benchmarks.__main__, benchmarks.driver, benchmarks.execute, "
            "benchmarks.executors.local, benchmarks.executors.sequential, benchmarks.plan; "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture
def ray_executor():
    pytest.importorskip("ray", reason="needs Ray: pip install -e '.[ray]' (or tox -e ray)")
    return importlib.import_module("benchmarks.executors.ray")


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "rayunit.toml"
    path.write_text(SUITE)
    return load_suite(path)


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_max_retries_is_checked(ray_executor, suite, tmp_path, bad):
    with pytest.raises(ValueError, match=rf"max_retries must be an int >= 0, got {bad!r}"):
        run_suite(suite, select_cells(suite), ray_executor.RayExecutor(), results_dir=tmp_path,
                  max_retries=bad)


def test_recorded_cells_are_returned_without_starting_ray(ray_executor, suite, tmp_path):
    import ray

    cells = select_cells(suite)
    for p in plan(suite, cells, tmp_path):
        rec.write_record(tmp_path, make_record(suite, p, status="ok", error=None))

    def never(name, suite):
        raise AssertionError("no context is needed when every cell is recorded")

    out = run_suite(suite, cells, ray_executor.RayExecutor(context_factory=never),
                    results_dir=tmp_path)
    assert [r["cell_id"] for r in out] == [c.cell_id for c in cells]
    assert not ray.is_initialized()


def test_a_cell_too_big_for_the_local_instance_is_refused(ray_executor, suite, caplog):
    cells = select_cells(suite)
    with pytest.raises(ValueError, match=r"entry 'ann-vae' asks for cpus=3, gpus=1; the Ray "
                                         r"cluster has CPU=2, GPU=0.*allowed: cpus <= 2"):
        ray_executor._check_feasible(cells, {"CPU": 2.0}, local=True)
    with caplog.at_level(logging.WARNING, logger=ray_executor.__name__):
        ray_executor._check_feasible(cells, {"CPU": 2.0}, local=False)  # a cluster may grow
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "entry 'ann-vae' asks for cpus=3, gpus=1" in caplog.text
    assert "its tasks wait until the cluster grows" in caplog.text
    caplog.clear()
    ray_executor._check_feasible(cells, {"CPU": 4.0, "GPU": 1.0}, local=True)
    assert not caplog.records


def test_task_files_stay_inside_results_dir(tmp_path):
    write_files(tmp_path, {"s/figures/a.png": b"png"})
    assert (tmp_path / "s/figures/a.png").read_bytes() == b"png"
    with pytest.raises(ValueError, match="outside results_dir"):
        write_files(tmp_path / "r", {"../escape.txt": b"x"})
    assert not (tmp_path / "escape.txt").exists()


def test_ray_without_default_token_auth_is_refused(ray_executor, monkeypatch):
    monkeypatch.setattr(ray_executor.ray, "__version__", "2.52.1")
    with pytest.raises(ImportError, match=r"Ray 2.52.1 starts local instances without token "
                                          r"authentication.*ray>=2.60"):
        ray_executor._init_ray(None, None)


def test_a_cell_runs_on_the_gpu_ray_gave_it(ray_executor):
    """Ray shows a task only the GPUs it assigned, so the first is cuda:0; none: the CPU."""
    assert ray_executor.task_device([]) == "cpu"
    assert ray_executor.task_device([3]) == "cuda:0"
    assert ray_executor.task_device(["1", "2"]) == "cuda:0"


def test_a_task_whose_gpu_torch_cannot_use_records_a_failed_cell(ray_executor, suite, tmp_path,
                                                                  monkeypatch):
    import torch

    monkeypatch.setattr(ray_executor.ray, "get_gpu_ids", lambda: [0])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (planned,) = plan(suite, select_cells(suite)[:1], tmp_path)
    record, files = ray_executor._cell_task(suite, planned, None, tmp_path)
    assert record["status"] == "failed" and files == {}
    assert "'cuda:0' asked for, but this machine has no usable CUDA GPU" in \
        record["error"]["message"]
