"""Tables as a pure function of the records: Markdown, LaTeX (booktabs) and CSV.

Nothing here trains, samples or imports an adapter: the input is the list of cell records
(``benchmarks.records``), the output three files per suite. Better directions, labels and units come
from ``benchmarks.metrics.keys``; nothing here decides on its own that a metric is "lower is
better".

Rows are keyed by ``(dataset, adapter.label)``. Over the seeds of a row, each metric is reported as
the mean and the sample standard deviation (``ddof=1``) of the records with status ``"ok"``, with
their count ``n``. A failed or skipped record never enters a mean; a row whose every record failed
shows as ``failed: <reason>`` (never as a number).

Output is deterministic: the same records give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import records as rec
from benchmarks.metrics import keys as K

log = logging.getLogger(__name__)

#: Rows are grouped in this backend order; unknown backends follow, alphabetically.
BACKEND_ORDER: tuple[str, ...] = ("ann", "surrogate", "conversion", "stdp")
#: Data sets in this order; unknown ones follow, alphabetically.
DATASET_ORDER: tuple[str, ...] = ("mnist", "fashion-mnist")

#: How the LaTeX tables title each backend's group of rows (unknown backends: their name).
BACKEND_TITLES: dict[str, str] = {
    "ann": "ANN baselines (non-spiking)",
    "surrogate": "Surrogate-gradient SNNs (snntorch)",
    "conversion": "ANN-to-SNN conversion (SNN Toolbox)",
    "stdp": "STDP (spyker)",
}

_NOT_APPLICABLE = "—"
_REASON_CHARS = 70


# --------------------------------------------------------------------------------------------
# Reading records


def load_records(records_dir: str | Path) -> list[dict[str, Any]]:
    """Read and check every ``*.json`` record in ``records_dir``, in file-name order.

    Each file is checked by :func:`benchmarks.records.read_record` (JSON object, ``schema_version``
    1, required keys, status) and then for the fields tables need (``adapter.label``,
    ``adapter.backend``, ``dataset.name``, an integer ``seed``, a ``metrics`` mapping).

    Args:
        records_dir: a suite's ``records`` folder.

    Returns:
        The records, as parsed JSON objects.

    Raises:
        FileNotFoundError: ``records_dir`` is not a directory.
        ValueError: a record is invalid; the message names the file and the bad value.
    """
    folder = Path(records_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"records folder {folder} does not exist")
    records = []
    for path in sorted(folder.glob("*.json")):
        data = rec.read_record(path)
        _check_fields(data, path)
        records.append(data)
    if not records:
        log.warning("no records (*.json) in %s", folder)
    return records


def _check_fields(data: Mapping[str, Any], path: Path) -> None:
    for section, names in (("adapter", ("label", "name", "backend")), ("dataset", ("name",))):
        value = data[section]
        if not isinstance(value, Mapping):
            raise ValueError(f"record {path}: {section!r} must be an object, got {value!r}")
        for name in names:
            if not isinstance(value.get(name), str) or not value.get(name):
                raise ValueError(f"record {path}: {section}.{name} must be a non-empty string, "
                                 f"got {value.get(name)!r}")
    seed = data["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"record {path}: seed must be an integer, got {seed!r}")
    metrics = data["metrics"]
    if data["status"] == "ok" and not isinstance(metrics, Mapping):
        raise ValueError(f"record {path}: metrics must be an object for status 'ok', "
                         f"got {metrics!r}")
    if isinstance(metrics, Mapping):
        for key, value in metrics.items():
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, int | float)):
                raise ValueError(f"record {path}: metrics[{key!r}] must be a number or null, "
                                 f"got {value!r}")


# --------------------------------------------------------------------------------------------
# Aggregation


@dataclass(frozen=True)
class Stat:
    """One metric of one row over its ok seeds.

    Attributes:
        mean: mean over the seeds that report the metric; ``None`` when none does (not applicable).
        std: sample standard deviation (``ddof=1``); ``None`` when fewer than two values.
        n: how many seeds report the metric.
    """

    mean: float | None
    std: float | None
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        """Mean and sample std of ``values`` (finite floats)."""
        n = len(values)
        if n == 0:
            return cls(None, None, 0)
        mean = math.fsum(values) / n
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
        return cls(mean, std, n)


@dataclass(frozen=True)
class Failure:
    """A record of a row that is not ok: its seed, status and a one-line reason."""

    seed: int
    status: str
    reason: str


@dataclass(frozen=True)
class Row:
    """One (data set, adapter label) over its seeds.

    Attributes:
        dataset: data set name.
        label: the suite entry's label (several labels may share one adapter, e.g. a T sweep).
        adapter: the registry name of the adapter.
        backend: ``"ann" | "surrogate" | "conversion" | "stdp"`` (or another string).
        family: ``"vae" | "gan" | "autoencoder"`` or ``""`` when unknown.
        status: ``"ok"`` when at least one seed is ok; else ``"failed"`` (any failed) or
            ``"skipped"``.
        seeds: every seed recorded, sorted.
        n_ok: seeds with status ok (the ones in the means).
        metrics: metric key -> :class:`Stat` over the ok seeds.
        failures: the seeds that are not ok, with their reasons.
    """

    dataset: str
    label: str
    adapter: str
    backend: str
    family: str
    status: str
    seeds: tuple[int, ...]
    n_ok: int
    metrics: Mapping[str, Stat] = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()

    @property
    def error(self) -> str | None:
        """The first non-ok seed's ``"<status>: <reason>"``, or ``None`` when all are ok."""
        if not self.failures:
            return None
        first = self.failures[0]
        return f"{first.status}: {first.reason}"

    def stat(self, key: str) -> Stat:
        """The :class:`Stat` of ``key`` (an empty one when no seed reports it)."""
        return self.metrics.get(key, Stat(None, None, 0))


