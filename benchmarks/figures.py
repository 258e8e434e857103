"""Figures as a pure function of the records (plus benchmarks.execute's sample and filter grids).

* :func:`fid_vs_energy` — FID against energy per sample, a panel per data set and energy model,
  Pareto front marked.
* :func:`fid_vs_timesteps` — FID and spikes per sample against the number of time steps ``T``.
* :func:`firing_rates` — per-layer firing rates of the spiking cells.
* :func:`class_histograms` — per data set, each method's shares of samples per predicted class
  beside the test split's.
* :func:`sample_pages` — one page per data set with every method's sample grid, same seed.
* :func:`sample_grid` — a grid of generated images (benchmarks.execute draws one for every cell).
* :func:`filter_grid` — an STDP adapter's layer-1 filters (benchmarks.execute draws one per STDP cell).

The records-only figures read the same frames as the tables (:mod:`benchmarks.frame`: a row per
cell, reduced to a row per ``(dataset, label)``) and return the :class:`matplotlib.figure.Figure`
they drew, so what they plot can be checked; :func:`write_figures` saves them. Figures are drawn
on matplotlib's Agg canvas without ``pyplot`` (no global figure state, no display); files are
written atomically (:func:`adapters.io.atomic_path`) and without time stamps, so the same records
give the same bytes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from adapters.io import atomic_path
from benchmarks import frame as F
from benchmarks.metrics import keys as K
from benchmarks.metrics.energy import TABLE_ENERGY_MODELS
from benchmarks.tables import dataset_notes

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
_FILTER_DPI = 120
_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None}}


def _figure(**kwargs: Any) -> Figure:
    """A new figure on an Agg canvas (it can be drawn and measured before it is saved)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _style(backend: str) -> tuple[str, str]:
    return BACKEND_STYLE.get(backend, _OTHER_STYLE)


def save_figure(fig: Figure, path: str | Path, *, dpi: int = _DPI) -> Path:
    """Save ``fig`` to ``path`` atomically, in the format of its suffix, without time stamps."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=_METADATA.get(fmt))
    return path


def _save_all(fig: Figure, path_stem: str | Path) -> list[Path]:
    """Save ``fig`` as ``<stem>.png`` and ``<stem>.pdf``."""
    stem = Path(path_stem)
    return [save_figure(fig, stem.with_name(f"{stem.name}.{fmt}")) for fmt in _FORMATS]


def _ok_rows(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The ok rows of the records' summary frame, in table order."""
    summary = F.summarize(F.cells(records))
    return summary[summary["status"] == "ok"].reset_index(drop=True)


def _stat(rows: pd.DataFrame, key: str, stat: str = "mean") -> np.ndarray:
    """A summary column as floats (``NaN`` where absent, all ``NaN`` if no record has ``key``)."""
    column = f"{key}_{stat}"
    if column not in rows:
        return np.full(len(rows), np.nan)
    return rows[column].to_numpy(dtype=float)


def _err(rows: pd.DataFrame, key: str) -> np.ndarray:
    """Error bars: the sample std, 0 where there is none (one seed)."""
    return np.nan_to_num(_stat(rows, key, "std"), nan=0.0)


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


