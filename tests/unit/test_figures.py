"""Figures from the committed fixture records: what each figure plots (read back from the
returned matplotlib Figure), the files written, the Pareto front, rates, sample and filter grids."""

from __future__ import annotations

import copy
import logging
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import figures
from benchmarks.frame import load_records

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "records"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def records():
    return load_records(FIXTURES)


def _assert_png_pdf(paths, stem: Path):
    assert [p.name for p in paths] == [f"{stem.name}.png", f"{stem.name}.pdf"]
    png, pdf = paths
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert not list(stem.parent.glob(".*.tmp*"))


def _points(ax):
    """(x, y, xerr, yerr) of each errorbar container of ``ax``, in drawing order."""
    out = []
    for container in ax.containers:
        (x, y), = container.lines[0].get_xydata()
        xbars, ybars = container.lines[2]  # one LineCollection per error direction
        (xseg,), (yseg,) = xbars.get_segments(), ybars.get_segments()
        out.append((x, y, abs(xseg[1, 0] - xseg[0, 0]) / 2, abs(yseg[1, 1] - yseg[0, 1]) / 2))
    return out


def test_fid_vs_energy_plots_each_rows_means_and_stds(records):
    fig = figures.fid_vs_energy(records, energy_models=())  # the records' own energy
    mnist, fashion = fig.axes
    assert (mnist.get_title(), fashion.get_title()) == ("mnist", "fashion-mnist")
    # ok rows in table order: ann-vae, surrogate-gan-T8, surrogate-vae-T4, surrogate-vae-T8
    # (the failed conversion row is not drawn); energies and FIDs of the fixture records
    energies = [[1479.36] * 3, [637.92, 655.632], [247.248, 233.856], [480.384, 453.6, 507.168]]
    fids = [[10.0, 12.0, 14.0], [35.0, 39.0], [30.0, 32.0], [20.0, 22.0, 27.0]]
    expected = [(statistics.mean(e), statistics.mean(f), statistics.stdev(e),
                 statistics.stdev(f)) for e, f in zip(energies, fids, strict=True)]
    assert _points(mnist) == [pytest.approx(e) for e in expected]
    assert [(x, y) for x, y, *_ in _points(fashion)] == [(pytest.approx(1479.36), 26.0),
                                                         (pytest.approx(526.32), 42.0)]
    # the Pareto front (dashed): T4 (least energy), T8 (lower FID), ann-vae (lowest FID)
    front = next(line for line in mnist.get_lines() if line.get_linestyle() == "--")
    assert front.get_ydata().tolist() == [31.0, 23.0, 12.0]
    labels = {t.get_text() for t in mnist.texts}
    assert {"ann-vae", "surrogate-gan-T8", "surrogate-vae-T4", "surrogate-vae-T8"} <= labels
    assert "lower is better" in mnist.get_ylabel() and "horowitz-45nm@1" in mnist.get_xlabel()


def test_fid_vs_energy_has_a_panel_per_model_with_its_pareto_front(records):
    """Small multiples: a row per data set, a panel per energy model. fp32-compute from the
    records' op counts is the recorded energy (same equation, same constants); int8-compute
    charges 0.23 pJ per MAC and 0.03 pJ per accumulate; memory-aware needs per-layer counts the
    fixture records predate, so its panels say so instead of plotting zeros."""
    recorded = figures.fid_vs_energy(records, energy_models=())
    fig = figures.fid_vs_energy(records, energy_models=("fp32-compute", "int8-compute",
                                                        "memory-aware"))
    assert len(fig.axes) == 2 * 3
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["mnist · fp32-compute", "mnist · int8-compute", "mnist · memory-aware",
                      "fashion-mnist · fp32-compute", "fashion-mnist · int8-compute",
                      "fashion-mnist · memory-aware"]
    fp32, int8, memory = fig.axes[:3]
    assert _points(fp32) == [pytest.approx(p) for p in _points(recorded.axes[0])]
    # ann-vae: 321,600 MACs x 0.23 pJ = 73,968 pJ = 73.968 nJ on every seed
    assert _points(int8)[0][:2] == (pytest.approx(73.968), pytest.approx(12.0))
    assert "fp32-compute" in fp32.get_xlabel() and "int8-compute" in int8.get_xlabel()
    for ax in (fp32, int8):  # a Pareto front in each panel
        assert any(line.get_linestyle() == "--" for line in ax.get_lines())
    assert not memory.containers and "re-measure" in memory.texts[0].get_text()