def _order(value: str, preferred: Sequence[str]) -> tuple[int, str]:
    return (preferred.index(value), "") if value in preferred else (len(preferred), value)


def _natural(text: str) -> tuple[Any, ...]:
    """Sort key that puts ``T4`` before ``T16``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in re.split(r"(\d+)", text))


def short_reason(error: Any, limit: int = _REASON_CHARS) -> str:
    """``"<type>: <first line of message>"`` of a record's error, cut to ``limit`` characters."""
    if not isinstance(error, Mapping):
        return "no error recorded" if error is None else str(error)[:limit]
    kind = str(error.get("type") or "").strip()
    lines = str(error.get("message") or "").strip().splitlines()
    message = lines[0].strip() if lines else ""
    text = f"{kind}: {message}" if kind and message else (kind or message or "no message")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def metric_keys(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Metric keys present in ``records``: those of ``keys.METRICS`` in its order, then others."""
    seen: set[str] = set()
    for r in records:
        if isinstance(r.get("metrics"), Mapping):
            seen.update(r["metrics"])
    known = [k for k in K.METRICS if k in seen]
    return known + sorted(seen - set(K.METRICS))


def aggregate(records: Sequence[Mapping[str, Any]]) -> list[Row]:
    """Group records by (data set, label) and reduce each group over its seeds.

    Args:
        records: checked records (see :func:`load_records`).

    Returns:
        Rows sorted by data set (``DATASET_ORDER`` first), then backend (``BACKEND_ORDER``), then
        label (natural order). Groups whose every record failed or was skipped are included.

    Raises:
        ValueError: two records for the same (data set, label, seed), or records of one label
            that disagree on adapter name or backend.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["dataset"]["name"], r["adapter"]["label"]), []).append(r)
    keys = metric_keys(records)
    rows = []
    for (dataset, label), members in groups.items():
        members = sorted(members, key=lambda r: r["seed"])
        seeds = [r["seed"] for r in members]
        dup = sorted({s for s in seeds if seeds.count(s) > 1})
        if dup:
            raise ValueError(f"{label} on {dataset} has more than one record for seed(s) {dup}; "
                             f"remove the stale one(s)")
        idents = {(r["adapter"]["name"], r["adapter"]["backend"]) for r in members}
        if len(idents) > 1:
            raise ValueError(f"label {label!r} on {dataset} names different adapters/backends "
                             f"{sorted(idents)}; a label must stand for one adapter")
        ok = [r for r in members if r["status"] == "ok"]
        stats = {}
        for key in keys:
            values = [float(r["metrics"][key]) for r in ok if r["metrics"].get(key) is not None]
            values = [v for v in values if math.isfinite(v)]
            stats[key] = Stat.of(values)
        failures = tuple(Failure(r["seed"], r["status"], short_reason(r.get("error")))
                         for r in members if r["status"] != "ok")
        if ok:
            status = "ok"
        else:
            status = "failed" if any(f.status == "failed" for f in failures) else "skipped"
        head = members[0]["adapter"]
        rows.append(Row(dataset=dataset, label=label, adapter=head["name"],
                        backend=head["backend"], family=str(head.get("family") or ""),
                        status=status, seeds=tuple(seeds), n_ok=len(ok), metrics=stats,
                        failures=failures))
    rows.sort(key=lambda row: (_order(row.dataset, DATASET_ORDER),
                               _order(row.backend, BACKEND_ORDER), _natural(row.label)))
    return rows


