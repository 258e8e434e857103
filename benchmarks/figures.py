"""Figures as a pure function of the records (plus the runner's sample grids).

* :func:`fid_vs_energy` — FID against energy per sample, per data set, Pareto front marked.
* :func:`fid_vs_timesteps` — FID and spikes per sample against the number of time steps ``T``.
* :func:`firing_rates` — per-layer firing rates of the spiking cells.
* :func:`sample_grid` — a grid of generated images (called by the runner for every cell).
* :func:`sample_pages` — one page per data set with every method's sample grid, same seed.

Matplotlib runs on the Agg backend, chosen here when a figure is first drawn (never at package
import). Files are written atomically and without time stamps, so the same records give the same
bytes.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.metrics import keys as K
from benchmarks.tables import BACKEND_ORDER, Row, Stat, aggregate, dataset_notes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: Marker and colour per backend (colour-blind-safe Okabe-Ito colours); others fall back to grey.
BACKEND_STYLE: dict[str, tuple[str, str]] = {
    "ann": ("o", "#000000"),
    "surrogate": ("s", "#0072B2"),
    "conversion": ("^", "#D55E00"),
    "stdp": ("D", "#009E73"),
}
_OTHER_STYLE = ("v", "#999999")
_LINE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_FORMATS = ("png", "pdf")
_DPI = 150


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _style(backend: str) -> tuple[str, str]:
    return BACKEND_STYLE.get(backend, _OTHER_STYLE)


def _save(fig: Figure, path: Path, fmt: str) -> Path:
    """Save ``fig`` as ``fmt`` to ``path`` atomically, without time stamps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None}}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are for reading
    try:
        fig.savefig(tmp, format=fmt, dpi=_DPI, metadata=metadata.get(fmt))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _save_all(fig: Figure, path_stem: str | Path) -> list[Path]:
    plt = _pyplot()
    stem = Path(path_stem)
    try:
        return [_save(fig, stem.with_name(f"{stem.name}.{fmt}"), fmt) for fmt in _FORMATS]
    finally:
        plt.close(fig)


def _ok_rows(records: Sequence[Mapping[str, Any]]) -> list[Row]:
    return [r for r in aggregate(records) if r.status == "ok"]


