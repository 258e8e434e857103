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


# --------------------------------------------------------------------------------------------
# Sample pages, from fake records whose grids sample_grid writes into a tmp results tree

_BACKEND = {"ann-vae": "ann", "surrogate-vae": "surrogate", "conversion-vae": "conversion",
            "stdp-vae": "stdp", "ann-gan": "ann", "ann-vae-gaussian": "ann",
            "surrogate-gan": "surrogate", "conversion-gan": "conversion"}


def _fake(label: str, dataset: str, seed: int, fid: float | None, status: str = "ok") -> dict:
    cell = f"{label}__{dataset}__seed{seed}"
    return {"adapter": {"label": label, "name": label, "backend": _BACKEND[label],
                        "family": "vae"},
            "dataset": {"name": dataset}, "seed": seed, "status": status, "cell_id": cell,
            "metrics": {"fid": fid} if status == "ok" else {},
            "error": None if status == "ok" else {"type": "RuntimeError", "message": "boom"},
            # what the runner stores: repo-relative, under results/ whatever the results dir was
            "artifacts": {"samples": f"results/quick/figures/samples/{cell}.png"}}


def _write_grid(figures_dir: Path, record: dict) -> None:
    images = np.full((4, 1, 6, 6), (record["seed"] + 1) / 4, dtype=np.float32)
    figures.sample_grid(images, figures_dir / "samples" / f"{record['cell_id']}.png", nrow=2)


@pytest.fixture
def pages(tmp_path, monkeypatch):
    """Fake records + grids under a results dir not named ``results``; captures page titles."""
    figures_dir = tmp_path / "elsewhere" / "quick" / "figures"
    recs = [  # deliberately not in table order
        _fake("stdp-vae", "mnist", 3, 90.0), _fake("stdp-vae", "mnist", 1, 91.0),
        _fake("conversion-vae", "mnist", 0, None, status="failed"),
        _fake("conversion-vae", "mnist", 2, 72.0), _fake("conversion-vae", "mnist", 1, 71.0),
        _fake("surrogate-vae", "mnist", 2, 68.7), _fake("surrogate-vae", "mnist", 1, 68.1),
        _fake("ann-vae", "mnist", 0, 25.0), _fake("ann-vae", "mnist", 1, 25.5),
        _fake("ann-vae", "fashion-mnist", 0, 30.0),
        _fake("surrogate-vae", "fashion-mnist", 1, 80.25),
    ]
    for r in recs:
        if r["status"] == "ok":
            _write_grid(figures_dir, r)
    seen = {}
    save_all = figures._save_all

    def spy(fig, path_stem):
        title = fig.get_suptitle()
        seen[Path(path_stem).name] = (
            title, [t.get_text() for t in fig.texts if t.get_text() != title],
            [ax.get_title() for ax in fig.axes if ax.get_title()])
        return save_all(fig, path_stem)

    monkeypatch.setattr(figures, "_save_all", spy)
    return recs, figures_dir, seen


def test_sample_pages_one_page_per_dataset_common_seed_backend_order(pages):
    recs, figures_dir, seen = pages
    paths = figures.sample_pages(recs, figures_dir)
    assert [p.name for p in paths] == ["samples_mnist.png", "samples_mnist.pdf",
                                       "samples_fashion-mnist.png", "samples_fashion-mnist.pdf"]
    _assert_png_pdf(paths[:2], figures_dir / "samples_mnist")
    _assert_png_pdf(paths[2:], figures_dir / "samples_fashion-mnist")
    title, texts, panels = seen["samples_mnist"]
    # seed 1 is the only one every ok method has (0 is ann's smallest, but stdp lacks it)
    assert title == "mnist: generated samples, seed 1"
    assert texts == ["same seed for every method"]
    assert panels == ["ann-vae · FID 25.5", "surrogate-vae · FID 68.1",
                      "conversion-vae · FID 71.0", "stdp-vae · FID 91.0"]