@dataclass(frozen=True)
class DatasetNotes:
    """What a data set's table must state: how its numbers were measured and its scale anchors.

    Every field lists the distinct values found in the ok records (normally one each).
    """

    dataset: str
    suites: tuple[str, ...]
    feature_extractors: tuple[str, ...]
    feature_net_accuracies: tuple[float, ...]
    n_samples: tuple[int, ...]
    energy_models: tuple[str, ...]
    energy_model_descs: tuple[str, ...]
    fid_data_floor: Stat
    fid_noise_ceiling: Stat


def dataset_notes(records: Sequence[Mapping[str, Any]]) -> dict[str, DatasetNotes]:
    """Per data set: feature extractor, sample count, energy model and FID anchors of its records.

    Mixed values (e.g. two energy models in one table) are listed, and logged as a warning.
    """
    by_ds: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        by_ds.setdefault(r["dataset"]["name"], []).append(r)
    out = {}
    for ds, members in by_ds.items():
        ok = [r for r in members if r["status"] == "ok"]

        def distinct(name: str, rows: list[Mapping[str, Any]] = ok) -> tuple[Any, ...]:
            values = {(r.get("metric_config") or {}).get(name) for r in rows}
            values.discard(None)
            return tuple(sorted(values, key=str))

        notes = DatasetNotes(
            dataset=ds,
            suites=tuple(sorted({str(r["suite"]) for r in members})),
            feature_extractors=distinct("feature_extractor"),
            feature_net_accuracies=distinct("feature_net_test_accuracy"),
            n_samples=distinct("n_samples"),
            energy_models=distinct("energy_model"),
            energy_model_descs=distinct("energy_model_desc"),
            fid_data_floor=Stat.of([float(r["metrics"][K.FID_DATA_FLOOR]) for r in ok
                                    if r["metrics"].get(K.FID_DATA_FLOOR) is not None]),
            fid_noise_ceiling=Stat.of([float(r["metrics"][K.FID_NOISE_CEILING]) for r in ok
                                       if r["metrics"].get(K.FID_NOISE_CEILING) is not None]),
        )
        for name in ("feature_extractors", "n_samples", "energy_models"):
            if len(getattr(notes, name)) > 1:
                log.warning("%s: records mix %s %s; the table lists them all", ds, name,
                            getattr(notes, name))
        out[ds] = notes
    return out


# --------------------------------------------------------------------------------------------
# Formatting


def _fixed(decimals: int) -> Callable[[float], str]:
    return lambda x: f"{x:.{decimals}f}"


