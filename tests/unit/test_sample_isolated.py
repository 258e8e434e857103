"""``python -m benchmarks sample`` for a backend that lives in its own environment (conversion):
the model is loaded and sampled by :mod:`benchmarks.sample_worker` under that environment's
Python, and the main process writes the same ``.npz`` as in-process sampling would.

The fast tests stand this Python in for the isolated one (``ann-vae`` treated as if its libraries
were missing here); the ``conversion`` test trains and samples a real conversion-vae when
``.tox/conversion`` exists.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import adapters
import benchmarks.execute
import benchmarks.sample_worker as worker
from adapters.io import IntegrityError
from benchmarks import data as datamod
from benchmarks import records as rec
from benchmarks.__main__ import main
from benchmarks.plan import select_cells
from benchmarks.suites import load_suite
from tests.contract.tiny_configs import TINY_CONFIGS
from tests.fakes import TINY_ANN_VAE, blobs, run_suite, tiny_suite


@pytest.fixture
def trained(tmp_path):
    """A tiny suite file and a results folder holding its ann-vae cell's trained model."""
    path = tmp_path / "iso.toml"
    path.write_text(tiny_suite("iso", TINY_ANN_VAE))
    suite = load_suite(path)
    (entry,) = suite.entries
    model = adapters.create(entry.adapter, entry.config)
    model.fit(blobs(128, 0), seed=0)
    results = tmp_path / "results"
    model.save(rec.model_path(results, suite.name, rec.cell_id(entry.label, "mnist", 0)))
    return path, results


def _through_worker(monkeypatch) -> list[str]:
    """Treat ann-vae as a backend missing here whose environment's Python is this one; returns
    the list of modules the sample command then runs in a child process."""
    monkeypatch.setattr(adapters, "missing_libraries", lambda name: ["tensorflow"])
    monkeypatch.setattr(benchmarks.execute, "isolated_python", lambda backend: Path(sys.executable))
    calls = []
    real = worker.run_module

    def spy(python, module, args, **kwargs):
        calls.append(module)
        return real(python, module, args, **kwargs)

    monkeypatch.setattr(worker, "run_module", spy)
    return calls


def _sample(suite_file, results, out, *extra):
    return main(["sample", "--suite", str(suite_file), "--adapter", "ann-vae", "--dataset",
                 "mnist", "--seed", "0", "-n", "9", "--sample-seed", "5", "--out", str(out),
                 "--results-dir", str(results), *extra])