def test_fid_vs_energy_rejects_an_unknown_model(records):
    with pytest.raises(ValueError, match=r"unknown energy model 'fp64'.*known: \['fp32-compute'"):
        figures.fid_vs_energy(records, energy_models=("fp64",))


def test_fid_vs_energy_without_numbers_draws_nothing(records):
    assert figures.fid_vs_energy([r for r in records if r["status"] != "ok"]) is None


def test_fid_vs_timesteps_joins_labels_that_differ_in_t(records):
    fig = figures.fid_vs_timesteps(records)
    ax_fid, ax_spk = fig.axes  # mnist only: fashion-mnist has one T
    assert ax_fid.get_title() == "mnist: image quality"
    (sweep,) = ax_fid.containers
    assert sweep.get_label() == "surrogate-vae"
    line = sweep.lines[0]
    assert line.get_xdata().tolist() == [4.0, 8.0]
    assert line.get_ydata().tolist() == pytest.approx([31.0, 23.0])
    (spikes,) = [c.lines[0] for c in ax_spk.containers]
    assert spikes.get_ydata().tolist() == pytest.approx([(630 + 622) / 2, (1234 + 1204 + 1256) / 3])


def test_fid_vs_timesteps_without_a_sweep_draws_nothing(records, caplog):
    no_sweep = [r for r in records if r["adapter"]["label"] != "surrogate-vae-T4"]
    with caplog.at_level(logging.INFO, logger="benchmarks.figures"):
        assert figures.fid_vs_timesteps(no_sweep) is None
    assert "no adapter appears with two or more T" in caplog.text


def test_firing_rates_bars(records):
    fig = figures.firing_rates(records)
    mnist, fashion = fig.axes
    names = [t.get_text() for t in mnist.get_yticklabels()]
    assert names[:3] == ["surrogate-gan-T8 · dec_hidden", "surrogate-gan-T8 · dec_out",
                         "surrogate-gan-T8 · latent"]
    assert len(names) == 9 and not any(n.startswith("ann-vae") for n in names)
    bars = dict(zip(names, (p.get_width() for p in mnist.patches), strict=True))
    # latent of surrogate-vae-T8 on mnist: 80, 84, 76 spikes of 20 neurons over 8 steps
    assert bars["surrogate-vae-T8 · latent"] == pytest.approx(np.mean([80, 84, 76]) / 160)
    assert [t.get_text() for t in fashion.get_yticklabels()] == [
        "surrogate-vae-T8 · dec_hidden", "surrogate-vae-T8 · dec_out", "surrogate-vae-T8 · latent"]
    assert fashion.patches[2].get_width() == pytest.approx(90 / 160)


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
    out = tmp_path / "figs"
    paths = figures.write_figures(records, out)
    assert sorted(p.name for p in paths) == sorted(
        f"{stem}.{ext}" for stem in ("fid_vs_energy", "fid_vs_timesteps", "firing_rates")
        for ext in ("png", "pdf"))
    for stem in ("fid_vs_energy", "fid_vs_timesteps", "firing_rates"):
        _assert_png_pdf([out / f"{stem}.png", out / f"{stem}.pdf"], out / stem)
    assert figures.write_figures([], tmp_path / "none") == []


