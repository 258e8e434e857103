"""Tables as a pure function of the records: Markdown, LaTeX (booktabs) and CSV.

Nothing here trains, samples or imports an adapter. The records become one tidy DataFrame (a row
per cell, :func:`benchmarks.frame.cells`), reduced over seeds to a row per ``(dataset, label)``
(:func:`benchmarks.frame.summarize`: mean, sample std with ``ddof=1`` and ``n`` over the ok
seeds). That frame is written as CSV with ``DataFrame.to_csv``; for each data set a frame of
display strings is rendered as Markdown and, through ``Styler.to_latex``, as a booktabs LaTeX
table. Which metrics are columns, their order, labels, units, formats and better directions come
from :mod:`benchmarks.metrics.keys`; nothing here decides on its own that a metric is "lower is
better".

A failed or skipped record never enters a mean; a row whose every record failed shows as
``failed: <reason>`` (never as a number). The same records give byte-identical files.

Energy columns are computed here, from each record's ``op_counts``, under the energy models asked
for (:data:`benchmarks.metrics.energy.TABLE_ENERGY_MODELS` unless told otherwise: ``tables
--energy-model NAME ...``), each with its ratio to the row's matched ANN row
(:func:`benchmarks.frame.energy_baselines`), which the caption names. A record made before the
counts a model needs shows ``—`` there, never 0. With no energy model (``energy_models=()``) the
tables show the energy metrics the records hold.

Where the rows carry FID in both feature spaces (``fid`` and ``fid_ae``), each data set's caption
states how alike the two rankings of its rows are (Spearman's rho, Kendall's tau-b:
:func:`benchmarks.frame.rank_agreement`), and a row whose rank moves by more than
:data:`RANK_SHIFT` places between the spaces is marked with :data:`MOVED_MARK`.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from adapters.io import atomic_write_text
from benchmarks import frame as F
from benchmarks.frame import load_records
from benchmarks.metrics import keys as K
from benchmarks.metrics.energy import TABLE_ENERGY_MODELS, get_energy_model, short_name

__all__ = ["AGREEMENT_KEYS", "BACKEND_TITLES", "MOVED_MARK", "RANK_SHIFT", "Table",
           "build_tables", "dataset_notes", "energy_unit", "fid_agreement", "load_records",
           "render_csv", "render_latex", "render_markdown", "tex_escape", "write_tables"]

log = logging.getLogger(__name__)

#: How the LaTeX tables title each backend's group of rows (unknown backends: their name).
BACKEND_TITLES: dict[str, str] = {
    "ann": "ANN baselines (non-spiking)",
    "surrogate": "Surrogate-gradient SNNs (snntorch)",
    "conversion": "ANN-to-SNN conversion (SNN Toolbox)",
    "stdp": "STDP (spyker)",
}

NOT_APPLICABLE = "—"
#: The two scores whose rankings of a table's rows the caption compares (the same samples' FID
#: in the data set's classifier features and in the second, autoencoder, feature space).
AGREEMENT_KEYS: tuple[str, str] = (K.FID, K.FID_AE)
#: A row whose rank differs by more than this many places between the two is marked.
RANK_SHIFT = 2
#: The mark after such a row's name (explained in the caption, with its two ranks).
MOVED_MARK = "†"


# --------------------------------------------------------------------------------------------
# What a data set's caption states


@dataclass(frozen=True)
class DatasetNotes:
    """How a data set's numbers were measured and its scale anchors.

    Every tuple lists the distinct values found in the ok cells (normally one each); the anchors
    are ``(mean, std)`` over those cells (``None`` where absent).
    """

    dataset: str
    feature_extractors: tuple[Any, ...]
    feature_net_accuracies: tuple[Any, ...]
    n_samples: tuple[Any, ...]
    energy_models: tuple[Any, ...]
    energy_model_descs: tuple[Any, ...]
    fid_data_floor: tuple[float | None, float | None]
    fid_noise_ceiling: tuple[float | None, float | None]


def _nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else x


def dataset_notes(cells: pd.DataFrame) -> dict[str, DatasetNotes]:
    """Per data set of a :func:`benchmarks.frame.cells` frame: feature extractor, sample count,
    energy model and FID anchors of its ok cells.

    Mixed values (e.g. two energy models in one table) are listed, and logged as a warning.
    """
    out = {}
    for ds, members in cells.groupby("dataset", sort=False):
        ok = members[members["status"] == "ok"]

        def distinct(name: str, ok: pd.DataFrame = ok) -> tuple[Any, ...]:
            values = {v for v in ok[F.CONFIG_PREFIX + name] if v is not None}
            return tuple(sorted(values, key=str))

        def anchor(key: str, ok: pd.DataFrame = ok) -> tuple[float | None, float | None]:
            values = ok[key] if key in ok else pd.Series([], dtype=float)
            return _nan_to_none(F.mean(values)), _nan_to_none(F.std(values))

        notes = DatasetNotes(
            dataset=str(ds),
            feature_extractors=distinct("feature_extractor"),
            feature_net_accuracies=distinct("feature_net_test_accuracy"),
            n_samples=distinct("n_samples"),
            energy_models=distinct("energy_model"),
            energy_model_descs=distinct("energy_model_desc"),
            fid_data_floor=anchor(K.FID_DATA_FLOOR),
            fid_noise_ceiling=anchor(K.FID_NOISE_CEILING),
        )
        for name in ("feature_extractors", "n_samples", "energy_models"):
            if len(getattr(notes, name)) > 1:
                log.warning("%s: records mix %s %s; the table lists them all", ds, name,
                            getattr(notes, name))
        out[str(ds)] = notes
    return out


# --------------------------------------------------------------------------------------------
# Formatting


_SI_SCALE = {suffix: scale for suffix, scale in K.SI_SUFFIXES}


def _like(text: str, x: float) -> str:
    """``x`` in the suffix and decimals of an already formatted ``text`` (a std beside its mean:
    ``_like("2.01k", 14.8) == "0.01k"``)."""
    suffix = text[-1] if text and text[-1] in _SI_SCALE else ""
    number = text[: len(text) - len(suffix)]
    decimals = len(number.split(".")[1]) if "." in number else 0
    return f"{x / _SI_SCALE.get(suffix, 1.0):.{decimals}f}{suffix}"


#: Energy units, nJ-based: the table picks the largest unit in which its biggest value is >= 10.
_ENERGY_UNITS: tuple[tuple[str, float], ...] = (("mJ", 1e6), ("µJ", 1e3), ("nJ", 1.0))


def energy_unit(values: Iterable[float | None]) -> tuple[str, float]:
    """``(unit, nJ per unit)`` that keeps the largest energy of a table readable."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    for unit, scale in _ENERGY_UNITS:
        if top >= 10 * scale:
            return unit, scale
    return "nJ", 1.0