def test_sample_pages_without_a_common_seed_says_so(pages):
    recs, figures_dir, seen = pages
    figures.sample_pages(recs, figures_dir)
    title, texts, panels = seen["samples_fashion-mnist"]
    assert title == "fashion-mnist: generated samples, seed per method"
    assert "no seed is common to every method" in texts[0]
    assert panels == ["ann-vae · FID 30.0 · seed 0", "surrogate-vae · FID 80.2 · seed 1"]


def test_sample_pages_skips_a_missing_grid(pages, caplog):
    recs, figures_dir, seen = pages
    (figures_dir / "samples" / "surrogate-vae__mnist__seed1.png").unlink()
    (figures_dir / "samples" / "ann-vae__fashion-mnist__seed0.png").unlink()
    (figures_dir / "samples" / "surrogate-vae__fashion-mnist__seed1.png").write_bytes(b"not png")
    with caplog.at_level(logging.WARNING, logger="benchmarks.figures"):
        paths = figures.sample_pages(recs, figures_dir)
    assert [p.name for p in paths] == ["samples_mnist.png", "samples_mnist.pdf"]
    assert "no sample grid for surrogate-vae seed 1" in caplog.text
    assert "cannot read" in caplog.text
    _title, texts, panels = seen["samples_mnist"]
    assert panels == ["ann-vae · FID 25.5", "conversion-vae · FID 71.0", "stdp-vae · FID 91.0"]
    assert texts == ["same seed for every method; no grid for surrogate-vae"]


def test_write_figures_includes_sample_pages(pages):
    recs, figures_dir, _seen = pages
    names = {p.name for p in figures.write_figures(recs, figures_dir)}
    assert {"samples_mnist.png", "samples_mnist.pdf", "samples_fashion-mnist.png",
            "samples_fashion-mnist.pdf"} <= names


def test_sweep_lines_join_labels_that_differ_in_t_alone():
    from benchmarks.figures import _sweep_lines

    def rec(label, **config):
        return {"adapter": {"label": label, "name": "surrogate-vae", "config": config}}

    lines = _sweep_lines([rec("t4", timesteps=4, coding="rate", hidden=(8,)),
                          rec("t8", timesteps=8, coding="rate", hidden=[8]),
                          rec("lat", timesteps=16, coding="latency", hidden=[8])])
    assert lines["t4"] == lines["t8"] == "surrogate-vae (coding=rate)"
    assert lines["lat"] == "surrogate-vae (coding=latency)"
    assert _sweep_lines([rec("only", timesteps=8, coding="rate")]) == {"only": "surrogate-vae"}


def test_sample_page_titles_stay_clear_of_the_grids(tmp_path, monkeypatch):
    """Eight panels of runner-sized grids (10 x 10 samples with their own title) in two rows: no
    panel title is drawn over an image (tight_layout let a row's grids cover the next titles)."""
    figures_dir = tmp_path / "quick" / "figures"
    recs = [_fake(label, "mnist", 0, 30.0 + i) for i, label in enumerate(
        ["ann-vae", "ann-gan", "ann-vae-gaussian", "surrogate-vae", "surrogate-gan",
         "conversion-vae", "conversion-gan", "stdp-vae"])]
    for r in recs:
        figures.sample_grid(np.full((100, 1, 28, 28), 0.5, dtype=np.float32),
                            figures_dir / "samples" / f"{r['cell_id']}.png", nrow=10,
                            title=r["cell_id"])
    overlaps = []
    save_all = figures._save_all

    def spy(fig, path_stem):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        titles = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
        images = [im.get_window_extent(renderer) for ax in fig.axes for im in ax.images]
        overlaps.extend((t, i) for t in titles for i in images if t.overlaps(i))
        return save_all(fig, path_stem)

    monkeypatch.setattr(figures, "_save_all", spy)
    figures.sample_pages(recs, figures_dir)
    assert len(recs) == 8 and not overlaps
