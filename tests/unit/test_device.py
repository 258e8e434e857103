"""The device option: its resolution, the errors that name what was found, where it is recorded,
and that it changes no config hash (nor, with ``amp`` off, any config)."""

from __future__ import annotations

import logging
import types

import pytest
import torch

import adapters
import benchmarks.__main__ as cli
from adapters import device as dev
from adapters.ann import AnnVAE
from adapters.base import config_dict
from benchmarks import records as rec
from benchmarks.execute import _matching_twin, make_record
from benchmarks.plan import cell_hash, full_config, plan, select_cells
from benchmarks.suites import load_suite
from tests.fakes import TINY_ANN_VAE, TwinVAE, tiny_suite


@pytest.fixture
def no_gpu(monkeypatch):
    """A machine whose torch sees neither CUDA nor MPS (whatever this one has)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch):
    """A machine whose torch sees one CUDA GPU (nothing runs on it in these tests)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU 9000")


# -- resolution ----------------------------------------------------------------------------------
def test_auto_without_a_gpu_is_the_cpu(no_gpu):
    assert dev.resolve_device("auto") == torch.device("cpu")
    assert dev.resolve_device("cpu") == torch.device("cpu")


def test_auto_with_a_gpu_is_the_first_cuda_device(one_gpu):
    assert dev.resolve_device("auto") == torch.device("cuda:0")
    assert dev.resolve_device("cuda") == torch.device("cuda:0")
    assert dev.resolve_device("cuda:0") == torch.device("cuda:0")


def test_cuda_without_a_gpu_fails_naming_what_was_found(no_gpu):
    for spec in ("cuda", "cuda:1"):
        with pytest.raises(dev.DeviceError) as err:
            dev.resolve_device(spec)
        message = str(err.value)
        assert f"device {spec!r} asked for, but this machine has no usable CUDA GPU" in message
        assert "torch.cuda.is_available() is False" in message
        assert "0 CUDA device(s)" in message and f"torch {torch.__version__}" in message
        assert "MPS available: False" in message and "--device cpu" in message


def test_a_gpu_index_beyond_the_machine_names_the_gpus_it_has(one_gpu):
    with pytest.raises(dev.DeviceError, match=r"'cuda:3' asked for, but .*1 CUDA device\(s\): "
                                              r"cuda:0 \(Fake GPU 9000\).*cuda:0 to cuda:0"):
        dev.resolve_device("cuda:3")


def test_mps_without_one_fails(no_gpu):
    with pytest.raises(dev.DeviceError, match="no usable MPS device.*MPS available: False"):
        dev.resolve_device("mps")


@pytest.mark.parametrize("bad", ["gpu", "CPU", "cuda:", "cuda:-1", "cuda:x", "tpu", "", 0, None])
def test_an_unknown_device_is_rejected_with_the_allowed_values(bad):
    for check in (dev.check_device_spec, dev.resolve_device):
        with pytest.raises(dev.DeviceError) as err:
            check(bad)
        assert f"unknown device {bad!r}; allowed: auto, cpu, cuda, cuda:N, mps" in str(err.value)


# -- suites and the command line -----------------------------------------------------------------
def test_suite_devices_default_to_the_cpu_and_full_to_auto():
    assert {name: load_suite(name).device for name in ("smoke", "ci", "quick", "full")} == {
        "smoke": "cpu", "ci": "cpu", "quick": "cpu", "full": "auto"}


def test_a_suite_file_with_a_bad_device_is_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(tiny_suite("bad", TINY_ANN_VAE).replace("threads = 1\n",
                                                             'threads = 1\ndevice = "gpu"\n'))
    with pytest.raises(ValueError, match=r"\[suite\] device: unknown device 'gpu'; allowed: "
                                         r"auto, cpu, cuda, cuda:N, mps"):
        load_suite(path)


def test_the_device_enters_no_config_hash(tmp_path):
    """The device is a run option like threads: a record made on one device is the record of
    the same cell on any other (resume, check and compare rely on it)."""
    texts = {d: tiny_suite("h", TINY_ANN_VAE).replace("threads = 1\n",
                                                      f'threads = 1\ndevice = "{d}"\n')
             for d in ("cpu", "cuda:1", "auto")}
    hashes = set()
    for d, text in texts.items():
        path = tmp_path / f"{d.replace(':', '')}.toml"
        path.write_text(text)
        suite = load_suite(path)
        hashes |= {p.chash for p in plan(suite, select_cells(suite), tmp_path)}
    assert len(hashes) == 1