def _by_dataset(rows: Sequence[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for row in rows:
        out.setdefault(row.dataset, []).append(row)
    return out


def _err(st: Stat) -> float:
    return st.std if st.std is not None else 0.0


# --------------------------------------------------------------------------------------------
# Label placement: a greedy search over a few offsets, so ~10 labels do not overlap.

def _offsets() -> list[tuple[float, float]]:
    """Candidate label offsets (points): rings of growing radius, eight directions each."""
    out = []
    for radius in (7.0, 14.0, 24.0, 36.0, 50.0, 66.0):
        for angle in (45, -45, 135, -135, 90, -90, 0, 180, 22, -22, 158, -158):
            rad = math.radians(angle)
            out.append((round(radius * math.cos(rad), 1), round(radius * math.sin(rad), 1)))
    return out


_OFFSETS = _offsets()
_LEADER_FROM = 12.0  # labels farther than this (points) get a thin line to their point


def _place_labels(fig: Figure, ax: Axes, points: Sequence[tuple[float, float, str]]) -> None:
    """Annotate each ``(x, y, text)`` at the nearest offset whose box hits no marker or label."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    taken = []
    for x, y, _ in points:
        px, py = ax.transData.transform((x, y))
        taken.append((px - 5, py - 5, px + 5, py + 5))
    frame = ax.get_window_extent(renderer)

    def annotate(x: float, y: float, text: str, dx: float, dy: float) -> Any:
        far = math.hypot(dx, dy) > _LEADER_FROM
        return ax.annotate(
            text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7,
            ha="left" if dx > 1 else ("right" if dx < -1 else "center"),
            va="bottom" if dy > 1 else ("top" if dy < -1 else "center"), annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.5} if far else None)

    for x, y, text in points:
        chosen = None
        for dx, dy in _OFFSETS:
            ann = annotate(x, y, text, dx, dy)
            box = ann.get_window_extent(renderer)
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0
                      and box.y1 <= frame.y1)
            free = all(box.x1 < b[0] or box.x0 > b[2] or box.y1 < b[1] or box.y0 > b[3]
                       for b in taken)
            if inside and free:
                chosen = ann
                break
            ann.remove()
        if chosen is None:  # too crowded: the nearest offset, overlapping
            log.info("label %r overlaps another; the panel is crowded", text)
            chosen = annotate(x, y, text, *_OFFSETS[0])
        box = chosen.get_window_extent(renderer)
        taken.append((box.x0 - 1, box.y0 - 1, box.x1 + 1, box.y1 + 1))


# --------------------------------------------------------------------------------------------
# FID vs energy


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats in both coordinates (lower is better in both).

    Returned in increasing order of the first coordinate. Ties in both keep the first.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1], i))
    front: list[int] = []
    best_y = math.inf
    for i in order:
        if points[i][1] < best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def fid_vs_energy(records: Sequence[Mapping[str, Any]], path_stem: str | Path) -> list[Path]:
    """Scatter FID against energy per sample, one panel per data set; writes PNG and PDF.

    x is the mean energy per sample (nJ, log scale), y the mean FID, with error bars of one
    sample std over seeds; marker and colour by backend; the Pareto front (lower FID and lower
    energy) is joined by a dashed line. Rows without an FID or a positive energy are left out.

    Returns:
        The files written (none when no row has both numbers).
    """
    by_ds = {}
    for ds, rows in _by_dataset(_ok_rows(records)).items():
        usable = [r for r in rows if r.stat(K.FID).mean is not None
                  and (r.stat(K.ENERGY_NJ).mean or 0.0) > 0]
        dropped = sorted({r.label for r in rows} - {r.label for r in usable})
        if dropped:
            log.info("fid_vs_energy %s: no FID or energy for %s", ds, ", ".join(dropped))
        if usable:
            by_ds[ds] = usable
    if not by_ds:
        log.info("fid_vs_energy: no row with both FID and energy; no figure")
        return []
    notes = dataset_notes(records)
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(by_ds), figsize=(5.6 * len(by_ds), 4.6), squeeze=False)
    backends_seen: list[str] = []
    for ax, (ds, rows) in zip(axes[0], by_ds.items(), strict=True):
        xs = [r.stat(K.ENERGY_NJ).mean for r in rows]
        ys = [r.stat(K.FID).mean for r in rows]
        for row, x, y in zip(rows, xs, ys, strict=True):
            marker, colour = _style(row.backend)
            if row.backend not in backends_seen:
                backends_seen.append(row.backend)
            ax.errorbar(x, y, xerr=_err(row.stat(K.ENERGY_NJ)), yerr=_err(row.stat(K.FID)),
                        fmt=marker, color=colour, markersize=6, capsize=2, elinewidth=0.8)
        front = pareto_front(list(zip(xs, ys, strict=True)))
        ax.plot([xs[i] for i in front], [ys[i] for i in front], linestyle="--", color="0.5",
                linewidth=1, drawstyle="steps-post", zorder=0)
        ax.scatter([xs[i] for i in front], [ys[i] for i in front], s=140, facecolors="none",
                   edgecolors="0.4", linewidths=1, zorder=0)
        ax.set_xscale("log")
        _plain_log_ticks(ax)
        note = notes.get(ds)
        model = note.energy_models[0] if note and len(note.energy_models) == 1 else "energy model"
        extractor = (note.feature_extractors[0] if note and len(note.feature_extractors) == 1
                     else "feature net")
        ax.set_xlabel(f"Energy per sample (nJ, {model}, log scale)")
        ax.set_ylabel(f"FID ({extractor}) ↓ lower is better")
        ax.set_title(ds)
        ax.margins(x=0.2, y=0.15)
        ax.grid(True, which="major", linewidth=0.4, alpha=0.5)
        floor = note.fid_data_floor.mean if note else None
        bottom, top = ax.get_ylim()
        if floor is not None and bottom <= floor <= top:  # drawn only where it does not squash
            ax.axhline(floor, color="0.6", linestyle=":", linewidth=1)
            ax.annotate(f"data floor {floor:.2f}", (0.01, floor), xycoords=("axes fraction", "data"),
                        xytext=(2, 2), textcoords="offset points", fontsize=7, color="0.4")
            ax.set_ylim(bottom, top)
    ordered = [b for b in BACKEND_ORDER if b in backends_seen]
    ordered += sorted(b for b in backends_seen if b not in BACKEND_ORDER)
    plt_lines = _legend_handles(ordered)
    fig.legend(handles=plt_lines, loc="lower center", ncol=len(plt_lines), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    for ax, (_ds, rows) in zip(axes[0], by_ds.items(), strict=True):
        _place_labels(fig, ax, [(r.stat(K.ENERGY_NJ).mean, r.stat(K.FID).mean, r.label)
                                for r in rows])
    return _save_all(fig, path_stem)


def _plain_log_ticks(ax: Axes) -> None:
    """Log-axis ticks at 1, 2, 5 x 10^k written as plain numbers (no crowded minor labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _legend_handles(backends: Sequence[str]) -> list[Any]:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=_style(b)[0], color=_style(b)[1], linestyle="none",
                      label=b) for b in backends]
    handles.append(Line2D([], [], marker="o", markersize=10, markerfacecolor="none",
                          markeredgecolor="0.4", linestyle="--", color="0.5",
                          label="Pareto front"))
    return handles


# --------------------------------------------------------------------------------------------
# FID and spikes vs T


def _sweep_lines(records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Label -> the line it belongs to in a T sweep: labels whose configs differ in T alone share
    one line, named after the adapter plus the settings that set it apart from the adapter's other
    lines (e.g. ``surrogate-vae (coding=latency)``). From the records alone."""
    def plain(v: Any) -> Any:
        return list(v) if isinstance(v, tuple) else v

    configs: dict[str, tuple[str, dict[str, Any]]] = {}
    for r in records:
        config = {k: plain(v) for k, v in (r["adapter"].get("config") or {}).items()
                  if k != "timesteps"}
        configs[r["adapter"]["label"]] = (r["adapter"]["name"], config)
    lines: dict[str, str] = {}
    for name in {n for n, _ in configs.values()}:
        members = {label: c for label, (n, c) in configs.items() if n == name}
        keys = {k for c in members.values() for k in c}
        varying = sorted(k for k in keys if len({repr(c.get(k)) for c in members.values()}) > 1)
        for label, c in members.items():
            diff = ", ".join(f"{k}={c.get(k)}" for k in varying if k in c)
            lines[label] = f"{name} ({diff})" if diff else name
    return lines


def fid_vs_timesteps(records: Sequence[Mapping[str, Any]], path_stem: str | Path) -> list[Path]:
    """FID and spikes per sample against ``T`` for labels sharing an adapter but not ``T``.

    One row of two panels per data set that has such a sweep. Without any sweep, nothing is
    written (logged at info level).

    Returns:
        The files written (PNG and PDF), or an empty list.
    """
    # A line joins labels whose configs differ in T alone (not, e.g., a latency-coded variant).
    others = _sweep_lines(records)
    sweeps: dict[str, dict[str, list[Row]]] = {}
    for ds, rows in _by_dataset(_ok_rows(records)).items():
        by_adapter: dict[str, list[Row]] = {}
        for row in rows:
            if row.stat(K.TIMESTEPS).mean is not None:
                by_adapter.setdefault(others.get(row.label, row.adapter), []).append(row)
        for adapter, members in by_adapter.items():
            if len({r.stat(K.TIMESTEPS).mean for r in members}) >= 2:
                members.sort(key=lambda r: (r.stat(K.TIMESTEPS).mean, r.label))
                sweeps.setdefault(ds, {})[adapter] = members
    if not sweeps:
        log.info("fid_vs_timesteps: no adapter appears with two or more T; no figure")
        return []
    plt = _pyplot()
    fig, axes = plt.subplots(len(sweeps), 2, figsize=(9.5, 3.6 * len(sweeps)), squeeze=False)
    for (ds, adapters), (ax_fid, ax_spk) in zip(sweeps.items(), axes, strict=True):
        all_t: set[float] = set()
        for i, (adapter, members) in enumerate(sorted(adapters.items())):
            colour = _LINE_COLOURS[i % len(_LINE_COLOURS)]
            ts = [r.stat(K.TIMESTEPS).mean for r in members]
            all_t.update(ts)
            for ax, key in ((ax_fid, K.FID), (ax_spk, K.SPIKES)):
                pts = [(t, r.stat(key)) for t, r in zip(ts, members, strict=True)
                       if r.stat(key).mean is not None]
                if pts:
                    ax.errorbar([t for t, _ in pts], [s.mean for _, s in pts],
                                yerr=[_err(s) for _, s in pts], marker="o", color=colour,
                                capsize=2, linewidth=1.2, markersize=5, label=adapter)
        for ax in (ax_fid, ax_spk):
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(all_t))
            ax.set_xticklabels([f"{t:g}" for t in sorted(all_t)])
            ax.minorticks_off()
            ax.set_xlabel("Time steps T")
            ax.grid(True, linewidth=0.4, alpha=0.5)
        ax_fid.set_ylabel("FID ↓ lower is better")
        ax_spk.set_ylabel("Spikes per generated sample")
        ax_fid.set_title(f"{ds}: image quality")
        ax_spk.set_title(f"{ds}: spike count")
        ax_fid.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return _save_all(fig, path_stem)


# --------------------------------------------------------------------------------------------
# Firing rates


def layer_rates(record: Mapping[str, Any]) -> dict[str, float]:
    """Per-layer firing rate of one record: ``spikes / (neurons x timesteps)``, by layer name.

    Empty for a record without spiking layers (an ANN, a failed cell).

    Raises:
        ValueError: a layer has spikes but no positive neuron count (names the cell).
    """
    counts = record.get("op_counts")
    if record.get("status") != "ok" or not isinstance(counts, Mapping):
        return {}
    spikes = counts.get("spikes_per_layer") or {}
    neurons = counts.get("neurons_per_layer") or {}
    timesteps = counts.get("timesteps") or 0
    out = {}
    for layer, n_spikes in spikes.items():
        n = neurons.get(layer)
        if not n or n <= 0 or timesteps <= 0:
            raise ValueError(f"{record.get('cell_id')}: layer {layer!r} has {n_spikes} spikes but "
                             f"neurons={n!r}, timesteps={timesteps!r}; both must be > 0")
        out[layer] = float(n_spikes) / (float(n) * float(timesteps))
    return out


def firing_rates(records: Sequence[Mapping[str, Any]], path_stem: str | Path) -> list[Path]:
    """Horizontal bars of per-layer firing rates (mean ± std over seeds), one panel per data set.

    Returns:
        The files written (PNG and PDF), or an empty list when no cell has spiking layers.
    """
    # dataset -> label -> layer -> rates over seeds
    rates: dict[str, dict[str, dict[str, list[float]]]] = {}
    backends: dict[str, str] = {}
    for r in records:
        per_layer = layer_rates(r)
        if not per_layer:
            continue
        label = r["adapter"]["label"]
        backends[label] = r["adapter"]["backend"]
        slot = rates.setdefault(r["dataset"]["name"], {}).setdefault(label, {})
        for layer, rate in per_layer.items():
            slot.setdefault(layer, []).append(rate)
    if not rates:
        log.info("firing_rates: no record with spiking layers; no figure")
        return []
    # Same order as the tables: rows of aggregate() that have rates.
    order = [(row.dataset, row.label) for row in aggregate(records)]
    datasets = [ds for ds in dict.fromkeys(d for d, _ in order) if ds in rates]
    heights = []
    for ds in datasets:
        heights.append(sum(len(layers) for layers in rates[ds].values()) + len(rates[ds]))
    plt = _pyplot()
    fig, axes = plt.subplots(len(datasets), 1, squeeze=False,
                             figsize=(7.5, 1.2 + 0.22 * sum(heights) + 0.8 * len(datasets)),
                             gridspec_kw={"height_ratios": heights})
    for ax, ds in zip(axes[:, 0], datasets, strict=True):
        y = 0.0
        ticks, names = [], []
        for label in [lab for d, lab in order if d == ds and lab in rates[ds]]:
            marker, colour = _style(backends[label])
            for layer, values in rates[ds][label].items():
                st = Stat.of(values)
                ax.barh(y, st.mean, xerr=_err(st), color=colour, alpha=0.8, height=0.75,
                        capsize=2, error_kw={"elinewidth": 0.8})
                ticks.append(y)
                names.append(f"{label} · {layer}")
                y += 1
            y += 1  # a gap between methods
        ax.set_yticks(ticks)
        ax.set_yticklabels(names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("Firing rate (spikes per neuron per time step)")
        ax.set_title(ds, fontsize=9)
        ax.grid(True, axis="x", linewidth=0.4, alpha=0.5)
        ax.set_xlim(0, min(1.0, max(max(v) for lab in rates[ds].values() for v in lab.values())
                           * 1.25) or 1.0)
    fig.tight_layout()
    return _save_all(fig, path_stem)


# --------------------------------------------------------------------------------------------
# Sample grids


def _to_numpy(images: Any) -> np.ndarray:
    if isinstance(images, np.ndarray):
        return images
    if hasattr(images, "detach"):  # a torch Tensor; torch is not imported for numpy input
        return images.detach().to("cpu").numpy()
    raise TypeError(f"images must be a numpy array or a torch Tensor, got {type(images).__name__}")


def sample_grid(images: Any, path: str | Path, nrow: int = 10, title: str | None = None) -> Path:
    """Write a PNG grid of images.

    Args:
        images: ``(N, 1, H, W)`` or ``(N, H, W)``; float in ``[0, 1]`` or ``uint8`` in
            ``[0, 255]``; numpy array or torch Tensor. ``N >= 1``.
        path: the PNG file (suffix ``.png``).
        nrow: images per row of the grid (``>= 1``).
        title: drawn above the grid when given.

    Returns:
        ``path``.

    Raises:
        ValueError: bad shape, value range, ``nrow`` or suffix (the message says what is allowed).
        TypeError: ``images`` is neither an array nor a Tensor.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"sample_grid writes PNG; path must end in .png, got {path}")
    if not isinstance(nrow, int) or isinstance(nrow, bool) or nrow < 1:
        raise ValueError(f"nrow must be an integer >= 1, got {nrow!r}")
    arr = _to_numpy(images)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 3 or arr.shape[0] < 1:
        raise ValueError(f"images must have shape (N, 1, H, W) or (N, H, W) with N >= 1, "
                         f"got {tuple(arr.shape)}")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
        if not np.all(np.isfinite(arr)):
            raise ValueError("images contain NaN or inf; allowed: finite values in [0, 1]")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(f"float images must lie in [0, 1], got [{lo:.4g}, {hi:.4g}]")
        arr = np.clip(arr, 0.0, 1.0)
    else:
        raise ValueError(f"images must be float in [0, 1] or uint8, got dtype {arr.dtype}")
    n, h, w = arr.shape
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    pad = 2
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 0.5, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top:top + h, left:left + w] = arr[i]
    plt = _pyplot()
    scale = 2.0  # screen pixels per image pixel at _DPI
    title_in = 0.3 if title else 0.0
    fig = plt.figure(figsize=(grid.shape[1] * scale / _DPI, grid.shape[0] * scale / _DPI + title_in))
    ax = fig.add_axes((0, 0, 1, grid.shape[0] * scale / _DPI / fig.get_figheight()))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        fig.text(0.5, 1 - title_in / 2 / fig.get_figheight(), title, ha="center", va="center",
                 fontsize=8)
    try:
        return _save(fig, path, "png")
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------------------------
# Sample pages: every method's grid side by side, one page per data set