def fid_vs_energy(records: Sequence[Mapping[str, Any]],
                  energy_models: Sequence[str] = TABLE_ENERGY_MODELS) -> Figure | None:
    """Scatter FID against energy per sample: small multiples, a row of panels per data set and
    a panel per energy model, the Pareto front in each.

    x is the mean energy per sample (nJ, log scale) under the panel's model, computed from the
    records' ``op_counts`` as the tables do (:func:`benchmarks.frame.cells`), y the mean FID, with
    error bars of one sample std over seeds; marker and colour by backend; the Pareto front (lower
    FID and lower energy) is joined by a dashed line. Rows without an FID or a positive energy
    under a model are left out of its panel; a panel with none says so (the records predate the
    counts that model needs). With ``energy_models=()`` there is one panel per data set, of the
    energy the records hold.

    Returns:
        The figure (one errorbar container per drawn row, in table order, in each panel; axes
        row by row), or ``None`` when no row has an FID and an energy under any model.

    Raises:
        ValueError: an unknown energy model name (listing the known ones).
    """
    models = tuple(energy_models)
    summary = F.summarize(F.cells(records, models))
    ok = summary[summary["status"] == "ok"].reset_index(drop=True)
    cells = F.cells(records)
    notes = dataset_notes(cells)
    panels = [(m, K.energy_key(m)) for m in models] or [(None, K.ENERGY_NJ)]
    grid: dict[str, list[pd.DataFrame]] = {}
    for ds, rows in ok.groupby("dataset", sort=False):
        has_fid = ~np.isnan(_stat(rows, K.FID))
        usable = [rows[has_fid & (np.nan_to_num(_stat(rows, key)) > 0)] for _, key in panels]
        for (model, _), use in zip(panels, usable, strict=True):
            dropped = sorted(set(rows["label"]) - set(use["label"]))
            if dropped:
                log.info("fid_vs_energy %s (%s): no FID or energy for %s", ds,
                         model or "recorded energy", ", ".join(dropped))
        if any(len(u) for u in usable):
            grid[str(ds)] = usable
    if not grid:
        log.info("fid_vs_energy: no row with both FID and energy; no figure")
        return None
    fig = _figure(figsize=(5.0 * len(panels) + 0.6, 4.4 * len(grid) + 0.4))
    axes = fig.subplots(len(grid), len(panels), squeeze=False)
    backends_seen: list[str] = []
    drawn: list[tuple[Axes, pd.DataFrame, str]] = []
    for axes_row, (ds, usable) in zip(axes, grid.items(), strict=True):
        note = notes.get(ds)
        for ax, (model, key), rows in zip(axes_row, panels, usable, strict=True):
            if model is None:
                model_text = (note.energy_models[0] if note and len(note.energy_models) == 1
                              else "energy model")
                ax.set_title(ds)
            else:
                model_text = model
                ax.set_title(f"{ds} · {model}")
            if not len(rows):
                ax.text(0.5, 0.5, f"no record holds the counts\n{model_text} needs:\n"
                        "re-measure (run --reevaluate)", ha="center", va="center",
                        transform=ax.transAxes, fontsize=8, color="0.4")
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            _energy_panel(ax, rows, key, backends_seen)
            extractor = (note.feature_extractors[0] if note and len(note.feature_extractors) == 1
                         else "feature net")
            ax.set_xlabel(f"Energy per sample (nJ, {model_text}, log scale)")
            ax.set_ylabel(f"{K.spec(K.FID).label} ({extractor}){_direction(K.FID)}")
            floor = note.fid_data_floor[0] if note else None
            bottom, top = ax.get_ylim()
            if floor is not None and bottom <= floor <= top:  # drawn where it does not squash
                ax.axhline(floor, color="0.6", linestyle=":", linewidth=1)
                ax.annotate(f"data floor {floor:.2f}", (0.01, floor),
                            xycoords=("axes fraction", "data"), xytext=(2, 2),
                            textcoords="offset points", fontsize=7, color="0.4")
                ax.set_ylim(bottom, top)
            drawn.append((ax, rows, key))
    ordered = [b for b in F.BACKEND_ORDER if b in backends_seen]
    ordered += sorted(b for b in backends_seen if b not in F.BACKEND_ORDER)
    handles = _legend_handles(ordered)
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07 / len(grid), 1, 1))
    for ax, rows, key in drawn:
        _place_labels(fig, ax, list(zip(_stat(rows, key), _stat(rows, K.FID), rows["label"],
                                        strict=True)))
    return fig