def _errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("command", ["run", "sample", "score"])
def test_cli_device_errors_come_before_any_work(command, no_gpu, tmp_path, caplog, monkeypatch):
    path = tmp_path / "cli.toml"
    path.write_text(tiny_suite("cli", TINY_ANN_VAE))
    for name in ("benchmarks.driver.run_suite", "benchmarks.sample_worker.sample_saved",
                 "benchmarks.score.score", "benchmarks.data.fetch"):
        monkeypatch.setattr(name, lambda *a, **k: pytest.fail("work began before the device "
                                                              "was checked"))
    argv = {"run": ["run", "--suite", str(path), "--results-dir", str(tmp_path), "--no-tables"],
            "sample": ["sample", "--suite", str(path), "--adapter", "ann-vae", "--dataset",
                       "mnist", "--seed", "0", "--out", str(tmp_path / "s.npz"),
                       "--results-dir", str(tmp_path)],
            "score": ["score", "--suite", str(path), "--dataset", "mnist", "--samples",
                      str(tmp_path / "s.npz"), "--results-dir", str(tmp_path)]}[command]
    for device, expected in (("cuda", "no usable CUDA GPU"),
                             ("gpu0", "unknown device 'gpu0'; allowed: auto, cpu, cuda")):
        with caplog.at_level(logging.ERROR):
            code = cli.main([*argv, "--device", device])
        assert code == 2
        assert expected in _errors(caplog)[-1]


# -- placement and records -----------------------------------------------------------------------
def test_torch_adapters_are_placed_where_asked():
    model = adapters.create("ann-vae", {"hidden": 8, "latent": 4})
    assert dev.place(model, torch.device("cpu")) == dev.Placement("cpu", "cpu", None)
    assert model.device == torch.device("cpu")
    assert {"cpu", "cuda", "mps"} <= model.device_types


def test_a_torch_adapter_that_does_not_opt_in_stays_on_the_cpu():
    """A plugin built on TorchModuleAdapter runs on the CPU until it says its code follows the
    device rules (device_types = TORCH_DEVICES), instead of failing on a GPU."""
    from adapters.torch_adapter import TORCH_DEVICES, TorchModuleAdapter

    class NotReady(AnnVAE):
        name = "not-ready"
        device_types = TorchModuleAdapter.device_types

    assert TorchModuleAdapter.device_types == frozenset({"cpu"})
    placed = dev.place(NotReady({"hidden": 8, "latent": 4}), torch.device("cuda", 0))
    assert (placed.used, placed.reason) == (
        "cpu", "not-ready runs only on ['cpu'] (its device_types), not on cuda")
    for name in ("ann-vae", "ann-vae-gaussian", "ann-vae-learned-prior", "ann-gan",
                 "surrogate-vae", "surrogate-gan"):
        assert adapters.get_adapter_class(name).device_types == TORCH_DEVICES


def test_stdp_runs_on_the_cpu_and_says_why():
    pytest.importorskip("spyker")
    model = adapters.create("stdp-ae", {"channels": [4], "kernels": [3], "thresholds": [3.0],
                                        "pools": [4], "wta_k": [2], "wta_radius": [1],
                                        "stdp_images": [8]})
    placed = dev.place(model, torch.device("cuda", 0))  # nothing is moved: no GPU is touched
    assert (placed.requested, placed.used) == ("cuda:0", "cpu")
    assert "spyker" in placed.reason and "CPU" in placed.reason
    assert model.device == torch.device("cpu")


def test_conversion_says_it_stays_on_the_cpu():
    from adapters.conversion import ConversionVAE

    reason = ConversionVAE.device_unsupported(object.__new__(ConversionVAE), torch.device("cuda"))
    assert "TensorFlow" in reason and "CPU" in reason
    assert "cuda" not in ConversionVAE.device_types


def test_a_cpu_record_names_its_device_and_nothing_it_lacks():
    env = dev.environment(None)
    assert env == {"device": "cpu",
                   "deterministic_algorithms": torch.are_deterministic_algorithms_enabled()}
    full = rec.environment(1)
    assert full["device"] == "cpu" and "accelerator" not in full
    assert "device_requested" not in full and "deterministic_algorithms" in full