def _errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def one_thread():
    """Sample here on one thread, as the worker does (the suite's ``threads = 1``), so that both
    paths sum in the same order."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_worker_writes_the_same_images_as_sampling_here(trained, tmp_path, monkeypatch, capsys,
                                                        one_thread):
    suite_file, results = trained
    assert _sample(suite_file, results, tmp_path / "here.npz") == 0
    here = np.load(tmp_path / "here.npz")["images"]

    calls = _through_worker(monkeypatch)
    capsys.readouterr()
    assert _sample(suite_file, results, tmp_path / "there.npz", "--json") == 0
    assert calls == ["benchmarks.sample_worker"]
    assert json.loads(capsys.readouterr().out)["shape"] == [9, 28, 28]  # stdout is only JSON
    there = np.load(tmp_path / "there.npz")["images"]
    assert there.dtype == np.uint8 and there.shape == (9, 28, 28)
    assert here.std() > 0  # images, not a constant
    np.testing.assert_array_equal(there, here)


@pytest.mark.parametrize("isolated", [False, True], ids=["here", "worker"])
def test_corrupt_model_gives_the_retrain_hint(trained, tmp_path, monkeypatch, caplog, isolated):
    suite_file, results = trained
    model_file = rec.model_path(results, "iso", "ann-vae__mnist__seed0")
    raw = bytearray(model_file.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one flipped bit
    model_file.write_bytes(bytes(raw))
    calls = _through_worker(monkeypatch) if isolated else []
    with caplog.at_level(logging.ERROR):
        code = _sample(suite_file, results, tmp_path / "s.npz")
    assert code == 2
    assert calls == (["benchmarks.sample_worker"] if isolated else [])
    (message,) = [m for m in _errors(caplog) if "train it again" in m]
    assert message.startswith(f"{model_file}: SHA-256 ")  # the path once, then the mismatch
    assert message.endswith(f"train it again with: python -m benchmarks run --suite iso "
                            f"--adapters ann-vae --datasets mnist --seeds 0 --results-dir "
                            f"{results} --force")
    assert not (tmp_path / "s.npz").exists()


def test_missing_backend_without_its_environment_names_the_tox_env(tmp_path, monkeypatch,
                                                                    caplog):
    suite_file = tmp_path / "conv.toml"
    suite_file.write_text(tiny_suite("conv", '[[entry]]\nadapter = "conversion-vae"\n'))
    monkeypatch.setattr(adapters, "missing_libraries", lambda name: ["tensorflow"])
    monkeypatch.setattr(benchmarks.execute, "isolated_python", lambda backend: None)
    with caplog.at_level(logging.ERROR):
        code = main(["sample", "--suite", str(suite_file), "--adapter", "conversion-vae",
                     "--dataset", "mnist", "--seed", "0", "--out", str(tmp_path / "s.npz"),
                     "--results-dir", str(tmp_path / "results")])
    assert code == 2
    assert _errors(caplog)[-1] == (
        "conversion-vae needs ['tensorflow'], which are not installed here, and its environment "
        "was not found; create it with: tox -e conversion (or set "
        "SPIKEGENBENCH_CONVERSION_PYTHON to its python)")


@pytest.mark.parametrize("err,cls", [
    (IntegrityError(Path("/m/x.pt"), "SHA-256 a does not match b"), IntegrityError),
    (ValueError("bad value 3"), ValueError),
    (ImportError("no module tensorflow"), ImportError),
    (FileNotFoundError("no file"), OSError),
])
def test_a_reported_failure_is_raised_again_as_the_same_error(err, cls):
    again = worker.reported_error(json.loads(json.dumps(worker.failure_report(err))))
    assert type(again) is cls and str(again) == str(err)


def test_an_unexpected_error_is_not_reported():
    assert worker.failure_report(RuntimeError("a bug")) is None


def _mnist_cached() -> bool:
    return all((datamod.cache_dir("mnist") / name).is_file() for name in datamod.FILES)


@pytest.mark.conversion
@pytest.mark.skipif(benchmarks.execute.isolated_python("conversion") is None,
                    reason="no conversion environment (tox -e conversion)")
@pytest.mark.skipif(not _mnist_cached(), reason="MNIST is not in the cache (python -m benchmarks "
                                                "data fetch mnist)")
def test_conversion_model_is_sampled_from_the_main_environment(tmp_path, capsys):
    config = ", ".join(f"{k} = {v}" for k, v in TINY_CONFIGS["conversion-vae"].items())
    suite_file = tmp_path / "conv.toml"
    suite_file.write_text(tiny_suite("conv", f'[[entry]]\nadapter = "conversion-vae"\n'
                                             f"config = {{ {config} }}\n"))
    suite = load_suite(suite_file)
    results = tmp_path / "results"
    (record,) = run_suite(suite, select_cells(suite), results_dir=results)
    assert record["status"] == "ok", record["error"]

    out = tmp_path / "s.npz"
    assert main(["sample", "--suite", str(suite_file), "--adapter", "conversion-vae",
                 "--dataset", "mnist", "--seed", "0", "-n", "20", "--out", str(out),
                 "--results-dir", str(results), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shape"] == [20, 28, 28]
    images = np.load(out)["images"]
    assert images.dtype == np.uint8 and images.shape == (20, 28, 28) and images.std() > 0
