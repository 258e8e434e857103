"""Figures from the committed fixture records: files written, Pareto front, rates, sample grids."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import figures
from benchmarks.tables import load_records

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "records"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def records():
    return load_records(FIXTURES)


def _assert_png_pdf(paths, stem: Path):
    assert [p.name for p in paths] == [f"{stem.name}.png", f"{stem.name}.pdf"]
    png, pdf = paths
    assert png.read_bytes().startswith(PNG_MAGIC) and png.stat().st_size > 1000
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    assert not list(stem.parent.glob(".*.tmp"))


def test_fid_vs_energy(records, tmp_path):
    stem = tmp_path / "fid_vs_energy"
    _assert_png_pdf(figures.fid_vs_energy(records, stem), stem)


def test_fid_vs_timesteps(records, tmp_path):
    stem = tmp_path / "fid_vs_timesteps"
    _assert_png_pdf(figures.fid_vs_timesteps(records, stem), stem)


def test_fid_vs_timesteps_without_a_sweep_writes_nothing(records, tmp_path, caplog):
    no_sweep = [r for r in records if r["adapter"]["label"] != "surrogate-vae-T4"]
    with caplog.at_level(logging.INFO, logger="benchmarks.figures"):
        assert figures.fid_vs_timesteps(no_sweep, tmp_path / "t") == []
    assert "no adapter appears with two or more T" in caplog.text
    assert not list(tmp_path.iterdir())


def test_firing_rates(records, tmp_path):
    stem = tmp_path / "firing_rates"
    _assert_png_pdf(figures.firing_rates(records, stem), stem)


def test_layer_rates_by_hand(records):
    rec = next(r for r in records if r["cell_id"] == "surrogate-vae-T8__mnist__seed0")
    rates = figures.layer_rates(rec)
    assert rates == pytest.approx({"latent": 80 / (20 * 8), "dec_hidden": 640 / (400 * 8),
                                   "dec_out": 514 / (784 * 8)})
    ann = next(r for r in records if r["cell_id"] == "ann-vae__mnist__seed0")
    assert figures.layer_rates(ann) == {}
    failed = next(r for r in records if r["status"] == "failed")
    assert figures.layer_rates(failed) == {}
    bad = copy.deepcopy(rec)
    bad["op_counts"]["neurons_per_layer"]["latent"] = 0
    with pytest.raises(ValueError, match="surrogate-vae-T8__mnist__seed0.*'latent'"):
        figures.layer_rates(bad)


def test_pareto_front():
    pts = [(100.0, 30.0), (50.0, 40.0), (200.0, 10.0), (150.0, 35.0), (60.0, 40.0)]
    assert figures.pareto_front(pts) == [1, 0, 2]
    assert figures.pareto_front([]) == []


def test_write_figures(records, tmp_path):
    paths = figures.write_figures(records, tmp_path / "figs")
    assert sorted(p.name for p in paths) == sorted(
        f"{stem}.{ext}" for stem in ("fid_vs_energy", "fid_vs_timesteps", "firing_rates")
        for ext in ("png", "pdf"))
    assert all(p.stat().st_size > 0 for p in paths)
    assert figures.write_figures([], tmp_path / "none") == []


def test_files_are_deterministic(records, tmp_path):
    a = figures.fid_vs_energy(records, tmp_path / "a")
    b = figures.fid_vs_energy(records, tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


@pytest.mark.parametrize("make", [
    lambda: np.random.default_rng(0).random((23, 1, 28, 28), dtype=np.float32),
    lambda: np.random.default_rng(0).random((12, 28, 28)),
    lambda: np.random.default_rng(0).integers(0, 256, (5, 1, 28, 28), dtype=np.uint8),
    lambda: torch.rand(7, 1, 28, 28, generator=torch.Generator().manual_seed(0)),
])
def test_sample_grid_inputs(make, tmp_path):
    path = figures.sample_grid(make(), tmp_path / "sub" / "grid.png", nrow=5, title="t · 0")
    assert path == tmp_path / "sub" / "grid.png"
    assert path.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize(("images", "kwargs", "match"), [
    (np.zeros((4, 3, 28, 28), np.float32), {}, r"shape \(N, 1, H, W\)"),
    (np.zeros((0, 28, 28), np.float32), {}, "N >= 1"),
    (np.full((2, 28, 28), 1.5, np.float32), {}, r"\[0, 1\]"),
    (np.full((2, 28, 28), np.nan, np.float32), {}, "NaN"),
    (np.zeros((2, 28, 28), np.int32), {}, "dtype int32"),
    (np.zeros((2, 28, 28), np.float32), {"nrow": 0}, "nrow must be"),
])
def test_sample_grid_rejects(images, kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        figures.sample_grid(images, tmp_path / "g.png", **kwargs)


def test_sample_grid_wants_png(tmp_path):
    with pytest.raises(ValueError, match=r"\.png"):
        figures.sample_grid(np.zeros((1, 28, 28), np.float32), tmp_path / "g.jpg")
    with pytest.raises(TypeError, match="list"):
        figures.sample_grid([[0.0]], tmp_path / "g.png")
