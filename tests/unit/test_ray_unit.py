"""The Ray executor's checks that need no Ray instance: install hint, arguments, resume, paths."""

from __future__ import annotations

import importlib
import sys

import pytest

from benchmarks import records as rec
from benchmarks import runner
from benchmarks.runner import select_cells
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
    monkeypatch.delitem(sys.modules, "benchmarks.ray_executor", raising=False)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[ray\]'.*tox -e ray"):
        importlib.import_module("benchmarks.ray_executor")


@pytest.fixture
def ray_executor():
    pytest.importorskip("ray", reason="needs Ray: pip install -e '.[ray]' (or tox -e ray)")
    return importlib.import_module("benchmarks.ray_executor")


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "rayunit.toml"
    path.write_text(SUITE)
    return load_suite(path)


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_max_retries_is_checked(ray_executor, suite, tmp_path, bad):
    with pytest.raises(ValueError, match=rf"max_retries must be an int >= 0, got {bad!r}"):
        ray_executor.run_suite_ray(suite, select_cells(suite), results_dir=tmp_path,
                                   max_retries=bad)


def test_recorded_cells_are_returned_without_starting_ray(ray_executor, suite, tmp_path):
    import ray

    cells = select_cells(suite)
    for cell in cells:
        config = runner.full_config(cell.entry)
        chash = runner.cell_hash(suite, cell, config)
        record = runner.make_record(suite, cell, chash, config, status="ok", error=None)
        rec.write_json_atomic(rec.record_path(tmp_path, suite.name, cell.cell_id), record)

    def never(name, suite):
        raise AssertionError("no context is needed when every cell is recorded")

    out = ray_executor.run_suite_ray(suite, cells, results_dir=tmp_path, context_factory=never)
    assert [r["cell_id"] for r in out] == [c.cell_id for c in cells]
    assert not ray.is_initialized()


def test_a_cell_too_big_for_the_local_instance_is_refused(ray_executor, suite):
    cells = select_cells(suite)
    with pytest.raises(ValueError, match=r"entry 'ann-vae' asks for cpus=3, gpus=1; the Ray "
                                         r"cluster has CPU=2, GPU=0.*allowed: cpus <= 2"):
        ray_executor._check_feasible(cells, {"CPU": 2.0}, local=True)
    ray_executor._check_feasible(cells, {"CPU": 2.0}, local=False)  # a cluster may grow: warns
    ray_executor._check_feasible(cells, {"CPU": 4.0, "GPU": 1.0}, local=True)


def test_task_files_stay_inside_results_dir(ray_executor, tmp_path):
    ray_executor._write_files(tmp_path, {"s/figures/a.png": b"png"})
    assert (tmp_path / "s/figures/a.png").read_bytes() == b"png"
    with pytest.raises(ValueError, match="outside results_dir"):
        ray_executor._write_files(tmp_path / "r", {"../escape.txt": b"x"})
    assert not (tmp_path / "escape.txt").exists()