def _energy_panel(ax: Axes, rows: pd.DataFrame, key: str, backends_seen: list[str]) -> None:
    """One FID-energy panel: a point per row (errors: one std), the Pareto front dashed."""
    xs, ys = _stat(rows, key), _stat(rows, K.FID)
    for backend, x, y, xerr, yerr in zip(rows["backend"], xs, ys, _err(rows, key),
                                         _err(rows, K.FID), strict=True):
        marker, colour = _style(backend)
        if backend not in backends_seen:
            backends_seen.append(backend)
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt=marker, color=colour, markersize=6,
                    capsize=2, elinewidth=0.8)
    front = pareto_front(list(zip(xs, ys, strict=True)))
    ax.plot([xs[i] for i in front], [ys[i] for i in front], linestyle="--", color="0.5",
            linewidth=1, drawstyle="steps-post", zorder=0)
    ax.scatter([xs[i] for i in front], [ys[i] for i in front], s=140, facecolors="none",
               edgecolors="0.4", linewidths=1, zorder=0)
    ax.set_xscale("log")
    _plain_log_ticks(ax)
    ax.margins(x=0.2, y=0.15)
    ax.grid(True, which="major", linewidth=0.4, alpha=0.5)


def _direction(key: str) -> str:
    """`` ↓ lower is better`` / `` ↑ higher is better`` from the metric's declaration."""
    better = K.spec(key).higher_is_better
    return "" if better is None else (" ↑ higher is better" if better else " ↓ lower is better")


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


def fid_vs_timesteps(records: Sequence[Mapping[str, Any]]) -> Figure | None:
    """FID and spikes per sample against ``T`` for labels that differ in ``T`` alone.

    One row of two panels per data set that has such a sweep; one line per sweep (see
    :func:`_sweep_lines`), with error bars of one sample std over seeds.

    Returns:
        The figure, or ``None`` (logged at info level) when no data set has a sweep.
    """
    lines_of = _sweep_lines(records)
    sweeps: dict[str, dict[str, pd.DataFrame]] = {}
    for ds, rows in _ok_rows(records).groupby("dataset", sort=False):
        rows = rows[~np.isnan(_stat(rows, K.TIMESTEPS))]
        line = pd.Series([lines_of.get(lab, adapter) for lab, adapter in
                          zip(rows["label"], rows["adapter"], strict=True)], index=rows.index)
        for name, members in rows.groupby(line, sort=True):
            if len(set(_stat(members, K.TIMESTEPS))) >= 2:
                members = members.assign(_t=_stat(members, K.TIMESTEPS))
                sweeps.setdefault(str(ds), {})[str(name)] = members.sort_values(["_t", "label"])
    if not sweeps:
        log.info("fid_vs_timesteps: no adapter appears with two or more T; no figure")
        return None
    fig = _figure(figsize=(9.5, 3.6 * len(sweeps)))
    axes = fig.subplots(len(sweeps), 2, squeeze=False)
    for (ds, lines), (ax_fid, ax_spk) in zip(sweeps.items(), axes, strict=True):
        all_t: set[float] = set()
        for i, (name, members) in enumerate(lines.items()):
            colour = _LINE_COLOURS[i % len(_LINE_COLOURS)]
            ts = _stat(members, K.TIMESTEPS)
            all_t.update(ts.tolist())
            for ax, key in ((ax_fid, K.FID), (ax_spk, K.SPIKES)):
                ys, errs = _stat(members, key), _err(members, key)
                has = ~np.isnan(ys)
                if has.any():
                    ax.errorbar(ts[has], ys[has], yerr=errs[has], marker="o", color=colour,
                                capsize=2, linewidth=1.2, markersize=5, label=name)
        for ax in (ax_fid, ax_spk):
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(all_t))
            ax.set_xticklabels([f"{t:g}" for t in sorted(all_t)])
            ax.minorticks_off()
            ax.set_xlabel("Time steps T")
            ax.grid(True, linewidth=0.4, alpha=0.5)
        ax_fid.set_ylabel(f"{K.spec(K.FID).label}{_direction(K.FID)}")
        ax_spk.set_ylabel("Spikes per generated sample")
        ax_fid.set_title(f"{ds}: image quality")
        ax_spk.set_title(f"{ds}: spike count")
        ax_fid.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


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