def test_a_record_says_why_a_cell_ran_elsewhere_than_asked(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text(tiny_suite("r", TINY_ANN_VAE))
    suite = load_suite(path)
    (p,) = plan(suite, select_cells(suite), tmp_path)
    record = make_record(suite, p, status="ok", error=None,
                         placement={"requested": "cuda:0", "used": "cpu",
                                    "reason": "spyker has no CUDA"})
    env = record["env"]
    assert (env["device"], env["device_requested"], env["device_reason"]) == (
        "cpu", "cuda:0", "spyker has no CUDA")
    assert "accelerator" not in env


def test_a_gpu_record_names_the_gpu_driver_cuda_and_determinism(one_gpu, monkeypatch):
    props = types.SimpleNamespace(major=9, minor=0, total_memory=141 * 2**30)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props)
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    monkeypatch.setattr(dev, "_nvidia_driver", lambda: "570.86")
    env = dev.environment(dev.Placement("cuda:0", "cuda:0"))
    info = env["accelerator"]
    assert env["device"] == "cuda:0" and "device_requested" not in env
    assert (info["name"], info["capability"], info["memory_gib"], info["driver"],
            info["cudnn"]) == ("Fake GPU 9000", "9.0", 141.0, "570.86", 90100)
    assert info["cuda_runtime"] == torch.version.cuda
    assert {"cudnn_deterministic", "cudnn_benchmark", "tf32_matmul", "tf32_cudnn",
            "cuda_driver_api"} <= set(info)
    assert isinstance(env["deterministic_algorithms"], bool)


def test_a_twin_trained_on_another_device_is_not_reused():
    """A conversion runs on the CPU: an ANN twin trained on a GPU holds other weights."""
    model = TwinVAE({"epochs": 1, "hidden": 8, "latent": 4})  # names its twin with asdict
    recorded = config_dict(AnnVAE.Config(epochs=1, hidden=8, latent=4))  # as a record holds it
    twin = {"adapter": "ann-vae", "config": recorded, "model_path": "x", "fit": {},
            "cell_id": "c"}
    assert _matching_twin(model, [{**twin, "device": "cpu"}], "cpu") is not None
    assert _matching_twin(model, [{**twin, "device": "cuda:0"}], "cpu") is None


# -- mixed precision -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ann-vae", "ann-vae-learned-prior", "ann-gan",
                                  "surrogate-vae", "surrogate-gan"])
def test_amp_off_leaves_every_config_and_hash_as_it_was(name, tmp_path):
    cls = adapters.get_adapter_class(name)
    assert "amp" not in config_dict(cls.Config())
    assert config_dict(cls.Config(amp="bf16"))["amp"] == "bf16"
    hashes = []
    for extra in ("", ", amp = \"off\"", ", amp = \"bf16\""):
        path = tmp_path / "amp.toml"
        path.write_text(tiny_suite("amp", f'[[entry]]\nadapter = "{name}"\n'
                                          f"config = {{ epochs = 1{extra} }}\n"))
        suite = load_suite(path)
        (cell,) = select_cells(suite)
        hashes.append(cell_hash(suite, cell, full_config(cell.entry)))
    assert hashes[0] == hashes[1] != hashes[2]


def test_amp_accepts_off_and_bf16_only():
    with pytest.raises(ValueError, match=r"amp must be one of \['off', 'bf16'\], got 'fp16'"):
        adapters.create("ann-vae", {"amp": "fp16"})


@pytest.mark.parametrize("name, config", [
    ("ann-vae", {"hidden": 16, "latent": 4}),
    ("ann-gan", {"hidden": 16, "noise_dim": 4}),
    ("surrogate-vae", {"hidden": [16], "latent": 4, "timesteps": 2}),
    ("surrogate-gan", {"hidden": [16], "noise_dim": 4, "timesteps": 2}),
])
def test_bf16_training_runs_and_is_recorded_in_the_saved_config(name, config, tmp_path):
    if name.startswith("surrogate"):
        pytest.importorskip("snntorch")
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    model = adapters.create(name, {**config, "epochs": 1, "batch_size": 8, "amp": "bf16"})
    report = model.fit(x, seed=0)
    assert all(torch.isfinite(torch.tensor(v)).all() for v in report.history.values())
    out = model.sample(4, seed=0)
    assert out.dtype == torch.float32 and out.device.type == "cpu"
    model.save(tmp_path / "m.pt")
    assert torch.load(tmp_path / "m.pt", weights_only=True)["config"]["amp"] == "bf16"
    plain = adapters.create(name, {**config, "epochs": 1, "batch_size": 8})
    with pytest.raises(ValueError, match="was saved with config"):
        plain.load(tmp_path / "m.pt")


def test_a_run_records_the_device_its_cells_ran_on(tmp_path):
    from tests.fakes import run_suite

    path = tmp_path / "run.toml"
    path.write_text(tiny_suite("run", TINY_ANN_VAE).replace("threads = 1\n",
                                                            'threads = 1\ndevice = "auto"\n'))
    suite = load_suite(path)
    (record,) = run_suite(suite, select_cells(suite), results_dir=tmp_path / "results")
    assert record["status"] == "ok"
    where = dev.resolve_device("auto")  # the CPU on a machine without a GPU
    assert record["env"]["device"] == str(where)
    assert ("accelerator" in record["env"]) == (where.type != "cpu")
    assert "amp" not in record["adapter"]["config"]
