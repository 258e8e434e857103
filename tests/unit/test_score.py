"""``python -m benchmarks score``: samples made outside the suite, measured on its protocol.

The fast tests inject :class:`tests.fakes.FakeContext` (synthetic data, untrained feature
networks); the real-data test is marked ``slow``.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest
import torch
from PIL import Image

import adapters
import benchmarks.__main__ as cli
from adapters.base import FAMILIES
from benchmarks import records as rec
from benchmarks.metrics import keys as K
from benchmarks.plan import select_cells
from benchmarks.score import (
    EXTERNAL,
    SampleError,
    as_images,
    load_ops,
    load_samples,
    score,
    write,
)
from benchmarks.suites import load_suite
from tests.fakes import TINY_ANN_GAN, FakeContext, blobs, run_suite, tiny_suite

N_EVAL = 64  # tiny_suite's
#: every metric score measures from the samples (the cell's own measure() computes the same)
SAMPLE_KEYS = (K.FID, K.KID, K.KID_STD, K.PRECISION, K.RECALL, K.FID_AE, K.KID_AE, K.KID_STD_AE,
               K.PRECISION_AE, K.RECALL_AE, K.CLASSES_COVERED, K.CLASSES_AT_5PCT,
               K.TOP_CLASS_SHARE, K.CLASS_KL, K.FID_DATA_FLOOR, K.FID_NOISE_CEILING,
               K.FEATURE_NET_ACCURACY)
OP_KEYS = (K.TIMESTEPS, K.SPIKES, K.FIRING_RATE, K.SYNAPTIC_OPS, K.MACS, K.NEURON_UPDATES,
           K.ENERGY_NJ, K.ENERGY_RATIO)


@pytest.fixture
def suite_file(tmp_path):
    path = tmp_path / "scored.toml"
    path.write_text(tiny_suite("scored", TINY_ANN_GAN))
    return path


@pytest.fixture
def suite(suite_file):
    return load_suite(suite_file)


def _errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _uint8(images: torch.Tensor) -> np.ndarray:
    """Images as ``sample`` exports them: uint8 N x 28 x 28."""
    return (images.squeeze(1).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


# -- the protocol ---------------------------------------------------------------------------------

def test_scoring_a_cells_samples_gives_the_cells_own_numbers(suite, tmp_path):
    """Samples of a trained cell, exported and scored, get every number its run measured: the
    same reference, feature networks, metric functions and energy model."""
    runs = tmp_path / "runs"
    (cell,) = select_cells(suite)
    (record,) = run_suite(suite, [cell], results_dir=runs)
    assert record["status"] == "ok", record["error"]
    model = adapters.create("ann-gan", cell.entry.config)
    model.load(rec.model_path(runs, suite.name, cell.cell_id))
    np.savez(tmp_path / "samples.npz", images=_uint8(model.sample(N_EVAL, seed=cell.seed)))
    (tmp_path / "ops.json").write_text(json.dumps(record["op_counts"]))

    scored = score(load_samples(tmp_path / "samples.npz", n_min=N_EVAL), suite=suite,
                   dataset="mnist", label="ann-gan-exported", family="gan",
                   ops=load_ops(tmp_path / "ops.json"), results_dir=runs,
                   context_factory=FakeContext)
    for key in (*SAMPLE_KEYS, *OP_KEYS):
        assert scored["metrics"][key] == record["metrics"][key], key
    assert scored["metrics"][K.ENERGY_RATIO] == pytest.approx(1.0)  # it is the gan baseline
    assert scored["class_histogram"] == record["class_histogram"]
    assert scored["adapter"] == {
        "label": "ann-gan-exported", "name": EXTERNAL, "backend": EXTERNAL, "family": "gan",
        "config": scored["adapter"]["config"]}
    assert scored["status"] == "ok" and scored["metric_config"]["n_samples"] == N_EVAL


def test_energy_comes_from_the_ops_file_and_the_suites_ann_baseline(suite, tmp_path):
    ops = tmp_path / "ops.json"
    ops.write_text(json.dumps({"macs": 1000.0, "synaptic_ops": 20000.0, "spikes": 300.0,
                               "neuron_updates": 1200.0, "timesteps": 4}))
    record = score(blobs(N_EVAL, 7), suite=suite, dataset="mnist", label="mine",
                   ops=load_ops(ops), results_dir=tmp_path, context_factory=FakeContext)
    m = record["metrics"]
    energy = (1000 * 4.6 + 20000 * 0.9) / 1000  # horowitz-45nm: 4.6 pJ/MAC, 0.9 pJ/AC
    # the suite's ann-gan (hidden 32, noise 8): 8*32 + 32*32 + 32*784 dense MACs per sample
    baseline = (8 * 32 + 32 * 32 + 32 * 784) * 4.6 / 1000
    assert m[K.ENERGY_NJ] == pytest.approx(energy)
    assert m[K.ENERGY_RATIO] == pytest.approx(energy / baseline)
    assert (m[K.SPIKES], m[K.NEURON_UPDATES], m[K.FIRING_RATE], m[K.TIMESTEPS]) == \
        (300.0, 1200.0, 0.25, 4.0)


def test_without_ops_the_energy_columns_are_empty_never_zero(suite_file, suite, tmp_path):
    record = score(blobs(N_EVAL, 7), suite=suite, dataset="mnist", label="no-ops",
                   results_dir=tmp_path, context_factory=FakeContext)
    assert all(record["metrics"][key] is None for key in OP_KEYS)
    assert record["op_counts"] is None
    assert math.isfinite(record["metrics"][K.FID]) and record["metrics"][K.FID] > 0
    path = write(record, tmp_path)
    assert rec.read_record(path)["metrics"][K.ENERGY_NJ] is None
    assert cli.main(["tables", "--suite", "scored", "--results-dir", str(tmp_path)]) == 0
    summary = (tmp_path / "scored" / "tables" / "summary.md").read_text()
    row = next(line for line in summary.splitlines() if line.startswith("| no-ops"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    header = next(line for line in summary.splitlines() if line.startswith("| Method")
                  or "Energy/sample" in line)
    names = [c.strip() for c in header.strip("|").split("|")]
    energy = cells[next(i for i, n in enumerate(names) if n.startswith("Energy/sample"))]
    assert energy == "—" and "external" in row


def test_more_samples_than_n_eval_score_the_first_n_eval(suite, tmp_path):
    images = blobs(N_EVAL + 10, 3)
    full = score(images, suite=suite, dataset="mnist", label="long", results_dir=tmp_path,
                 context_factory=FakeContext)
    first = score(images[:N_EVAL], suite=suite, dataset="mnist", label="long",
                  results_dir=tmp_path, context_factory=FakeContext)
    assert full["metrics"][K.FID] == first["metrics"][K.FID]
    assert full["adapter"]["config"]["samples_sha256"] == \
        first["adapter"]["config"]["samples_sha256"]


def test_a_suite_entry_label_or_another_data_set_is_refused(suite, tmp_path):
    with pytest.raises(ValueError, match=r"--label 'ann-gan' is an entry of suite 'scored'"):
        score(blobs(N_EVAL, 1), suite=suite, dataset="mnist", label="ann-gan",
              results_dir=tmp_path, context_factory=FakeContext)
    with pytest.raises(ValueError, match=r"--dataset 'fashion-mnist' is not a data set of suite "
                                         r"'scored'; allowed: \['mnist'\]"):
        score(blobs(N_EVAL, 1), suite=suite, dataset="fashion-mnist", results_dir=tmp_path,
              context_factory=FakeContext)
    with pytest.raises(ValueError, match=r"--label 'My Model' must match"):
        score(blobs(N_EVAL, 1), suite=suite, dataset="mnist", label="My Model",
              results_dir=tmp_path, context_factory=FakeContext)


def test_a_scored_record_never_replaces_a_runs_record(suite, tmp_path):
    (record,) = run_suite(suite, select_cells(suite), results_dir=tmp_path)
    rec.write_record(tmp_path, record)
    scored = score(blobs(N_EVAL, 2), suite=suite, dataset="mnist", label="mine",
                   results_dir=tmp_path, context_factory=FakeContext)
    scored["cell_id"] = record["cell_id"]
    with pytest.raises(ValueError, match=r"holds a record of a run \(backend 'ann'\)"):
        write(scored, tmp_path)


# -- the CLI, tables and compare -------------------------------------------------------------------

@pytest.fixture
def fake_data(monkeypatch):
    """``score`` on :class:`FakeContext` data: no download, no feature network."""
    monkeypatch.setattr("benchmarks.execute.DatasetContext", FakeContext)
    monkeypatch.setattr("benchmarks.data.fetch", lambda name, data_dir=None: None)


def test_the_score_command_writes_a_record_that_compare_includes(suite_file, suite, tmp_path,
                                                                 fake_data, capsys):
    reference, run = tmp_path / "reference", tmp_path / "run"
    for folder in (reference, run):
        for record in run_suite(suite, select_cells(suite), results_dir=folder):
            rec.write_record(folder, record)
    samples = tmp_path / "mine.npy"
    np.save(samples, blobs(N_EVAL, 9).numpy())
    code = cli.main(["score", "--suite", str(suite_file), "--dataset", "mnist", "--samples",
                     str(samples), "--label", "my-snn", "--seed", "2", "--results-dir", str(run),
                     "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    record = rec.read_record(out["record"])
    assert record["cell_id"] == "my-snn__mnist__seed2" and record["seed"] == 2
    assert record["adapter"]["backend"] == EXTERNAL and record["adapter"]["family"] == "gan"
    assert out["metrics"][K.FID] == record["metrics"][K.FID]
    assert (run / "scored" / "figures" / "samples" / "my-snn__mnist__seed2.png").is_file()

    cli.main(["compare", "--suite", str(suite_file), "--run-dir", str(run), "--reference",
              str(reference)])
    text = capsys.readouterr().out
    assert "my-snn on mnist: cell my-snn__mnist__seed2 is not in the reference" in text


@pytest.mark.parametrize(("make", "found"), [
    (lambda d: np.save(d / "s.npy", np.zeros((N_EVAL, 28, 27), np.uint8)),
     f"samples of shape ({N_EVAL}, 28, 27); allowed: N x 28 x 28 or N x 1 x 28 x 28"),
    (lambda d: np.save(d / "s.npy", np.zeros((N_EVAL, 3, 28, 28), np.uint8)),
     f"samples of shape ({N_EVAL}, 3, 28, 28); allowed"),
    (lambda d: np.save(d / "s.npy", np.zeros((N_EVAL, 28, 28), np.int64)),
     "dtype int64; allowed: uint8 (0-255) or float in [0, 1]"),
    (lambda d: np.save(d / "s.npy", np.zeros((N_EVAL, 28, 28), bool)),
     "dtype bool; allowed: uint8 (0-255) or float in [0, 1]"),
    (lambda d: np.save(d / "s.npy", np.linspace(-0.5, 2, N_EVAL * 784).reshape(N_EVAL, 28, 28)),
     "float values in [-0.5, 2]; allowed: [0, 1] (or uint8 0-255)"),
    (lambda d: np.save(d / "s.npy", np.where(np.eye(28) > 0, np.nan, 0.5)[None].repeat(N_EVAL, 0)),
     f"{28 * N_EVAL} NaN or infinite value(s); allowed: finite values in [0, 1]"),
    (lambda d: np.save(d / "s.npy", np.zeros((N_EVAL - 1, 28, 28), np.float32)),
     f"{N_EVAL - 1} samples; the protocol needs at least {N_EVAL} (the suite's n_eval)"),
    (lambda d: np.save(d / "s.npy", np.array([{"a": 1}] * 3, dtype=object)),
     "not a readable .npy array of numbers"),
    (lambda d: np.savez(d / "s.npz", a=np.zeros((N_EVAL, 28, 28)), b=np.zeros(3)),
     "holds the arrays ['a', 'b']; allowed: an array named 'images', or exactly one array"),
    (lambda d: (d / "s.txt").write_text("0 0 0"),
     "a .txt file; allowed: .npz, .npy or a folder of .png files"),
    (lambda d: (d / "s").mkdir(),
     "a folder with no .png files; allowed: a folder of 28x28 grayscale .png files"),
    (lambda d: ((d / "s").mkdir(), Image.new("L", (32, 32)).save(d / "s" / "0.png")),
     "0.png: 32x32 pixels; allowed: 28x28"),
    (lambda d: ((d / "s").mkdir(), Image.new("RGB", (28, 28), (255, 0, 0)).save(d / "s" / "0.png")),
     "0.png: a colour or transparent image (mode RGB); allowed: grayscale"),
])
def test_every_bad_samples_file_is_refused_saying_what_was_found(tmp_path, make, found,
                                                                 suite_file, fake_data, caplog):
    make(tmp_path)
    path = next(p for p in tmp_path.iterdir() if p.name.startswith("s") and p != suite_file)
    with pytest.raises(SampleError) as err:
        load_samples(path, n_min=N_EVAL)
    assert found in str(err.value)
    with caplog.at_level(logging.ERROR):  # the command: one line, exit 2, nothing written
        assert cli.main(["score", "--suite", str(suite_file), "--dataset", "mnist", "--samples",
                         str(path), "--results-dir", str(tmp_path / "runs")]) == 2
    assert found in _errors(caplog)[-1]
    assert not (tmp_path / "runs" / "scored" / "records").exists() or \
        not list((tmp_path / "runs" / "scored" / "records").iterdir())


def test_every_accepted_form_gives_the_same_images(tmp_path):
    images = blobs(N_EVAL, 4)
    as_bytes = _uint8(images)
    expected = torch.from_numpy(as_bytes.astype(np.float32) / 255).reshape(N_EVAL, 1, 28, 28)
    np.savez(tmp_path / "named.npz", other=np.zeros(2), images=as_bytes)
    np.savez(tmp_path / "single.npz", samples=as_bytes[:, None])
    np.save(tmp_path / "floats.npy", as_bytes.astype(np.float64) / 255)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, image in enumerate(as_bytes):  # half grayscale, half grey RGB, as image tools write
        png = Image.fromarray(image, mode="L")
        (png if i % 2 else png.convert("RGB")).save(folder / f"{i:05d}.png")
    for source in ("named.npz", "single.npz", "floats.npy", "pngs"):
        loaded = load_samples(tmp_path / source, n_min=N_EVAL)
        assert loaded.dtype == torch.float32 and loaded.shape == (N_EVAL, 1, 28, 28)
        assert torch.allclose(loaded, expected, atol=1e-7), source
    assert torch.equal(as_images(images.numpy(), "floats", n_min=1), images)


@pytest.mark.parametrize(("content", "found"), [
    ({"macs": 1.0, "synaptic_ops": 2.0}, "lacks ['spikes', 'neuron_updates']"),
    ({"macs": 1, "synaptic_ops": 2, "spikes": 3, "neuron_updates": 9, "energy": 4},
     "has unknown key(s) ['energy']; required: ['macs', 'synaptic_ops', 'spikes', "
     "'neuron_updates'], optional: ['timesteps',"),
    ({"macs": -1, "synaptic_ops": 2, "spikes": 3, "neuron_updates": 9},
     "macs is -1; allowed: a finite number >= 0 (per sample)"),
    ({"macs": True, "synaptic_ops": 2, "spikes": 3, "neuron_updates": 9}, "macs is True"),
    ({"macs": 1, "synaptic_ops": 2, "spikes": 30, "neuron_updates": 9},
     "firing rate 3.33333 (spikes / neuron_updates) > 1"),
    ({"macs": 1, "synaptic_ops": 2, "spikes": 3, "neuron_updates": 9, "timesteps": 0},
     "timesteps is 0; allowed: an int >= 1"),
    ({"macs": 1, "synaptic_ops": 2, "spikes": 3, "neuron_updates": 9,
      "spikes_per_layer": {"hidden": 3}}, "layer(s) ['hidden'] have spikes but no "
                                          "neurons_per_layer count > 0"),
    ([1, 2, 3], "holds a list; allowed: a JSON object with ['macs',"),
])
def test_every_bad_ops_file_is_refused_saying_what_was_found(tmp_path, content, found):
    path = tmp_path / "ops.json"
    path.write_text(json.dumps(content))
    with pytest.raises(SampleError) as err:
        load_ops(path)
    assert found in str(err.value)


def test_ops_written_from_op_counts_load_back_unchanged(tmp_path):
    model = adapters.create("ann-vae", {"hidden": 8, "latent": 4})
    model.sample(5, seed=0)
    counts = model.op_counts()
    (tmp_path / "ops.json").write_text(json.dumps(counts.to_dict()))
    assert load_ops(tmp_path / "ops.json") == counts
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SampleError, match="bad.json: not a JSON file"):
        load_ops(tmp_path / "bad.json")


# -- real data ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_real_images_score_near_the_data_floor_and_noise_near_the_ceiling(tmp_path):
    """On the smoke suite's protocol (1,000 samples): real train images (another subset than the
    floor's) score about the data floor, Bernoulli noise of the data's brightness about the
    noise ceiling."""
    from benchmarks import data
    from benchmarks.execute import DatasetContext

    suite = load_suite("smoke")
    ctx = DatasetContext("mnist", suite)
    train = data.load("mnist", "train").images
    real = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(7))[:1000]]
    noise = torch.bernoulli(torch.full((1000, 1, 28, 28), float(train.mean())),
                            generator=torch.Generator().manual_seed(7))
    scores = {}
    for label, images in (("real-train", real), ("noise", noise)):
        scores[label] = score(images, suite=suite, dataset="mnist", label=label,
                              results_dir=tmp_path, context_factory=lambda d, s: ctx)["metrics"]
    floor, ceiling = ctx.anchors[K.FID_DATA_FLOOR], ctx.anchors[K.FID_NOISE_CEILING]
    assert abs(scores["real-train"][K.FID] - floor) < 0.25 * floor + 1.0
    assert abs(scores["noise"][K.FID] - ceiling) < 0.05 * ceiling
    assert scores["real-train"][K.CLASSES_AT_5PCT] == 10.0


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_score_command_takes_every_family(family):
    args = cli.build_parser().parse_args(["score", "--dataset", "mnist", "--samples", "s.npz",
                                      "--family", family])
    assert args.family == family