def _sig(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits in fixed notation (no exponent)."""
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def _si(x: float) -> str:
    """A count with an SI suffix: 950, 12.3k, 4.56M, 1.20G."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return _sig(x / scale) + suffix
    return _sig(x)


_SI_SCALE = {"k": 1e3, "M": 1e6, "G": 1e9}


def _like(text: str, x: float) -> str:
    """``x`` in the suffix and decimals of an already formatted ``text`` (a std beside its mean:
    ``_like("2.01k", 14.8) == "0.01k"``)."""
    suffix = text[-1] if text and text[-1] in _SI_SCALE else ""
    number = text[: len(text) - len(suffix)]
    decimals = len(number.split(".")[1]) if "." in number else 0
    return f"{x / _SI_SCALE.get(suffix, 1.0):.{decimals}f}{suffix}"


@dataclass(frozen=True)
class Column:
    """A metric column of the summary tables.

    Attributes:
        key: metric key in ``benchmarks.metrics.keys``.
        fmt: formats one value (already scaled to the column's unit).
        show_std: whether ``± std`` is shown (not for context columns such as T).
        bold_best: whether the best value is marked. Off for the per-operation-type counts
            (spikes, synaptic ops, MACs): an ANN's zero spikes or an SNN's zero MACs is not "best"
            at anything; energy is the column that weighs the operation types against each other.
    """

    key: str
    fmt: Callable[[float], str]
    show_std: bool = True
    bold_best: bool = True


#: The columns of summary.md / summary.tex, in order (CSV holds every metric).
TABLE_COLUMNS: tuple[Column, ...] = (
    Column(K.FID, _fixed(2)),
    Column(K.KID, _fixed(4)),
    Column(K.PRECISION, _fixed(3)),
    Column(K.RECALL, _fixed(3)),
    Column(K.RECON_MSE, _fixed(4)),
    Column(K.SPIKES, _si, bold_best=False),
    Column(K.SYNAPTIC_OPS, _si, bold_best=False),
    Column(K.MACS, _si, bold_best=False),
    Column(K.ENERGY_NJ, _sig),
    Column(K.ENERGY_RATIO, _sig),
    Column(K.TIMESTEPS, _fixed(0), show_std=False),
    Column(K.TRAIN_SECONDS, _fixed(0)),
    Column(K.CLASSES_COVERED, _fixed(1)),
)

#: Energy units, nJ-based: the table picks the largest unit in which its biggest value is >= 1.
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
class Cell:
    """A formatted table cell: mean and std strings (empty when absent) and whether it is best."""

    mean: str
    std: str = ""
    bold: bool = False
    not_applicable: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One data set's table, formatted but not yet rendered."""

    dataset: str
    headers: tuple[tuple[str, str, bool | None], ...]  # (label, unit, higher_is_better)
    rows: tuple[Row, ...]
    cells: tuple[tuple[Cell, ...], ...]  # per row, per TABLE_COLUMNS entry
    energy_unit: str
    notes: DatasetNotes | None


def _header(column: Column, unit_override: str | None = None) -> tuple[str, str, bool | None]:
    spec = K.spec(column.key)
    return spec.label, unit_override if unit_override is not None else spec.unit, \
        spec.higher_is_better


def build_table(rows: Sequence[Row], notes: DatasetNotes | None = None) -> TableSpec:
    """Format one data set's rows; mark the best mean per directed column (ties all bold).

    Best is judged among ok rows on the displayed value, in the direction of
    ``keys.METRICS[key].higher_is_better``; columns without a direction, with ``bold_best`` off,
    or with fewer than two ok rows reporting them, get no bold.
    """
    if len({r.dataset for r in rows}) > 1:
        raise ValueError(f"build_table takes one data set's rows, got data sets "
                         f"{sorted({r.dataset for r in rows})}")
    unit, scale = energy_unit(r.stat(K.ENERGY_NJ).mean for r in rows if r.status == "ok")
    headers = []
    columns_cells: list[list[Cell]] = []
    for column in TABLE_COLUMNS:
        div = scale if column.key == K.ENERGY_NJ else 1.0
        headers.append(_header(column, unit if column.key == K.ENERGY_NJ else None))
        direction = K.spec(column.key).higher_is_better
        shown: list[Cell] = []
        means: list[tuple[float, str] | None] = []
        for row in rows:
            st = row.stat(column.key)
            if row.status != "ok":
                shown.append(Cell(""))
                means.append(None)
            elif st.mean is None:
                shown.append(Cell(_NOT_APPLICABLE, not_applicable=True))
                means.append(None)
            else:
                text = column.fmt(st.mean / div)
                std = _like(text, st.std / div) if column.show_std and st.std else ""
                shown.append(Cell(text, std))
                means.append((st.mean, text))
        present = [m for m in means if m is not None]
        if column.bold_best and direction is not None and len(present) >= 2:
            pick = max if direction else min
            best_text = pick(present, key=lambda m: m[0])[1]
            shown = [Cell(c.mean, c.std, bold=True) if m is not None and m[1] == best_text else c
                     for c, m in zip(shown, means, strict=True)]
        columns_cells.append(shown)
    cells = tuple(tuple(col[i] for col in columns_cells) for i in range(len(rows)))
    return TableSpec(dataset=rows[0].dataset if rows else "", headers=tuple(headers),
                     rows=tuple(rows), cells=cells, energy_unit=unit, notes=notes)


def _seeds_text(row: Row) -> str:
    total = len(row.seeds)
    return str(row.n_ok) if row.n_ok == total else f"{row.n_ok}/{total}"


def _fmt_set(values: Sequence[Any], fmt: Callable[[Any], str] = str) -> str:
    return " / ".join(fmt(v) for v in values) if values else "not recorded"


def _notes_sentences(spec: TableSpec) -> list[str]:
    """The caption/notes of a table, as plain (unescaped) sentences."""
    n = spec.notes
    out = []
    if n is not None:
        acc = _fmt_set(n.feature_net_accuracies, lambda a: f"{100 * float(a):.2f}%")
        out.append(f"Features: {_fmt_set(n.feature_extractors)} (test accuracy {acc}); "
                   f"{_fmt_set(n.n_samples)} generated samples vs the test split.")
        out.append(f"Scale anchors: FID data floor (train vs test) {_anchor(n.fid_data_floor)}, "
                   f"noise ceiling (Bernoulli noise vs test) {_anchor(n.fid_noise_ceiling)}.")
        desc = f" ({_fmt_set(n.energy_model_descs)})" if n.energy_model_descs else ""
        out.append(f"Energy model {_fmt_set(n.energy_models)}{desc}; energy per sample in "
                   f"{spec.energy_unit}; energy ratio relative to the ANN baseline of the same "
                   f"family.")
    out.append("Mean ± sample std over seeds (no ± where every seed gave the same value); n = ok seeds (of all recorded); failed seeds are "
               "not in the means. ↓ lower is better, ↑ higher is better; best in bold (not for the "
               f"operation counts, whose kinds differ in cost); {_NOT_APPLICABLE} not applicable; "
               "k, M, G: thousands, millions, billions.")
    partial = [f"{r.label}: seed {f.seed} {f.status} ({f.reason})"
               for r in spec.rows if r.status == "ok" for f in r.failures]
    if partial:
        out.append("Seeds left out: " + "; ".join(partial) + ".")
    return out


def _anchor(st: Stat) -> str:
    if st.mean is None:
        return "not recorded"
    text = f"{st.mean:.2f}"
    return text + (f" ± {st.std:.2f}" if st.std else "")


# --------------------------------------------------------------------------------------------
# Markdown


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def _arrow(direction: bool | None) -> str:
    return {True: " ↑", False: " ↓", None: ""}[direction]


def render_markdown(specs: Sequence[TableSpec], title: str) -> str:
    """Markdown: a heading and a table per data set, then its notes."""
    lines = [f"# {title}", ""]
    for spec in specs:
        lines += [f"## {spec.dataset}", ""]
        head = ["Method", "Backend", "Family", "n"]
        for label, unit, direction in spec.headers:
            head.append(f"{label}{f' ({unit})' if unit else ''}{_arrow(direction)}")
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join([":--"] * 3 + ["--:"] * (len(head) - 3)) + "|")
        for row, cells in zip(spec.rows, spec.cells, strict=True):
            front = [_md_escape(row.label), _md_escape(row.backend), _md_escape(row.family),
                     _seeds_text(row)]
            if row.status != "ok":
                body = [f"**{row.status}**: {_md_escape(row.failures[0].reason)}"]
                body += [""] * (len(cells) - 1)
            else:
                body = []
                for c in cells:
                    text = c.mean + (f" ± {c.std}" if c.std else "")
                    body.append(f"**{text}**" if c.bold else text)
            lines.append("| " + " | ".join(front + body) + " |")
        lines += ["", "*Notes.* " + " ".join(_md_escape(s) for s in _notes_sentences(spec)), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# LaTeX

_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "[": "{[}", "]": "{]}", "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    "µ": r"$\mu$", "×": r"$\times$", "±": r"$\pm$", "↓": r"$\downarrow$", "↑": r"$\uparrow$",
    "—": "---", "–": "--", "…": r"\dots{}", "·": r"$\cdot$",
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


def _tex_cell(c: Cell) -> str:
    if c.not_applicable:
        return "---"
    mean = rf"\textbf{{{tex_escape(c.mean)}}}" if c.bold else tex_escape(c.mean)
    return mean + (rf" $\pm$ {tex_escape(c.std)}" if c.std else "")


def render_latex(specs: Sequence[TableSpec], title: str) -> str:
    """LaTeX: one booktabs ``table`` per data set; needs only ``\\usepackage{booktabs}``.

    Laid out to fit a landscape page in ``\\scriptsize``: rows are grouped under a title row
    per backend (instead of backend and family columns), and each column's unit and direction
    sit in a second header row under its name.
    """
    lines = [f"% {tex_escape(title)}",
             "% Generated by benchmarks.tables from the records; needs \\usepackage{booktabs}.", ""]
    for spec in specs:
        ncols = 2 + len(spec.headers)
        names, units = ["Method", "$n$"], ["", ""]
        for label, unit, direction in spec.headers:
            names.append(tex_escape(label.removesuffix("/sample")))  # "per sample": caption
            units.append(" ".join(x for x in (f"({tex_escape(unit)})" if unit else "",
                                              tex_escape(_arrow(direction).strip())) if x))
        caption = f"{spec.dataset}: " + " ".join(_notes_sentences(spec)) + \
            " Spikes, SynOps, MACs and energy are per generated sample."
        lines += [
            r"\begin{table}[htbp]",
            r"\centering",
            r"\scriptsize",
            r"\setlength{\tabcolsep}{3pt}",
            rf"\caption{{{tex_escape(caption)}}}",
            rf"\label{{tab:{re.sub(r'[^A-Za-z0-9]+', '-', spec.dataset)}}}",
            r"\begin{tabular}{" + "l" + "r" * (ncols - 1) + "}",
            r"\toprule",
            " & ".join(names) + r" \\",
            " & ".join(units) + r" \\",
        ]
        previous = None
        for row, cells in zip(spec.rows, spec.cells, strict=True):
            if row.backend != previous:
                group = tex_escape(BACKEND_TITLES.get(row.backend, row.backend))
                lines += [r"\midrule", rf"\multicolumn{{{ncols}}}{{l}}{{\emph{{{group}}}}} \\"]
            previous = row.backend
            front = [tex_escape(row.label), tex_escape(_seeds_text(row))]
            if row.status != "ok":
                reason = tex_escape(f"{row.status}: {row.failures[0].reason}")
                body = [rf"\multicolumn{{{len(cells)}}}{{l}}{{\emph{{{reason}}}}}"]
            else:
                body = [_tex_cell(c) for c in cells]
            lines.append(" & ".join(front + body) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# CSV


CSV_ID_COLUMNS: tuple[str, ...] = ("dataset", "label", "adapter", "backend", "family", "status",
                                   "n_ok", "n_records", "seeds", "error")


def render_csv(rows: Sequence[Row], keys: Sequence[str]) -> str:
    """CSV: one line per row; per metric ``<key>_mean``, ``<key>_std``, ``<key>_n``.

    Numbers are written with ``repr`` (round-trips exactly); absent values are empty.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = list(CSV_ID_COLUMNS)
    for key in keys:
        header += [f"{key}_mean", f"{key}_std", f"{key}_n"]
    writer.writerow(header)
    for row in rows:
        line: list[str] = [row.dataset, row.label, row.adapter, row.backend, row.family,
                           row.status, str(row.n_ok), str(len(row.seeds)),
                           " ".join(str(s) for s in row.seeds), row.error or ""]
        for key in keys:
            st = row.stat(key)
            line += ["" if st.mean is None else repr(st.mean),
                     "" if st.std is None else repr(st.std), str(st.n)]
        writer.writerow(line)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Writing


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to a temp file beside ``path`` and ``os.replace`` it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are for reading
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_tables(records: Sequence[Mapping[str, Any]]) -> list[TableSpec]:
    """One :class:`TableSpec` per data set, in ``DATASET_ORDER``."""
    rows = aggregate(records)
    notes = dataset_notes(records)
    by_ds: dict[str, list[Row]] = {}
    for row in rows:
        by_ds.setdefault(row.dataset, []).append(row)
    return [build_table(ds_rows, notes.get(ds)) for ds, ds_rows in by_ds.items()]


def write_tables(records: Sequence[Mapping[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write ``summary.md``, ``summary.tex`` and ``summary.csv`` into ``out_dir``.

    Args:
        records: checked records (see :func:`load_records`), of one suite.
        out_dir: the suite's ``tables`` folder (created if missing).

    Returns:
        The three paths written.

    Raises:
        ValueError: ``records`` is empty, or :func:`aggregate` rejects them.
    """
    if not records:
        raise ValueError("write_tables needs at least one record, got none")
    out = Path(out_dir)
    specs = build_tables(records)
    suites = sorted({str(r["suite"]) for r in records})
    title = f"SpikeGenBench results: suite {', '.join(suites)}"
    rows = [row for spec in specs for row in spec.rows]
    written = []
    for name, text in (("summary.md", render_markdown(specs, title)),
                       ("summary.tex", render_latex(specs, title)),
                       ("summary.csv", render_csv(rows, metric_keys(records)))):
        path = out / name
        write_text_atomic(path, text)
        written.append(path)
    log.info("tables of %d records (%d rows) in %s", len(records), len(rows), out)
    return written