@dataclass(frozen=True)
class Table:
    """One data set's table, formatted but not yet rendered.

    Attributes:
        dataset: the data set.
        rows: its rows of :func:`benchmarks.frame.summarize`, in table order (index 0..n-1).
        columns: the metric columns (:func:`benchmarks.metrics.keys.table_columns`).
        units: the unit shown per column key (the energy column's is rescaled).
        means, stds: display strings, one column per metric key: ``""`` where absent, the mean
            of a ``failed``/``skipped`` row included; ``NOT_APPLICABLE`` where no seed reports it.
        best: ``True`` where a cell is the column's best (ties all best).
        notes: the caption sentences (plain text, unescaped).
        agreement: how alike the rows' rankings by the two :data:`AGREEMENT_KEYS` are
            (:func:`fid_agreement`); ``None`` where fewer than three rows have both.
        energy_models: the energy models of the energy columns, computed at table time (empty:
            the records' own energy metrics).
        baselines: each row label's matched ANN row (``None``: none), for the energy ratios.
    """

    dataset: str
    rows: pd.DataFrame
    columns: tuple[K.MetricSpec, ...]
    units: Mapping[str, str]
    means: pd.DataFrame
    stds: pd.DataFrame
    best: pd.DataFrame
    energy_unit: str
    notes: tuple[str, ...]
    agreement: F.RankAgreement | None = None
    energy_models: tuple[str, ...] = ()
    baselines: Mapping[str, str | None] = field(default_factory=dict)

    def name(self, i: int) -> str:
        """Row ``i``'s name (its label), followed by :data:`MOVED_MARK` where its rank moves."""
        label = str(self.rows.at[i, "label"])
        moved = {row for row, _, _ in self.agreement.moved} if self.agreement else set()
        return label + MOVED_MARK if label in moved else label

    def text(self, i: int, key: str) -> str:
        """Row ``i``'s cell of ``key`` as ``"mean ± std"`` (or the mean alone)."""
        std = self.stds.at[i, key]
        return self.means.at[i, key] + (f" ± {std}" if std else "")