def test_files_are_deterministic(records, tmp_path):
    a = figures.write_figures(records, tmp_path / "a")
    b = figures.write_figures(records, tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_tile_lays_images_out_in_rows():
    images = np.stack([np.full((1, 3, 4), v, np.float32) for v in (0.0, 0.25, 1.0)])
    grid = figures.tile(images, nrow=2, pad=1)
    assert grid.shape == (2 * (3 + 1) + 1, 2 * (4 + 1) + 1)
    assert grid[1:4, 1:5].tolist() == np.zeros((3, 4)).tolist()   # first row, first column
    assert np.all(grid[1:4, 6:10] == 0.25) and np.all(grid[5:8, 1:5] == 1.0)
    assert np.all(grid[5:8, 6:10] == 0.5)  # no fourth image: padding grey
    assert figures.tile(np.full((2, 2, 2), 255, np.uint8), nrow=2).max() == 1.0


@pytest.mark.parametrize("make", [
    lambda: np.random.default_rng(0).random((23, 1, 28, 28), dtype=np.float32),
    lambda: np.random.default_rng(0).random((12, 28, 28)),
    lambda: np.random.default_rng(0).integers(0, 256, (5, 1, 28, 28), dtype=np.uint8),
    lambda: torch.rand(7, 1, 28, 28, generator=torch.Generator().manual_seed(0)),
])
def test_sample_grid_inputs(make, tmp_path):
    from matplotlib.image import imread

    images = make()
    path = figures.sample_grid(images, tmp_path / "sub" / "grid.png", nrow=5, title="t · 0")
    assert path == tmp_path / "sub" / "grid.png"
    assert path.read_bytes().startswith(PNG_MAGIC)
    grid = figures.tile(images, nrow=5)
    drawn = imread(path)  # two pixels per grid pixel, a title band above
    assert drawn.shape[1] == 2 * grid.shape[1] and drawn.shape[0] > 2 * grid.shape[0]
    below_title = drawn[-2 * grid.shape[0]::2, ::2, 0]
    assert np.abs(below_title - grid).max() < 0.01


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


def test_filter_grid_draws_each_filter_in_gray(tmp_path):
    filters = torch.linspace(-1, 1, 10 * 5 * 5).reshape(10, 5, 5)
    fig = figures.filter_grid(filters, tmp_path / "f" / "filters.png", title="STDP layer-1 filters")
    assert (tmp_path / "f" / "filters.png").read_bytes().startswith(PNG_MAGIC)
    assert len(fig.axes) == 16  # 2 rows of 8
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 10
    for image, expected in zip(images, filters.numpy(), strict=True):
        assert np.array_equal(image.get_array(), expected)
        assert image.get_clim() == (-1, 1) and image.get_cmap().name == "gray"
    assert fig.get_suptitle() == "STDP layer-1 filters"
    assert len(figures.filter_grid(filters[:3], tmp_path / "g.png", title="t", ncols=3).axes) == 3


@pytest.mark.parametrize(("filters", "kwargs", "match"), [
    (torch.zeros(2, 1, 5, 5), {}, r"shape \(K, h, w\)"),
    (torch.full((2, 5, 5), 1.5), {}, r"\[-1, 1\]"),
    (torch.zeros(2, 5, 5, dtype=torch.int64), {}, "dtype int64"),
    (torch.zeros(2, 5, 5), {"ncols": 0}, "ncols must be"),
])
def test_filter_grid_rejects(filters, kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        figures.filter_grid(filters, tmp_path / "f.png", title="t", **kwargs)
    with pytest.raises(ValueError, match=r"\.png"):
        figures.filter_grid(torch.zeros(1, 5, 5), tmp_path / "f.pdf", title="t")


# --------------------------------------------------------------------------------------------
# Sample pages, from fake records whose grids sample_grid writes into a tmp results tree

_ADAPTER = {"ann-vae": ("ann", "vae"), "surrogate-vae": ("surrogate", "vae"),
            "conversion-vae": ("conversion", "vae"), "stdp-ae": ("stdp", "autoencoder"),
            "ann-gan": ("ann", "gan"), "ann-vae-gaussian": ("ann", "vae"),
            "surrogate-gan": ("surrogate", "gan"), "conversion-gan": ("conversion", "gan")}


def _fake(label: str, dataset: str, seed: int, fid: float | None, status: str = "ok") -> dict:
    cell = f"{label}__{dataset}__seed{seed}"
    backend, family = _ADAPTER[label]
    return {"adapter": {"label": label, "name": label, "backend": backend, "family": family},
            "dataset": {"name": dataset}, "seed": seed, "status": status, "cell_id": cell,
            "metrics": {"fid": fid} if status == "ok" else {},
            "error": None if status == "ok" else {"type": "RuntimeError", "message": "boom"},
            # what the runner stores: repo-relative, under results/ whatever the results dir was
            "artifacts": {"samples": f"results/quick/figures/samples/{cell}.png"}}


def _write_grid(figures_dir: Path, record: dict) -> None:
    images = np.full((4, 1, 6, 6), (record["seed"] + 1) / 4, dtype=np.float32)
    figures.sample_grid(images, figures_dir / "samples" / f"{record['cell_id']}.png", nrow=2)


@pytest.fixture
def pages(tmp_path):
    """Fake records + grids under a results dir not named ``results``."""
    figures_dir = tmp_path / "elsewhere" / "quick" / "figures"
    recs = [  # deliberately not in table order
        _fake("stdp-ae", "mnist", 3, 90.0), _fake("stdp-ae", "mnist", 1, 91.0),
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
    return recs, figures_dir


def _page(fig):
    """A page's title, its other texts, its panel titles and each panel's image data."""
    title = fig.get_suptitle()
    return (title, [t.get_text() for t in fig.texts if t.get_text() != title],
            [ax.get_title() for ax in fig.axes if ax.get_title()],
            [ax.images[0].get_array() for ax in fig.axes if ax.images])


def test_sample_pages_one_page_per_dataset_common_seed_backend_order(pages):
    recs, figures_dir = pages
    drawn = figures.sample_pages(recs, figures_dir)
    assert list(drawn) == ["mnist", "fashion-mnist"]
    title, texts, panels, images = _page(drawn["mnist"])
    # seed 1 is the only one every ok method has (0 is ann's smallest, but stdp lacks it)
    assert title == "mnist: generated samples, seed 1"
    assert texts == ["same seed for every method"]
    assert panels == ["ann-vae · FID 25.5", "surrogate-vae · FID 68.1",
                      "conversion-vae · FID 71.0", "stdp-ae · FID 91.0"]
    # each panel shows its record's grid: seed 1's images are (1 + 1) / 4 = 0.5 grey
    for image in images:
        inner = np.asarray(image)[4:8, 4:8, 0]  # inside the first 6x6 image, 2 px per pixel
        assert np.allclose(inner, 0.5, atol=0.01)


def test_sample_pages_without_a_common_seed_says_so(pages):
    recs, figures_dir = pages
    title, texts, panels, _ = _page(figures.sample_pages(recs, figures_dir)["fashion-mnist"])
    assert title == "fashion-mnist: generated samples, seed per method"
    assert "no seed is common to every method" in texts[0]
    assert panels == ["ann-vae · FID 30.0 · seed 0", "surrogate-vae · FID 80.2 · seed 1"]


def test_sample_pages_skips_a_missing_grid(pages, caplog):
    recs, figures_dir = pages
    (figures_dir / "samples" / "surrogate-vae__mnist__seed1.png").unlink()
    (figures_dir / "samples" / "ann-vae__fashion-mnist__seed0.png").unlink()
    (figures_dir / "samples" / "surrogate-vae__fashion-mnist__seed1.png").write_bytes(b"not png")
    with caplog.at_level(logging.WARNING, logger="benchmarks.figures"):
        drawn = figures.sample_pages(recs, figures_dir)
    assert list(drawn) == ["mnist"]
    assert "no sample grid for surrogate-vae seed 1" in caplog.text
    assert "cannot read" in caplog.text
    _title, texts, panels, _ = _page(drawn["mnist"])
    assert panels == ["ann-vae · FID 25.5", "conversion-vae · FID 71.0", "stdp-ae · FID 91.0"]
    assert texts == ["same seed for every method; no grid for surrogate-vae"]


def test_write_figures_includes_sample_pages(pages):
    recs, figures_dir = pages
    paths = figures.write_figures(recs, figures_dir)
    for ds in ("mnist", "fashion-mnist"):
        stem = figures_dir / f"samples_{ds}"
        assert {stem.with_suffix(".png"), stem.with_suffix(".pdf")} <= set(paths)
        _assert_png_pdf([stem.with_suffix(".png"), stem.with_suffix(".pdf")], stem)


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


def test_sample_page_titles_stay_clear_of_the_grids(tmp_path):
    """Eight panels of runner-sized grids (10 x 10 samples with their own title) in two rows: no
    panel title is drawn over an image (tight_layout let a row's grids cover the next titles)."""
    figures_dir = tmp_path / "quick" / "figures"
    recs = [_fake(label, "mnist", 0, 30.0 + i) for i, label in enumerate(
        ["ann-vae", "ann-gan", "ann-vae-gaussian", "surrogate-vae", "surrogate-gan",
         "conversion-vae", "conversion-gan", "stdp-ae"])]
    for r in recs:
        figures.sample_grid(np.full((100, 1, 28, 28), 0.5, dtype=np.float32),
                            figures_dir / "samples" / f"{r['cell_id']}.png", nrow=10,
                            title=r["cell_id"])
    fig = figures.sample_pages(recs, figures_dir)["mnist"]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    titles = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
    images = [im.get_window_extent(renderer) for ax in fig.axes for im in ax.images]
    assert len(titles) == len(images) == 8
    assert not [(t, i) for t in titles for i in images if t.overlaps(i)]


# --------------------------------------------------------------------------------------------
# Class histograms, from the fixture records with a class_histogram added

#: Shares of MNIST's test split per class (they sum to 1).
_TEST_SHARES = [0.098, 0.114, 0.103, 0.101, 0.098, 0.089, 0.096, 0.103, 0.097, 0.101]


def _seed_shares(seed: int) -> list[float]:
    """0.08 per class plus 0.2 on class ``seed``: sums to 1."""
    return [0.08 + (0.2 if c == seed else 0.0) for c in range(10)]


def _with_histograms(records, skip_labels=()):
    out = copy.deepcopy(records)
    for r in out:
        if r["status"] == "ok" and r["adapter"]["label"] not in skip_labels:
            r["class_histogram"] = {"classifier": f"classifier-cnn-v2[{r['dataset']['name']}]",
                                    "shares": _seed_shares(r["seed"]),
                                    "test_shares": list(_TEST_SHARES)}
    return out


def test_class_histograms_one_panel_per_row(records):
    pages = figures.class_histograms(_with_histograms(records))
    assert list(pages) == ["mnist", "fashion-mnist"]
    mnist = pages["mnist"]
    assert mnist.get_suptitle() == ("mnist: share of generated samples per class\n"
                                    "classes predicted by classifier-cnn-v2[mnist]")
    panels = [ax for ax in mnist.axes if ax.get_title()]
    # ok rows in table order; the failed conversion row has no panel
    assert [ax.get_title() for ax in panels] == [
        "ann-vae (3 seeds)", "surrogate-gan-T8 (2 seeds)", "surrogate-vae-T4 (2 seeds)",
        "surrogate-vae-T8 (3 seeds)"]
    ann, gan = panels[0], panels[1]
    # ann-vae has seeds 0, 1, 2: classes 0, 1, 2 get 0.08 + 0.2 / 3, the others 0.08
    heights = [p.get_height() for p in ann.patches]
    assert heights == pytest.approx([0.08 + 0.2 / 3] * 3 + [0.08] * 7)
    assert [p.get_height() for p in gan.patches] == pytest.approx([0.18, 0.18] + [0.08] * 8)
    # error bars (one sample std over seeds) only where the seeds differ: classes 0, 1, 2
    (bars,) = ann.containers[1:]  # [0] holds the bars
    (segments,) = [c.get_segments() for c in bars.lines[2]]
    assert [s[0][0] for s in segments] == [0, 1, 2]
    spread = statistics.stdev([0.28, 0.08, 0.08])
    assert [s[1][1] - s[0][1] for s in segments] == pytest.approx([2 * spread] * 3)
    (test,) = [line for line in ann.get_lines() if line.get_label() == "test split"]
    assert test.get_ydata().tolist() == pytest.approx(_TEST_SHARES)
    fashion_titles = [ax.get_title() for ax in pages["fashion-mnist"].axes if ax.get_title()]
    assert fashion_titles == ["ann-vae (2 seeds)", "surrogate-vae-T8 (2 seeds)"]


def test_class_histograms_leave_out_rows_without_one(records):
    pages = figures.class_histograms(_with_histograms(records, skip_labels={"surrogate-gan-T8"}))
    titles = [ax.get_title() for ax in pages["mnist"].axes if ax.get_title()]
    assert titles == ["ann-vae (3 seeds)", "surrogate-vae-T4 (2 seeds)",
                      "surrogate-vae-T8 (3 seeds)"]


def test_class_histograms_without_histograms_draw_nothing(records, caplog):
    with caplog.at_level(logging.INFO, logger="benchmarks.figures"):
        assert figures.class_histograms(records) == {}
    assert "no record has a class_histogram" in caplog.text


@pytest.mark.parametrize(("change", "match"), [
    (lambda h: h.update(shares=[0.09] * 10), r"shares must sum to 1 \(within 0.001\), got 0.9"),
    (lambda h: h.update(shares=[0.2] * 5), "5 shares but 10 test_shares"),
    (lambda h: h.update(test_shares=[-0.1] + [0.11] * 10), "test_shares must hold finite shares"),
    (lambda h: h.update(shares="0.1"), "shares must be a non-empty list of numbers, got '0.1'"),
    (lambda h: h.pop("classifier"), "classifier must be the feature net's name, got None"),
])
def test_class_histograms_reject_bad_shares(records, change, match):
    recs = _with_histograms(records)
    change(next(r for r in recs if r["cell_id"] == "ann-vae__mnist__seed1")["class_histogram"])
    with pytest.raises(ValueError, match="ann-vae__mnist__seed1: class_histogram.*" + match):
        figures.class_histograms(recs)


def test_write_figures_writes_class_histograms_when_recorded(records, tmp_path):
    out = tmp_path / "figs"
    paths = {p.name for p in figures.write_figures(_with_histograms(records), out)}
    for ds in ("mnist", "fashion-mnist"):
        assert {f"class_histograms_{ds}.png", f"class_histograms_{ds}.pdf"} <= paths
        stem = out / f"class_histograms_{ds}"
        _assert_png_pdf([stem.with_suffix(".png"), stem.with_suffix(".pdf")], stem)
    without = {p.name for p in figures.write_figures(records, tmp_path / "plain")}
    assert without and not [name for name in without if name.startswith("class_histograms")]