def layer_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A row per (cell, spiking layer): ``dataset, label, backend, seed, layer, rate``.

    Rows come in record order and, within a record, in its layer order; cells without spiking
    layers (ANNs, failed cells) have none.
    """
    rows = [{"dataset": r["dataset"]["name"], "label": r["adapter"]["label"],
             "backend": r["adapter"]["backend"], "seed": r["seed"], "layer": layer, "rate": rate}
            for r in records for layer, rate in layer_rates(r).items()]
    return pd.DataFrame(rows, columns=["dataset", "label", "backend", "seed", "layer", "rate"])


def firing_rates(records: Sequence[Mapping[str, Any]]) -> Figure | None:
    """Horizontal bars of per-layer firing rates (mean ± std over seeds), one panel per data set.

    Methods follow the tables' order, each method's layers their order in its records.

    Returns:
        The figure (one bar per method and layer, top to bottom), or ``None`` when no cell has
        spiking layers.
    """
    layers = layer_frame(records)
    if layers.empty:
        log.info("firing_rates: no record with spiking layers; no figure")
        return None
    stats = layers.groupby(["dataset", "label", "layer"], sort=False)["rate"].agg(
        [F.mean, F.std]).reset_index()
    order = F.summarize(F.cells(records))[["dataset", "label"]]
    panels = []
    for ds in dict.fromkeys(order["dataset"]):
        labels = [lab for lab in order[order["dataset"] == ds]["label"]
                  if ((stats["dataset"] == ds) & (stats["label"] == lab)).any()]
        if labels:
            panels.append((ds, labels, stats[stats["dataset"] == ds]))
    backend_of = dict(zip(layers["label"], layers["backend"], strict=False))
    heights = [len(ds_stats) + len(labels) for _, labels, ds_stats in panels]
    fig = _figure(figsize=(7.5, 1.2 + 0.22 * sum(heights) + 0.8 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    for ax, (ds, labels, ds_stats) in zip(axes[:, 0], panels, strict=True):
        y = 0.0
        ticks, names = [], []
        for label in labels:
            _, colour = _style(backend_of[label])
            for _, st in ds_stats[ds_stats["label"] == label].iterrows():
                ax.barh(y, st["mean"], xerr=0.0 if math.isnan(st["std"]) else st["std"],
                        color=colour, alpha=0.8, height=0.75, capsize=2,
                        error_kw={"elinewidth": 0.8})
                ticks.append(y)
                names.append(f"{label} · {st['layer']}")
                y += 1
            y += 1  # a gap between methods
        ax.set_yticks(ticks)
        ax.set_yticklabels(names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("Firing rate (spikes per neuron per time step)")
        ax.set_title(ds, fontsize=9)
        ax.grid(True, axis="x", linewidth=0.4, alpha=0.5)
        top = layers.loc[layers["dataset"] == ds, "rate"].max()
        ax.set_xlim(0, min(1.0, top * 1.25) or 1.0)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Class histograms: which classes the classifier sees in each method's samples

#: The record's key of a cell's class histogram (optional: ok cells measured with it).
CLASS_HISTOGRAM = "class_histogram"
_SHARE_SUM_TOLERANCE = 1e-3
_HIST_COLS = 4  # panels per row
_HIST_PANEL_IN = (2.6, 1.9)  # width, height of one panel (inches)
_HIST_MIN_WIDTH_IN = 6.5  # room for the title and the key below the panels
_TEST_COLOUR = "#E69F00"  # Okabe-Ito orange: no backend's colour, visible on each of them
#: The share a class needs to count in the "Classes ≥5 %" column (``min_share`` of
#: ``benchmarks.metrics.features.coverage``, not imported: it would import torch).
_COVERED_SHARE = 0.05


def _shares(record: Mapping[str, Any], field: str) -> list[float]:
    """``record["class_histogram"][field]`` as floats, checked to be shares of a whole.

    Raises:
        ValueError: not a non-empty list of finite numbers >= 0 summing to 1 (names the cell).
    """
    values = record[CLASS_HISTOGRAM].get(field)
    where = f"{record.get('cell_id')}: {CLASS_HISTOGRAM}.{field}"
    if (not isinstance(values, list) or not values
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)):
        raise ValueError(f"{where} must be a non-empty list of numbers, got {values!r}")
    shares = [float(v) for v in values]
    if not all(math.isfinite(v) and v >= 0 for v in shares):
        raise ValueError(f"{where} must hold finite shares >= 0, got {shares}")
    total = math.fsum(shares)
    if abs(total - 1.0) > _SHARE_SUM_TOLERANCE:
        raise ValueError(f"{where} must sum to 1 (within {_SHARE_SUM_TOLERANCE:g}), "
                         f"got {total:.6g}")
    return shares


def class_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A row per (ok cell with a class histogram, class): ``dataset, label, backend, seed,
    classifier, cls, share, test_share``.

    Rows come in record order and, within a record, in class order; records without
    ``class_histogram`` (older records, failed or skipped cells) have none.

    Raises:
        ValueError: a histogram whose ``shares`` or ``test_shares`` are not shares of a whole,
            whose two lists differ in length, or whose ``classifier`` is not a non-empty string
            (the message names the cell).
    """
    columns = ["dataset", "label", "backend", "seed", "classifier", "cls", "share", "test_share"]
    rows = []
    for r in records:
        hist = r.get(CLASS_HISTOGRAM)
        if r.get("status") != "ok" or hist is None:
            continue
        if not isinstance(hist, Mapping):
            raise ValueError(f"{r.get('cell_id')}: {CLASS_HISTOGRAM} must be an object with "
                             f"classifier, shares and test_shares, got {hist!r}")
        classifier = hist.get("classifier")
        if not isinstance(classifier, str) or not classifier:
            raise ValueError(f"{r.get('cell_id')}: {CLASS_HISTOGRAM}.classifier must be the "
                             f"feature net's name, got {classifier!r}")
        shares, test = _shares(r, "shares"), _shares(r, "test_shares")
        if len(shares) != len(test):
            raise ValueError(f"{r.get('cell_id')}: {CLASS_HISTOGRAM} has {len(shares)} shares "
                             f"but {len(test)} test_shares; both must have one per class")
        rows += [{"dataset": r["dataset"]["name"], "label": r["adapter"]["label"],
                  "backend": r["adapter"]["backend"], "seed": r["seed"],
                  "classifier": classifier, "cls": c, "share": share, "test_share": t}
                 for c, (share, t) in enumerate(zip(shares, test, strict=True))]
    return pd.DataFrame(rows, columns=columns)