def _format_column(spec: K.MetricSpec, rows: pd.DataFrame, scale: float) -> tuple[
        list[str], list[str], list[bool]]:
    """Mean and std strings of one column and which rows hold its best value.

    Best is judged among ok rows on the mean, in the direction of ``spec.higher_is_better``; every
    row whose displayed mean equals the best's is best. Columns without a direction, with
    ``bold_best`` off, or with fewer than two ok rows reporting them have no best.
    """
    means, stds, shown = [], [], []
    for _, row in rows.iterrows():
        mean = F.value(row, spec.key)
        if row["status"] != "ok":
            means.append("")
            stds.append("")
            shown.append(None)
        elif mean is None or not spec.applies_to(row["family"]):
            means.append(NOT_APPLICABLE)
            stds.append("")
            shown.append(None)
        else:
            text = spec.format(mean / scale)
            std = F.value(row, spec.key, "std")
            means.append(text)
            stds.append(_like(text, std / scale) if spec.show_std and std else "")
            shown.append((mean, text))
    present = [s for s in shown if s is not None]
    best = [False] * len(shown)
    if spec.bold_best and spec.higher_is_better is not None and len(present) >= 2:
        pick = max if spec.higher_is_better else min
        best_text = pick(present, key=lambda s: s[0])[1]
        best = [s is not None and s[1] == best_text for s in shown]
    return means, stds, best


def is_energy_key(key: str) -> bool:
    """Whether ``key`` is an energy-per-sample column (the record's, or a table-time model's)."""
    return key == K.ENERGY_NJ or key.startswith(K.ENERGY_NJ + "[")


def build_table(rows: pd.DataFrame, cells: pd.DataFrame,
                notes: DatasetNotes | None = None, *, energy_models: Sequence[str] = (),
                baselines: Mapping[tuple[str, str], str | None] | None = None) -> Table:
    """Format one data set's summary ``rows`` (their failures are looked up in ``cells``).

    ``energy_models``: the table-time energy models whose columns ``rows`` carry
    (:func:`benchmarks.frame.cells`); ``baselines``: :func:`benchmarks.frame.energy_baselines`.
    """
    datasets = sorted(set(rows["dataset"]))
    if len(datasets) > 1:
        raise ValueError(f"build_table takes one data set's rows, got data sets {datasets}")
    rows = rows.reset_index(drop=True)
    ok = rows[rows["status"] == "ok"]
    # a column for some families only (reconstruction, denoiser calls) shows where one of them is
    families = set(rows["family"]) if "family" in rows else set()
    columns = tuple(spec for spec in K.table_columns(tuple(energy_models))
                    if spec.families is None or spec.families & families)
    scales = {spec.key: energy_unit(F.value(r, spec.key) for _, r in ok.iterrows())
              for spec in columns if is_energy_key(spec.key)}
    means, stds, best = {}, {}, {}
    for spec in columns:
        means[spec.key], stds[spec.key], best[spec.key] = _format_column(
            spec, rows, scales[spec.key][1] if spec.key in scales else 1.0)
    units = {spec.key: scales[spec.key][0] if spec.key in scales else spec.unit
             for spec in columns}
    dataset = datasets[0] if datasets else ""
    table = Table(dataset=dataset, rows=rows, columns=columns,
                  units=units, means=pd.DataFrame(means), stds=pd.DataFrame(stds),
                  best=pd.DataFrame(best),
                  energy_unit=next(iter(scales.values()), ("nJ", 1.0))[0], notes=(),
                  agreement=fid_agreement(rows), energy_models=tuple(energy_models),
                  baselines={label: (baselines or {}).get((dataset, label))
                             for label in rows["label"]})
    return replace(table, notes=tuple(_notes_sentences(table, cells, notes)))