_PAGE_COLS = 4  # panels per row; a 10x10 grid stays legible at ~3 inches
_PANEL_IN = 3.2


def _grid_file(record: Mapping[str, Any], figures_dir: Path) -> Path | None:
    """Where a record's sample grid lies under ``figures_dir``, or ``None`` if it names none.

    The record stores ``results/<suite>/figures/samples/<cell>.png`` relative to the repository
    root, whatever results directory the run used; the part after the last ``figures`` folder is
    joined to ``figures_dir`` so the page works wherever the results tree now lives.
    """
    artifacts = record.get("artifacts")
    rel = artifacts.get("samples") if isinstance(artifacts, Mapping) else None
    if not isinstance(rel, str) or not rel:
        return None
    parts = Path(rel).parts
    folders = [i for i, part in enumerate(parts[:-1]) if part == "figures"]
    return figures_dir.joinpath(*parts[folders[-1] + 1:]) if folders else None


def _fid_text(record: Mapping[str, Any]) -> str:
    fid = (record.get("metrics") or {}).get(K.FID)
    if fid is None or not math.isfinite(float(fid)):
        return "FID n/a"
    return f"FID {float(fid):.1f}"


def sample_pages(records: Sequence[Mapping[str, Any]], figures_dir: str | Path) -> list[Path]:
    """One page per data set with every method's sample grid; writes ``samples_<dataset>``.

    Each panel is one entry label's grid (the runner's PNG from the record's
    ``artifacts["samples"]``), titled with the label and that record's FID. All panels show the
    same seed: the smallest one every label with an ok record on the data set has. Where no seed
    is common to all, each label shows its own smallest ok seed and the page's subtitle says so.
    Panels follow the tables' order (backend group, then label). A grid file that is missing or
    unreadable is left out with a warning; a data set with no grid at all gets no page.

    Args:
        records: checked records (see :func:`benchmarks.tables.load_records`).
        figures_dir: ``<results>/<suite>/figures``; the grids lie under its ``samples/``, and the
            pages are written here as ``samples_<dataset>.png`` and ``.pdf``.

    Returns:
        The files written (PNG and PDF per data set), or an empty list.
    """
    out = Path(figures_dir)
    # dataset -> label -> seed -> ok record
    by_ds: dict[str, dict[str, dict[int, Mapping[str, Any]]]] = {}
    for r in records:
        if r.get("status") == "ok":
            by_ds.setdefault(r["dataset"]["name"], {}).setdefault(
                r["adapter"]["label"], {})[r["seed"]] = r
    order = [(row.dataset, row.label) for row in _ok_rows(records)]
    plt = _pyplot()
    written: list[Path] = []
    for ds in dict.fromkeys(d for d, _ in order):
        labels = [lab for d, lab in order if d == ds]
        common = set.intersection(*(set(by_ds[ds][lab]) for lab in labels))
        seed_of = {lab: min(common) if common else min(by_ds[ds][lab]) for lab in labels}
        panels, missing = [], []
        for label in labels:
            rec = by_ds[ds][label][seed_of[label]]
            path = _grid_file(rec, out)
            if path is None or not path.is_file():
                log.warning("sample_pages %s: no sample grid for %s seed %d (%s); panel left out",
                            ds, label, seed_of[label], path or "no samples artifact")
                missing.append(label)
                continue
            try:
                image = plt.imread(path)
            except (OSError, ValueError, SyntaxError) as exc:  # PIL: SyntaxError = not a PNG
                log.warning("sample_pages %s: cannot read %s (%s); panel left out", ds, path, exc)
                missing.append(label)
                continue
            panels.append((label, rec, image))
        if not panels:
            log.info("sample_pages %s: no sample grid found; no page", ds)
            continue
        ncols = min(_PAGE_COLS, len(panels))
        nrows = math.ceil(len(panels) / ncols)
        # constrained layout keeps each panel's title clear of the grid above it (tight_layout
        # let the images of a row cover the titles of the next)
        fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                                 figsize=(_PANEL_IN * ncols, _PANEL_IN * nrows + 0.9))
        for ax in axes.flat:
            ax.set_axis_off()
        for ax, (label, rec, image) in zip(axes.flat, panels, strict=False):
            ax.imshow(image, cmap="gray", interpolation="nearest")
            seed_note = "" if common else f" · seed {rec['seed']}"
            ax.set_title(f"{label} · {_fid_text(rec)}{seed_note}", fontsize=8)
        if common:
            fig.suptitle(f"{ds}: generated samples, seed {min(common)}", fontsize=11)
            subtitle = "same seed for every method"
        else:
            fig.suptitle(f"{ds}: generated samples, seed per method", fontsize=11)
            subtitle = ("no seed is common to every method; each panel shows its method's "
                        "smallest seed")
        if missing:
            subtitle += f"; no grid for {', '.join(missing)}"
        fig.supxlabel(subtitle, fontsize=8, color="0.3")
        written += _save_all(fig, out / f"samples_{ds}")
    return written


# --------------------------------------------------------------------------------------------


def write_figures(records: Sequence[Mapping[str, Any]], figures_dir: str | Path) -> list[Path]:
    """Every records-only figure that has data, into ``figures_dir``.

    Writes ``fid_vs_energy``, ``fid_vs_timesteps``, ``firing_rates`` and
    ``samples_<dataset>`` (each ``.png`` and ``.pdf``) where the records hold what they need; the
    sample pages gather the runner's grids from ``figures_dir/samples``.

    Returns:
        The files written.
    """
    out = Path(figures_dir)
    written: list[Path] = []
    if not records:
        log.info("write_figures: no records; no figures")
        return written
    written += fid_vs_energy(records, out / "fid_vs_energy")
    written += fid_vs_timesteps(records, out / "fid_vs_timesteps")
    written += firing_rates(records, out / "firing_rates")
    written += sample_pages(records, out)
    return written