def class_histograms(records: Sequence[Mapping[str, Any]]) -> dict[str, Figure]:
    """Per data set, a grid of small bar charts: each method's share of samples per class.

    One panel per table row (tables' order) with an ok cell that recorded a class histogram:
    bars are the mean share over its seeds (error bars one sample std where there are two or
    more), orange diamonds the test split's true class shares (mean over the data set's cells),
    a dotted line the 5 % threshold of the "Classes ≥5 %" column (half a fair share of ten
    classes). The page title names the classifier that predicted the classes.

    Returns:
        ``{dataset: figure}`` in table order, for the data sets with any class histogram (none
        for records made before the coverage metrics); :func:`write_figures` saves each as
        ``class_histograms_<dataset>``.

    Raises:
        ValueError: as :func:`class_frame`, or the cells of a data set disagree on the number
            of classes.
    """
    classes = class_frame(records)
    if classes.empty:
        log.info("class_histograms: no record has a %s; no figure", CLASS_HISTOGRAM)
        return {}
    order = _ok_rows(records)[["dataset", "label"]]
    pages: dict[str, Figure] = {}
    for ds in dict.fromkeys(order["dataset"]):
        of_ds = classes[classes["dataset"] == ds]
        labels = [lab for lab in order[order["dataset"] == ds]["label"]
                  if (of_ds["label"] == lab).any()]
        if not labels:
            continue
        counts = of_ds.groupby(["label", "seed"])["cls"].size()
        if counts.nunique() > 1:
            raise ValueError(f"class_histograms {ds}: cells record different numbers of classes "
                             f"{sorted(set(counts.tolist()))}; one classifier's classes expected")
        n_classes = int(counts.iloc[0])
        classifiers = sorted(set(of_ds["classifier"]))
        if len(classifiers) > 1:
            log.warning("class_histograms %s: records mix classifiers %s; the title lists them",
                        ds, classifiers)
        test = of_ds.groupby("cls")["test_share"].agg(F.mean).to_numpy(dtype=float)
        stats = of_ds.groupby(["label", "cls"], sort=False)["share"].agg([F.mean, F.std])
        ncols = min(_HIST_COLS, len(labels))
        nrows = math.ceil(len(labels) / ncols)
        fig = _figure(figsize=(max(_HIST_MIN_WIDTH_IN, _HIST_PANEL_IN[0] * ncols),
                               _HIST_PANEL_IN[1] * nrows + 1.1), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
        for ax in axes.flat[len(labels):]:
            ax.set_axis_off()
        top = max(float((stats["mean"] + stats["std"].fillna(0.0)).max()), float(test.max()))
        xs = np.arange(n_classes)
        for ax, label in zip(axes.flat, labels, strict=False):
            st = stats.loc[label]
            means, stds = st["mean"].to_numpy(dtype=float), st["std"].to_numpy(dtype=float)
            backend = of_ds.loc[of_ds["label"] == label, "backend"].iloc[0]
            n_seeds = of_ds.loc[of_ds["label"] == label, "seed"].nunique()
            ax.bar(xs, means, width=0.75, color=_style(backend)[1], alpha=0.8)
            spread = np.nan_to_num(stds, nan=0.0) > 0  # no caps where the seeds agree
            if spread.any():
                ax.errorbar(xs[spread], means[spread], yerr=stds[spread], fmt="none",
                            ecolor="0.25", elinewidth=0.6, capsize=1.5)
            ax.plot(xs, test, linestyle="none", marker="D", markersize=4, color=_TEST_COLOUR,
                    markeredgecolor="black", markeredgewidth=0.6, label="test split")
            ax.axhline(_COVERED_SHARE, color="0.5", linestyle=":", linewidth=0.8)
            ax.set_title(f"{label} ({n_seeds} seed{'s' if n_seeds > 1 else ''})", fontsize=8)
            ax.set_xticks(xs)
            ax.tick_params(labelsize=7)
            ax.set_ylim(0, min(1.0, top * 1.1) or 1.0)
            ax.grid(True, axis="y", linewidth=0.4, alpha=0.5)
        fig.suptitle(f"{ds}: share of generated samples per class\n"
                     f"classes predicted by {' / '.join(classifiers)}", fontsize=10)
        fig.supxlabel("Predicted class\nbars: mean over seeds (± std) · diamonds: the test "
                      f"split's true shares · dotted: {100 * _COVERED_SHARE:g} % of the samples",
                      fontsize=8, color="0.3")
        fig.supylabel("Share of samples", fontsize=8)
        pages[str(ds)] = fig
    return pages


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


def sample_pages(records: Sequence[Mapping[str, Any]],
                 figures_dir: str | Path) -> dict[str, Figure]:
    """One page per data set with every method's sample grid.

    Each panel is one entry label's grid (the PNG benchmarks.execute drew from the record's
    ``artifacts["samples"]``), titled with the label and that record's FID. All panels show the
    same seed: the smallest one every label with an ok record on the data set has. Where no seed
    is common to all, each label shows its own smallest ok seed and the page's subtitle says so.
    Panels follow the tables' order (backend group, then label). A grid file that is missing or
    unreadable is left out with a warning; a data set with no grid at all gets no page.

    Args:
        records: checked records (see :func:`benchmarks.frame.load_records`).
        figures_dir: ``<results>/<suite>/figures``; the grids lie under its ``samples/``.

    Returns:
        ``{dataset: page}`` in table order; :func:`write_figures` saves each as
        ``samples_<dataset>``.
    """
    from matplotlib.image import imread

    out = Path(figures_dir)
    # dataset -> label -> seed -> ok record
    by_ds: dict[str, dict[str, dict[int, Mapping[str, Any]]]] = {}
    for r in records:
        if r.get("status") == "ok":
            by_ds.setdefault(r["dataset"]["name"], {}).setdefault(
                r["adapter"]["label"], {})[r["seed"]] = r
    order = list(zip(*(_ok_rows(records)[c] for c in ("dataset", "label")), strict=True))
    pages: dict[str, Figure] = {}
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
                image = imread(path)
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
        fig = _figure(figsize=(_PANEL_IN * ncols, _PANEL_IN * nrows + 0.9), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
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
        pages[str(ds)] = fig
    return pages


# --------------------------------------------------------------------------------------------
# Image grids drawn by benchmarks.execute for each cell


def _to_numpy(images: Any) -> np.ndarray:
    if isinstance(images, np.ndarray):
        return images
    if hasattr(images, "detach"):  # a torch Tensor; torch is not imported for numpy input
        return images.detach().to("cpu").numpy()
    raise TypeError(f"images must be a numpy array or a torch Tensor, got {type(images).__name__}")


def _floats_in(arr: np.ndarray, lo: float, hi: float, what: str) -> np.ndarray:
    """``arr`` as float32 clipped to ``[lo, hi]``; values outside (beyond rounding) or NaN raise."""
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contain NaN or inf; allowed: finite values in [{lo:g}, {hi:g}]")
    low, high = float(arr.min()), float(arr.max())
    if low < lo - 1e-6 or high > hi + 1e-6:
        raise ValueError(f"float {what} must lie in [{lo:g}, {hi:g}], got [{low:.4g}, {high:.4g}]")
    return np.clip(arr, lo, hi)


def _check_png(path: str | Path, name: str) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{name} writes PNG; path must end in .png, got {path}")
    return path


def _check_count(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def tile(images: Any, nrow: int = 10, pad: int = 2) -> np.ndarray:
    """The image :func:`sample_grid` draws: ``images`` side by side, ``nrow`` to a row.

    Args:
        images: ``(N, 1, H, W)`` or ``(N, H, W)``; float in ``[0, 1]`` or ``uint8`` in
            ``[0, 255]``; numpy array or torch Tensor. ``N >= 1``.
        nrow: images per row (``>= 1``).
        pad: pixels of mid-grey (0.5) around every image.

    Returns:
        float32 ``(rows * (H + pad) + pad, cols * (W + pad) + pad)`` in ``[0, 1]``.

    Raises:
        ValueError: bad shape, value range, dtype or ``nrow`` (the message says what is allowed).
        TypeError: ``images`` is neither an array nor a Tensor.
    """
    _check_count(nrow, "nrow")
    arr = _to_numpy(images)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 3 or arr.shape[0] < 1:
        raise ValueError(f"images must have shape (N, 1, H, W) or (N, H, W) with N >= 1, "
                         f"got {tuple(arr.shape)}")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        arr = _floats_in(arr, 0.0, 1.0, "images")
    else:
        raise ValueError(f"images must be float in [0, 1] or uint8, got dtype {arr.dtype}")
    n, h, w = arr.shape
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 0.5, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top:top + h, left:left + w] = arr[i]
    return grid


def sample_grid(images: Any, path: str | Path, nrow: int = 10, title: str | None = None) -> Path:
    """Write a PNG grid of images (:func:`tile`), two screen pixels per image pixel.

    Args:
        images: see :func:`tile`.
        path: the PNG file (suffix ``.png``).
        nrow: images per row of the grid (``>= 1``).
        title: drawn above the grid when given.

    Returns:
        ``path``.

    Raises:
        ValueError: bad shape, value range, ``nrow`` or suffix (the message says what is allowed).
        TypeError: ``images`` is neither an array nor a Tensor.
    """
    path = _check_png(path, "sample_grid")
    grid = tile(images, nrow)
    scale = 2.0  # screen pixels per image pixel at _DPI
    title_in = 0.3 if title else 0.0
    fig = _figure(figsize=(grid.shape[1] * scale / _DPI,
                           grid.shape[0] * scale / _DPI + title_in))
    ax = fig.add_axes((0, 0, 1, grid.shape[0] * scale / _DPI / fig.get_figheight()))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        fig.text(0.5, 1 - title_in / 2 / fig.get_figheight(), title, ha="center", va="center",
                 fontsize=8)
    return save_figure(fig, path)


def filter_grid(filters: Any, path: str | Path, *, title: str, ncols: int = 8) -> Figure:
    """Write a PNG of an STDP adapter's layer-1 filters, one panel each, and return the figure.

    Args:
        filters: float ``(K, h, w)`` in ``[-1, 1]`` (each filter's on minus off channel), a torch
            Tensor or numpy array, ``K >= 1``; drawn in gray from -1 (black) to 1 (white).
        path: the PNG file (suffix ``.png``).
        title: drawn above the panels.
        ncols: panels per row (``>= 1``).

    Returns:
        The figure: one image per filter, in order, ``ncols`` to a row.

    Raises:
        ValueError: bad shape, dtype, value range, ``ncols`` or suffix.
        TypeError: ``filters`` is neither an array nor a Tensor.
    """
    path = _check_png(path, "filter_grid")
    _check_count(ncols, "ncols")
    arr = _to_numpy(filters)
    if arr.ndim != 3 or arr.shape[0] < 1:
        raise ValueError(f"filters must have shape (K, h, w) with K >= 1, got {tuple(arr.shape)}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"filters must be float in [-1, 1], got dtype {arr.dtype}")
    arr = _floats_in(arr, -1.0, 1.0, "filters")
    rows = math.ceil(len(arr) / ncols)
    fig = _figure(figsize=(ncols * 0.9, rows * 0.9))
    axes = fig.subplots(rows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(arr):
            ax.imshow(arr[i], cmap="gray", vmin=-1, vmax=1)
    fig.suptitle(title, fontsize=8)
    save_figure(fig, path, dpi=_FILTER_DPI)
    return fig


# --------------------------------------------------------------------------------------------


def write_figures(records: Sequence[Mapping[str, Any]], figures_dir: str | Path,
                  energy_models: Sequence[str] = TABLE_ENERGY_MODELS) -> list[Path]:
    """Every records-only figure that has data, into ``figures_dir``; ``energy_models``: the
    panels of ``fid_vs_energy``.

    Writes ``fid_vs_energy``, ``fid_vs_timesteps``, ``firing_rates``,
    ``class_histograms_<dataset>`` and ``samples_<dataset>`` (each ``.png`` and ``.pdf``) where
    the records hold what they need (the class histograms need records with a
    ``class_histogram``); the sample pages gather the cells' grids from ``figures_dir/samples``.

    Returns:
        The files written.
    """
    out = Path(figures_dir)
    if not records:
        log.info("write_figures: no records; no figures")
        return []
    figures: dict[str, Figure | None] = {
        "fid_vs_energy": fid_vs_energy(records, energy_models),
        "fid_vs_timesteps": fid_vs_timesteps(records),
        "firing_rates": firing_rates(records),
        **{f"class_histograms_{ds}": fig for ds, fig in class_histograms(records).items()},
        **{f"samples_{ds}": page for ds, page in sample_pages(records, out).items()},
    }
    written: list[Path] = []
    for stem, fig in figures.items():
        if fig is not None:
            written += _save_all(fig, out / stem)
    return written