def fid_agreement(rows: pd.DataFrame) -> F.RankAgreement | None:
    """How alike one data set's rankings of its ok rows by the two :data:`AGREEMENT_KEYS` are.

    Args:
        rows: one data set's rows of :func:`benchmarks.frame.summarize`.

    Returns:
        :func:`benchmarks.frame.rank_agreement` of the rows' means (rows moving by more than
        :data:`RANK_SHIFT` places), or ``None`` where a key is in no record or fewer than three
        ok rows have both.
    """
    columns = [f"{key}_mean" for key in AGREEMENT_KEYS]
    if not set(columns) <= set(rows.columns):
        return None
    ok = rows[rows["status"] == "ok"]
    x, y = (pd.Series(ok[c].to_numpy(dtype=float), index=ok["label"].tolist()) for c in columns)
    return F.rank_agreement(x, y, places=RANK_SHIFT)


def _agreement_sentences(agreement: F.RankAgreement | None) -> list[str]:
    """The caption's rank-agreement line and, where rows moved, what their mark means."""
    if agreement is None:
        return []

    def coefficient(value: float) -> str:
        return "n/a (one side all tied)" if math.isnan(value) else f"{value:.2f}"

    x, y = (K.spec(key).label for key in AGREEMENT_KEYS)
    out = [f"Rank agreement of {x} between the feature spaces ({x} vs {y}, {agreement.n} rows): "
           f"Spearman ρ = {coefficient(agreement.spearman)}, "
           f"Kendall τ = {coefficient(agreement.kendall)}."]
    if agreement.moved:
        moves = "; ".join(f"{row} {rx:g} vs {ry:g}" for row, rx, ry in agreement.moved)
        out.append(f"{MOVED_MARK} {x} rank and {y} rank (1 = lowest) more than "
                   f"{agreement.places} places apart: {moves}.")
    return out


def _energy_sentences(table: Table) -> list[str]:
    """What the table-time energy columns hold: each model, the matched ANN rows, and why a
    value may be missing."""
    models = "; ".join(f"{name}: {get_energy_model(name).describe()}"
                       for name in table.energy_models)
    out = [f"Energy per sample computed from the records' operation counts under each model "
           f"({models})."]
    pairs = [f"{label} vs {base}" for label, base in table.baselines.items()
             if base is not None and base != label]
    none = [label for label, base in table.baselines.items() if base is None]
    text = ("Energy ratios divide by the mean energy of the matched ANN row (same family, and "
            "latent kind where the suite has one)")
    text += (": " + ", ".join(pairs) if pairs else "") + "; an ANN row matched to itself is 1."
    if none:
        text += f" No ANN row to compare with: {', '.join(none)}."
    out.append(text)
    out.append(f"{NOT_APPLICABLE} in an energy column: the records lack the counts that model "
               f"needs (made before they were measured; `python -m benchmarks run --suite "
               f"SUITE --reevaluate` re-measures them from the saved models).")
    return out


def _failure_text(row: Mapping[str, Any]) -> str:
    """``"<status>: <first non-ok seed's reason>"`` of a row with no ok seed."""
    return f"{row['status']}: {row['error'].partition(': ')[2]}"


def _seeds_text(row: Mapping[str, Any]) -> str:
    total, n_ok = int(row["n_records"]), int(row["n_ok"])
    return str(n_ok) if n_ok == total else f"{n_ok}/{total}"


def _fmt_set(values: Sequence[Any], fmt: Callable[[Any], str] = str) -> str:
    return " / ".join(fmt(v) for v in values) if values else "not recorded"


def _anchor(stat: tuple[float | None, float | None]) -> str:
    mean, std = stat
    if mean is None:
        return "not recorded"
    return f"{mean:.2f}" + (f" ± {std:.2f}" if std else "")


def _notes_sentences(table: Table, cells: pd.DataFrame, n: DatasetNotes | None) -> list[str]:
    """The caption/notes of a table, as plain (unescaped) sentences."""
    out = []
    if n is not None:
        acc = _fmt_set(n.feature_net_accuracies, lambda a: f"{100 * float(a):.2f}%")
        out.append(f"Features: {_fmt_set(n.feature_extractors)} (test accuracy {acc}); "
                   f"{_fmt_set(n.n_samples)} generated samples vs the test split.")
        out.append(f"Scale anchors: FID data floor (train vs test) {_anchor(n.fid_data_floor)}, "
                   f"noise ceiling (Bernoulli noise vs test) {_anchor(n.fid_noise_ceiling)}.")
        if table.energy_models:
            out += _energy_sentences(table)
        else:
            desc = f" ({_fmt_set(n.energy_model_descs)})" if n.energy_model_descs else ""
            out.append(f"Energy model {_fmt_set(n.energy_models)}{desc}; energy per sample in "
                       f"{table.energy_unit}; energy ratio relative to the ANN baseline of the "
                       f"same family.")
    out.append("Mean ± sample std over seeds (no ± where every seed gave the same value); "
               "n = ok seeds (of all recorded); failed seeds are not in the means. ↓ lower is "
               "better, ↑ higher is better; best in bold (not for the operation counts, whose "
               f"kinds differ in cost); {NOT_APPLICABLE} not applicable; k, M, G: thousands, "
               "millions, billions.")
    out += _agreement_sentences(table.agreement)
    partial = [f"{row['label']}: seed {f.seed} {f.status} ({f.reason})"
               for _, row in table.rows.iterrows() if row["status"] == "ok"
               for f in F.failures(cells, row["dataset"], row["label"]).itertuples()]
    if partial:
        out.append("Seeds left out: " + "; ".join(partial) + ".")
    return out


def build_tables(records: Sequence[Mapping[str, Any]],
                 energy_models: Sequence[str] = TABLE_ENERGY_MODELS) -> list[Table]:
    """One :class:`Table` per data set, in ``DATASET_ORDER`` (their rows, stacked, are the
    whole :func:`benchmarks.frame.summarize` frame).

    Args:
        records: checked records of one suite.
        energy_models: energy models whose energy and ratio columns are computed from the
            records' ``op_counts``; empty: the records' own energy metrics.

    Raises:
        ValueError: an unknown energy model name (listing the known ones).
    """
    energy_models = tuple(energy_models)
    for name in energy_models:
        get_energy_model(name)  # an unknown name fails here, before any work
    cells = F.cells(records, energy_models)
    summary = F.summarize(cells)
    notes = dataset_notes(cells)
    baselines = F.energy_baselines(records) if energy_models else {}
    return [build_table(rows, cells, notes.get(str(ds)), energy_models=energy_models,
                        baselines=baselines)
            for ds, rows in summary.groupby("dataset", sort=False)]


def _arrow(direction: bool | None) -> str:
    return {True: " ↑", False: " ↓", None: ""}[direction]


# --------------------------------------------------------------------------------------------
# Markdown


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def render_markdown(tables: Sequence[Table], title: str) -> str:
    """Markdown: a heading and a table per data set, then its notes."""
    lines = [f"# {title}", ""]
    for table in tables:
        lines += [f"## {table.dataset}", ""]
        head = ["Method", "Backend", "Family", "n"]
        for spec in table.columns:
            unit = table.units[spec.key]
            head.append(f"{spec.label}{f' ({unit})' if unit else ''}{_arrow(spec.higher_is_better)}")
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join([":--"] * 3 + ["--:"] * (len(head) - 3)) + "|")
        for i, row in table.rows.iterrows():
            front = [_md_escape(table.name(i)), _md_escape(row["backend"]),
                     _md_escape(row["family"]), _seeds_text(row)]
            if row["status"] != "ok":
                status, _, reason = _failure_text(row).partition(": ")
                body = [f"**{status}**: {_md_escape(reason)}"]
                body += [""] * (len(table.columns) - 1)
            else:
                body = [f"**{table.text(i, s.key)}**" if table.best.at[i, s.key]
                        else table.text(i, s.key) for s in table.columns]
            lines.append("| " + " | ".join(front + body) + " |")
        lines += ["", "*Notes.* " + " ".join(_md_escape(s) for s in table.notes), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# LaTeX

_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "[": "{[}", "]": "{]}", "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    "µ": r"$\mu$", "×": r"$\times$", "±": r"$\pm$", "↓": r"$\downarrow$", "↑": r"$\uparrow$",
    "—": "---", "–": "--", "…": r"\dots{}", "·": r"$\cdot$", "†": r"$^\dagger$",
    "ρ": r"$\rho$", "τ": r"$\tau$", "≥": r"$\geq$", "≤": r"$\leq$",
}


def tex_escape(text: str) -> str:
    """Escape ``text`` for LaTeX text mode; the result is plain ASCII.

    Characters with no LaTeX spelling here lose their accents (``é`` -> ``e``) or become ``?``.
    """
    out = []
    for ch in text:
        if ch in _TEX_SPECIALS:
            out.append(_TEX_SPECIALS[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def _energy_model_of(key: str) -> str | None:
    """The table-time energy model of an energy or ratio column key, else ``None``."""
    for base in (K.ENERGY_NJ, K.ENERGY_RATIO):
        if key.startswith(base + "[") and key.endswith("]"):
            return key[len(base) + 1:-1]
    return None


def _overhang(text: str) -> str:
    """``text`` left-aligned in its cell and running on over the empty cells to its right: a
    title or failure row keeps the table's column count (``Styler`` writes every cell)."""
    return rf"\multicolumn{{1}}{{l}}{{\rlap{{\emph{{{tex_escape(text)}}}}}}}"


def _tex_cell(table: Table, i: int, key: str) -> str:
    """Row ``i``'s cell of ``key``, escaped; a best mean in bold (its ``± std`` is not, which keeps
    the bold columns as narrow as the others). The ``± std`` is set a size smaller, with thin
    spaces: with both FIDs and the coverage columns a full-size ``mean ± std`` in every column
    made the table wider than a landscape page."""
    mean, std = table.means.at[i, key], table.stds.at[i, key]
    if _energy_model_of(key) is not None:
        std = ""  # several models side by side: the std is in the Markdown and CSV
    text = rf"\textbf{{{tex_escape(mean)}}}" if table.best.at[i, key] else tex_escape(mean)
    return text + (rf"\,{{\tiny$\pm$\,{tex_escape(std)}}}" if std else "")


def _head(label: str) -> tuple[str, str]:
    """A column name over two header rows, upper and lower: a name of several words is split
    after its first word (``"Energy vs ANN"`` over ``"Energy"``, ``"vs ANN"``), so a long name
    does not make its column wider than its numbers; a one-word name sits on the lower row."""
    first, _, rest = label.partition(" ")
    return (first, rest) if rest else ("", label)


def _latex_frame(table: Table) -> pd.DataFrame:
    """The cells of one LaTeX table, escaped.

    Columns are ``(name, name, unit and direction)`` triples, rendered as three header rows: a
    name of several words is split after its first (:func:`_head`). Each backend's rows come
    under a title row; a ``\\midrule`` opens every group but the first (the header's rule opens
    that one).
    """
    columns = [("", "Method", ""), ("", "$n$", "")]
    for spec in table.columns:
        unit = table.units[spec.key]
        top, name = _head(spec.label.removesuffix("/sample"))  # "per sample": caption
        model = _energy_model_of(spec.key)
        if model is not None:  # the model's short name over "Energy" / "vs ANN" (caption: all)
            top, name = short_name(model), ("Energy" if is_energy_key(spec.key) else "vs ANN")
        columns.append((tex_escape(top), tex_escape(name),
                        " ".join(x for x in (f"({tex_escape(unit)})" if unit else "",
                                             tex_escape(_arrow(spec.higher_is_better).strip()))
                                 if x)))
    blank = [""] * len(table.columns)
    body = []
    previous = None
    for i, row in table.rows.iterrows():
        if row["backend"] != previous:
            rule = r"\midrule " if previous is not None else ""
            body.append([rule + _overhang(BACKEND_TITLES.get(row["backend"], row["backend"])),
                         "", *blank])
        previous = row["backend"]
        if row["status"] != "ok":
            cells = [_overhang(_failure_text(row)), *blank[1:]]
        else:
            cells = [_tex_cell(table, i, s.key) for s in table.columns]
        body.append([tex_escape(table.name(i)), tex_escape(_seeds_text(row)), *cells])
    return pd.DataFrame(body, columns=pd.MultiIndex.from_tuples(columns))


def render_latex(tables: Sequence[Table], title: str) -> str:
    """LaTeX: one booktabs ``table`` per data set, written by ``Styler.to_latex``; needs only
    ``\\usepackage{booktabs}``.

    Laid out to fit a landscape page in ``\\scriptsize``: rows are grouped under a title row
    per backend (instead of backend and family columns), a column's name takes up to two header
    rows and its unit and direction a third, a ``± std`` is set a size smaller than its mean,
    and the best value of a column is bold.
    """
    out = [f"% {tex_escape(title)}\n"
           "% Generated by benchmarks.tables from the records; needs \\usepackage{booktabs}.\n"]
    for table in tables:
        cells = _latex_frame(table)
        caption = f"{table.dataset}: " + " ".join(table.notes) + \
            " Spikes, SynOps, MACs and energy are per generated sample."
        if table.energy_models:
            caption += " Energy columns: " + ", ".join(
                f"{short_name(m)} = {m}" for m in table.energy_models) + \
                " (± std in the Markdown and CSV tables)."
        styler = cells.style.hide(axis="index")
        styler.set_table_styles([{"selector": "scriptsize", "props": ":;"},
                                 {"selector": "setlength", "props": r":{\tabcolsep}{2pt};"}])
        out.append(styler.to_latex(
            column_format="l" + "r" * (cells.shape[1] - 1), position="htbp",
            position_float="centering", hrules=True, environment="table", sparse_columns=False,
            caption=tex_escape(caption),
            label=f"tab:{re.sub(r'[^A-Za-z0-9]+', '-', table.dataset)}"))
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# CSV


def render_csv(summary: pd.DataFrame) -> str:
    """CSV of a :func:`benchmarks.frame.summarize` frame: one line per row; per metric
    ``<key>_mean``, ``<key>_std``, ``<key>_n``; seeds space-separated.

    Numbers are written in full (they round-trip exactly); absent values are empty.
    """
    out = summary.assign(seeds=summary["seeds"].map(lambda s: " ".join(str(x) for x in s)))
    return out.to_csv(index=False, lineterminator="\n")


# --------------------------------------------------------------------------------------------
# Writing


def write_tables(records: Sequence[Mapping[str, Any]], out_dir: str | Path,
                 energy_models: Sequence[str] = TABLE_ENERGY_MODELS) -> list[Path]:
    """Write ``summary.md``, ``summary.tex`` and ``summary.csv`` into ``out_dir``.

    Args:
        records: checked records (see :func:`load_records`), of one suite.
        out_dir: the suite's ``tables`` folder (created if missing).
        energy_models: the energy models of the energy columns (see :func:`build_tables`).

    Returns:
        The three paths written.

    Raises:
        ValueError: ``records`` is empty, or :func:`benchmarks.frame.cells` rejects them.
    """
    if not records:
        raise ValueError("write_tables needs at least one record, got none")
    out = Path(out_dir)
    tables = build_tables(records, energy_models)
    summary = pd.concat([t.rows for t in tables], ignore_index=True)
    suites = sorted({str(r["suite"]) for r in records})
    title = f"SpikeGenBench results: suite {', '.join(suites)}"
    written = []
    for name, text in (("summary.md", render_markdown(tables, title)),
                       ("summary.tex", render_latex(tables, title)),
                       ("summary.csv", render_csv(summary))):
        path = out / name
        atomic_write_text(path, text)
        written.append(path)
    log.info("tables of %d records (%d rows) in %s", len(records), len(summary), out)
    return written
