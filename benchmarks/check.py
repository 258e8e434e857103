"""Metric regression check: a fresh run of a suite against committed baseline values.

The baseline (``results/<suite>/baseline.json``) holds, for every (entry label, data set) of the
suite and every checked metric, the mean over its seeds, the sample std (``ddof=1``), ``n``, the
per-seed values and a **tolerance derived from that spread**::

    tolerance = max(K_SIGMA · std, floor.rel · |mean|, floor.abs)

A fresh mean that is worse than the baseline mean by more than the tolerance, in the metric's bad
direction (read from :mod:`benchmarks.metrics.keys`), is a regression; so is a cell that failed,
was skipped or is missing, and a metric that is no longer reported. A better value beyond the
tolerance is a note, not a failure. A cell whose config hash differs from the baseline's is not
compared at all: its numbers answer a different question, and the baseline must be refreshed
deliberately (``python -m benchmarks check ... --update-baseline``).

Like the tables, everything here is a pure function of records: nothing trains or samples.

Baseline schema (``schema_version`` 1, JSON with sorted keys)::

    schema_version, kind "spikegenbench-baseline", suite, created, git, k_sigma,
    groups {"<label>__<dataset>" -> {
        label, dataset, adapter,
        cells {"<seed>" -> {cell_id, config_hash}},
        metrics {key -> {mean, std | null, n, values {"<seed>" | "<seed>#<k>" -> float},
                         tolerance, tolerance_from "k_sigma"|"rel_floor"|"abs_floor", rel_floor,
                         abs_floor, higher_is_better}}}},
    runs [{cells, cpu, git}]   (only in a baseline pooled over several runs, first run first)

A baseline may pool complete runs of the same code made on different kinds of CPU
(``--update-baseline --pool-results-dir DIR``): see :func:`build_baseline`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import frame as F
from benchmarks import records as rec
from benchmarks.frame import short_reason
from benchmarks.metrics import keys as K

BASELINE_SCHEMA_VERSION = 1
BASELINE_KIND = "spikegenbench-baseline"

#: Tolerance in standard deviations of the seed-to-seed spread. Three sigma: a metric whose
#: values are roughly normal over seeds leaves the band by chance about 3 times in 1000.
K_SIGMA = 3.0


#: Each checked metric's tolerance floor, declared with the metric in ``keys.METRICS`` (the
#: reasons for each floor are given there).
FLOORS: dict[str, K.Floor] = {key: m.floor for key, m in K.METRICS.items() if m.floor is not None}

#: Metrics with a better direction but no floor, which the check leaves alone: they measure the
#: machine and its load (CI runners differ), not the code.
UNCHECKED: tuple[str, ...] = tuple(key for key, m in K.METRICS.items()
                                   if m.higher_is_better is not None and m.floor is None)

#: Every metric the check compares (those with a floor), in ``keys.METRICS`` order.
CHECKED: tuple[str, ...] = K.checked()

_UPDATE_HINT = "refresh the baseline with --update-baseline"


def tolerance(key: str, mean: float, std: float | None) -> tuple[float, str]:
    """The tolerance of ``key`` around ``mean`` and which term set it.

    Args:
        key: a metric of :data:`CHECKED`.
        mean: baseline mean over seeds.
        std: sample std over seeds (``ddof=1``), ``None`` for a single seed.

    Returns:
        ``(tolerance, source)`` with source ``"k_sigma"``, ``"rel_floor"`` or ``"abs_floor"``.
    """
    floor = K.spec(key).floor
    if floor is None:
        raise ValueError(f"metric {key!r} is not checked; checked metrics: {list(K.checked())}")
    terms = {"k_sigma": K_SIGMA * std if std is not None else 0.0,
             "rel_floor": floor.rel * abs(mean), "abs_floor": floor.abs}
    source = max(terms, key=lambda name: terms[name])
    return terms[source], source


# --------------------------------------------------------------------------------------------
# Building, writing and reading a baseline


def _group_key(label: str, dataset: str) -> str:
    return f"{label}__{dataset}"


def _check_run(records: Sequence[Mapping[str, Any]], suite_name: str,
               expected_cells: Iterable[str] | None, which: str) -> None:
    """Refuse a run a baseline cannot be made from (``which`` names it in the messages)."""
    if not records:
        raise ValueError(f"no records of suite {suite_name!r} to make a baseline from ({which}); "
                         f"run: python -m benchmarks run --suite {suite_name}")
    other = sorted({str(r["suite"]) for r in records} - {suite_name})
    if other:
        raise ValueError(f"records of suite(s) {other} given for a baseline of {suite_name!r} "
                         f"({which})")
    bad = [f"{r['cell_id']} ({r['status']}: {short_reason(r.get('error'))})"
           for r in records if r["status"] != "ok"]
    if bad:
        raise ValueError(f"refusing to write a baseline from a run whose cells did not all "
                         f"succeed ({which}): {'; '.join(bad)}")
    if expected_cells is not None:
        missing = sorted(set(expected_cells) - {r["cell_id"] for r in records})
        if missing:
            raise ValueError(f"refusing to write a baseline: cell(s) {missing} of suite "
                             f"{suite_name!r} have no record ({which}); run the whole suite first")


def _run_summary(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    envs = [r.get("env") or {} for r in records]
    return {"cells": len(records),
            "cpu": sorted({str(e.get("cpu", "unknown")) for e in envs}),
            "git": sorted({str(e.get("git", "unknown")) for e in envs})}


def build_baseline(records: Sequence[Mapping[str, Any]], suite_name: str, *,
                   expected_cells: Iterable[str] | None = None,
                   pool: Sequence[Sequence[Mapping[str, Any]]] = ()) -> dict[str, Any]:
    """The baseline of ``suite_name`` from the records of one complete run, or several pooled.

    Pooling is for runs of the same code on different kinds of machine: the generative models
    train on each CPU's fastest kernels, and the feature network's weights differ between CPU
    vendors, so an Intel and an AMD run of one commit differ by more than two seeds' spread.
    Each metric's mean, std and tolerance are then taken over every run's seeds, so the band
    covers the spread between the machines CI has run on, and no more.

    Args:
        records: checked records (:func:`benchmarks.tables.load_records`) of the suite.
        suite_name: the suite they belong to.
        expected_cells: cell ids the suite has; a missing one is an error.
        pool: records of further complete runs of the same cells (same config hashes).
            Their values are keyed ``"<seed>#<k>"`` (``k`` = 1, 2, … in ``pool`` order), the first
            run's ``"<seed>"``.

    Raises:
        ValueError: no records, a record of another suite, a cell that is not ``ok`` or a missing
            cell (each named, with the run): a baseline is made from clean runs only; pooled runs
            whose cells or config hashes differ from the first run's.
    """
    runs = [list(records), *(list(p) for p in pool)]
    for k, run in enumerate(runs):
        _check_run(run, suite_name, expected_cells, "the run" if k == 0 else f"pooled run {k}")
    hashes = {r["cell_id"]: r["config_hash"] for r in runs[0]}
    for k, run in enumerate(runs[1:], start=1):
        theirs = {r["cell_id"]: r["config_hash"] for r in run}
        if set(theirs) != set(hashes):
            raise ValueError(f"pooled run {k} has other cells than the first run: only there "
                             f"{sorted(set(theirs) - set(hashes))}, only in the first "
                             f"{sorted(set(hashes) - set(theirs))}")
        changed = sorted(f"{c} ({hashes[c]} vs {h})" for c, h in theirs.items() if h != hashes[c])
        if changed:
            raise ValueError(f"pooled run {k} ran other configs than the first run: {changed}; "
                             "pool only runs of the same code and suite")
    by_seed = [{(r["dataset"]["name"], r["adapter"]["label"], r["seed"]): r for r in run}
               for run in runs]
    groups: dict[str, Any] = {}
    for _, row in F.summarize(F.cells(runs[0])).iterrows():
        dataset, label = row["dataset"], row["label"]
        members = [(str(s) if k == 0 else f"{s}#{k}", by_seed[k][(dataset, label, s)])
                   for k in range(len(runs)) for s in row["seeds"]]
        metrics = {}
        for key in CHECKED:
            spec = K.spec(key)
            values = {tag: float(r["metrics"][key]) for tag, r in members
                      if r["metrics"].get(key) is not None
                      and math.isfinite(float(r["metrics"][key]))}
            if not values or not spec.applies_to(row["family"]):
                continue  # not applicable to this entry (e.g. reconstruction of a GAN)
            mean, std = F.mean(values.values()), F.std(values.values())
            std = None if math.isnan(std) else std
            tol, source = tolerance(key, mean, std)
            floor = spec.floor or K.Floor(0.0, 0.0)  # every key of CHECKED has one
            metrics[key] = {
                "mean": mean, "std": std, "n": len(values), "values": values,
                "tolerance": tol, "tolerance_from": source,
                "rel_floor": floor.rel, "abs_floor": floor.abs,
                "higher_is_better": spec.higher_is_better,
            }
        first = [by_seed[0][(dataset, label, s)] for s in row["seeds"]]
        groups[_group_key(label, dataset)] = {
            "label": label, "dataset": dataset, "adapter": row["adapter"],
            "cells": {str(r["seed"]): {"cell_id": r["cell_id"], "config_hash": r["config_hash"]}
                      for r in first},
            "metrics": metrics,
        }
    out = {
        "schema_version": BASELINE_SCHEMA_VERSION,
        "kind": BASELINE_KIND,
        "suite": suite_name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git": sorted({str((r.get("env") or {}).get("git", "unknown"))
                       for run in runs for r in run}),
        "k_sigma": K_SIGMA,
        "groups": groups,
    }
    if pool:
        out["runs"] = [_run_summary(run) for run in runs]
    return out


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted(v) for v in value]
    return value


def write_baseline(path: str | Path, baseline: Mapping[str, Any]) -> None:
    """Write ``baseline`` atomically as indented JSON with sorted keys (reviewable diffs)."""
    rec.write_json_atomic(Path(path), _sorted(baseline))


def _create_hint(path: Path, suite: str | None) -> str:
    name = suite or "NAME"
    return (f"create it from a clean run with: python -m benchmarks run --suite {name} "
            f"--results-dir DIR && python -m benchmarks check --suite {name} --results-dir DIR "
            f"--baseline {path} --update-baseline")


def load_baseline(path: str | Path, *, suite: str | None = None) -> dict[str, Any]:
    """Read and check a baseline file.

    Args:
        path: the baseline JSON.
        suite: when given, the suite the baseline must belong to.

    Raises:
        FileNotFoundError: no such file (says how to create it).
        ValueError: not JSON, not a baseline, another schema version, a missing field, or a
            baseline of another suite; the message names the path.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"baseline {path} does not exist; {_create_hint(path, suite)}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"baseline {path} is not valid JSON ({err}); restore it from git or "
                         f"{_create_hint(path, suite)}") from err
    if not isinstance(data, dict) or data.get("kind") != BASELINE_KIND:
        raise ValueError(f"{path} is not a SpikeGenBench baseline (no kind {BASELINE_KIND!r}); "
                         f"{_create_hint(path, suite)}")
    if data.get("schema_version") != BASELINE_SCHEMA_VERSION:
        raise ValueError(f"baseline {path} has schema_version {data.get('schema_version')!r}; "
                         f"this code reads {BASELINE_SCHEMA_VERSION}; {_create_hint(path, suite)}")
    missing = [k for k in ("suite", "created", "groups") if k not in data]
    if missing or not isinstance(data["groups"], dict):
        raise ValueError(f"baseline {path} lacks {missing or ['groups (an object)']}; "
                         f"{_create_hint(path, suite)}")
    for name, group in data["groups"].items():
        need = ("label", "dataset", "cells", "metrics")
        if not isinstance(group, dict) or any(k not in group for k in need):
            raise ValueError(f"baseline {path}: group {name!r} needs {list(need)}")
        for key, m in group["metrics"].items():
            if not isinstance(m, dict) or any(not isinstance(m.get(f), int | float)
                                              for f in ("mean", "tolerance")):
                raise ValueError(f"baseline {path}: {name}.{key} needs numeric mean and tolerance")
    if suite is not None and data["suite"] != suite:
        raise ValueError(f"baseline {path} is for suite {data['suite']!r}, not {suite!r}; "
                         f"pass the baseline of suite {suite!r}, or {_create_hint(path, suite)}")
    return data


# --------------------------------------------------------------------------------------------
# Comparing a fresh run with the baseline


@dataclass(frozen=True)
class Finding:
    """Something the check has to say about one cell group or metric.

    Attributes:
        kind: ``"regression"``, ``"no-longer-reported"``, ``"failed"``, ``"skipped"``,
            ``"missing"``, ``"config-changed"`` (failures) or ``"improvement"``, ``"new"``,
            ``"unchecked"`` (notes).
        severity: ``"fail"`` or ``"note"``.
        label, dataset: the suite entry and data set.
        metric: the metric key, ``None`` for a finding about cells.
        baseline_mean, tolerance, fresh: the numbers compared (``None`` where none apply).
        message: one line naming all of the above.
    """

    kind: str
    severity: str
    label: str
    dataset: str
    metric: str | None
    baseline_mean: float | None
    tolerance: float | None
    fresh: float | None
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Verdict:
    """One row of the check table: a checked metric of a group, and what the check made of it."""

    label: str
    dataset: str
    metric: str
    higher_is_better: bool | None
    baseline_mean: float
    tolerance: float
    fresh: float | None
    n_fresh: int
    verdict: str  # "ok", "REGRESSED", "improved", "MISSING", "not compared", "not measured"


@dataclass(frozen=True)
class CheckResult:
    suite: str
    verdicts: tuple[Verdict, ...]
    findings: tuple[Finding, ...]

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "fail"]

    @property
    def notes(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "note"]

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "passed": self.passed,
                "findings": [asdict(f) for f in self.findings],
                "verdicts": [asdict(v) for v in self.verdicts]}


def fmt(x: float | None) -> str:
    """A number for the check's messages and table: integers whole, others to 4 digits."""
    if x is None:
        return "—"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}"


def _better(higher: bool | None) -> str:
    return "higher" if higher else "lower"


def compare(baseline: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> CheckResult:
    """Compare fresh ``records`` of a suite with its ``baseline`` (see :func:`load_baseline`).

    For each baseline group, the fresh mean of a metric is taken over the ok fresh records of the
    baseline's seeds and compared with the baseline mean ± tolerance, in the direction of
    ``keys.METRICS``.

    Raises:
        ValueError: a record belongs to another suite than the baseline.
    """
    suite = str(baseline["suite"])
    other = sorted({str(r["suite"]) for r in records} - {suite})
    if other:
        raise ValueError(f"records of suite(s) {other} given to check against the baseline of "
                         f"suite {suite!r}")
    by_cell = {r["cell_id"]: r for r in records}
    findings: list[Finding] = []
    verdicts: list[Verdict] = []
    known_cells: set[str] = set()

    def add(kind: str, severity: str, label: str, dataset: str, message: str,
            metric: str | None = None, mean: float | None = None, tol: float | None = None,
            fresh: float | None = None) -> None:
        findings.append(Finding(kind, severity, label, dataset, metric, mean, tol, fresh,
                                f"{label} on {dataset}: {message}"))

    for _, group in sorted(baseline["groups"].items()):
        label, dataset = group["label"], group["dataset"]
        fresh_ok: list[Mapping[str, Any]] = []
        changed: list[str] = []
        for seed, cell in sorted(group["cells"].items(), key=lambda kv: int(kv[0])):
            known_cells.add(cell["cell_id"])
            r = by_cell.get(cell["cell_id"])
            if r is None:
                add("missing", "fail", label, dataset,
                    f"cell {cell['cell_id']} is in the baseline but has no fresh record (was it "
                    f"removed from the suite? then {_UPDATE_HINT})")
            elif r["config_hash"] != cell["config_hash"]:
                changed.append(f"seed {seed}: {cell['config_hash']} -> {r['config_hash']}")
            elif r["status"] != "ok":
                add(r["status"], "fail", label, dataset,
                    f"cell {r['cell_id']} {r['status']}: {short_reason(r.get('error'))}")
            else:
                fresh_ok.append(r)
        metrics = group["metrics"]
        if changed:
            add("config-changed", "fail", label, dataset,
                f"config changed ({'; '.join(changed)}), so its numbers are not compared; "
                f"{_UPDATE_HINT}")
        # the fresh means of this group: {key: (mean or None, n)}
        stats = _fresh_stats(fresh_ok) if fresh_ok and not changed else None
        for key in sorted(metrics, key=_metric_order):
            m = metrics[key]
            mean, tol = float(m["mean"]), float(m["tolerance"])
            if key not in CHECKED:
                add("unchecked", "note", label, dataset,
                    f"{key} is in the baseline but no longer checked", metric=key)
                continue
            higher = K.METRICS[key].higher_is_better
            fresh, n_fresh = (stats or {}).get(key, (None, 0))
            if changed:
                verdict = "not compared"
            elif stats is None:
                verdict = "not measured"  # every cell failed or is missing: reported above
            elif fresh is None:
                verdict = "MISSING"
                add("no-longer-reported", "fail", label, dataset,
                    f"{key} is no longer reported (baseline {fmt(mean)} ± {fmt(tol)})",
                    metric=key, mean=mean, tol=tol)
            else:
                worse = (mean - fresh) if higher else (fresh - mean)
                if worse > tol:
                    verdict = "REGRESSED"
                    add("regression", "fail", label, dataset,
                        f"{key} regressed: fresh {fmt(fresh)} vs baseline {fmt(mean)} ± "
                        f"{fmt(tol)} ({_better(higher)} is better; worse by {fmt(worse)})",
                        metric=key, mean=mean, tol=tol, fresh=fresh)
                elif -worse > tol:
                    verdict = "improved"
                    add("improvement", "note", label, dataset,
                        f"{key} improved: fresh {fmt(fresh)} vs baseline {fmt(mean)} ± "
                        f"{fmt(tol)} ({_better(higher)} is better); {_UPDATE_HINT} to keep it",
                        metric=key, mean=mean, tol=tol, fresh=fresh)
                else:
                    verdict = "ok"
            verdicts.append(Verdict(label, dataset, key, higher, mean, tol, fresh, n_fresh,
                                    verdict))
        if stats is not None:
            for key in CHECKED:
                if key not in metrics and stats.get(key, (None, 0))[0] is not None:
                    add("new", "note", label, dataset,
                        f"{key} is reported but not in the baseline; {_UPDATE_HINT} to check it",
                        metric=key, fresh=stats[key][0])
    for r in records:
        if r["cell_id"] not in known_cells:
            add("new", "note", r["adapter"]["label"], r["dataset"]["name"],
                f"cell {r['cell_id']} is not in the baseline; {_UPDATE_HINT} to check it")
    return CheckResult(suite, tuple(verdicts), tuple(findings))


def _fresh_stats(records: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float | None, int]]:
    """``{key: (mean over the ok records or None, n)}`` of one group's fresh records."""
    cells = F.cells(records)
    row = F.summarize(cells).iloc[0]
    return {key: (F.value(row, key), int(row[f"{key}_n"])) for key in F.metric_columns(cells)}


def _metric_order(key: str) -> tuple[int, str]:
    order = list(K.METRICS)
    return (order.index(key), "") if key in order else (len(order), key)


# --------------------------------------------------------------------------------------------
# Text output


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

    return [line(header).rstrip(), line(["-" * w for w in widths]).rstrip(),
            *(line(r).rstrip() for r in rows)]


def render_result(result: CheckResult) -> str:
    """The check table (every checked metric) and the findings, as plain text."""
    rows = [[v.label, v.dataset, v.metric, _better(v.higher_is_better),
             f"{fmt(v.baseline_mean)} ± {fmt(v.tolerance)}", fmt(v.fresh), v.verdict]
            for v in result.verdicts]
    lines = [f"metric check of suite {result.suite!r}", "",
             *_table(["label", "dataset", "metric", "better", "baseline ± tol", "fresh", "verdict"],
                     rows), ""]
    for title, items in (("FAILED", result.failures), ("notes", result.notes)):
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines += [f"  - {f.message}" for f in items]
            lines.append("")
    lines.append("check passed" if result.passed else
                 f"check FAILED: {len(result.failures)} problem(s)")
    return "\n".join(lines)


def _value_order(tag: str) -> tuple[int, int]:
    """Sort key of a baseline value's tag: ``"<seed>"`` or ``"<seed>#<pooled run>"``."""
    seed, _, run = tag.partition("#")
    return int(run or 0), int(seed)


def render_baseline(baseline: Mapping[str, Any]) -> str:
    """The tolerances a baseline chose, with the spread and floors they came from."""
    rows = []
    for _, group in sorted(baseline["groups"].items()):
        for key in sorted(group["metrics"], key=_metric_order):
            m = group["metrics"][key]
            values = ", ".join(f"{s}: {fmt(v)}" for s, v in
                               sorted(m["values"].items(), key=lambda kv: _value_order(kv[0])))
            rows.append([group["label"], group["dataset"], key, fmt(m["mean"]), fmt(m["std"]),
                         str(m["n"]), fmt(m["tolerance"]), m["tolerance_from"], values])
    return "\n".join([f"baseline of suite {baseline['suite']!r} (tolerance = max({fmt(K_SIGMA)}·std, "
                      f"rel_floor·|mean|, abs_floor))", "",
                      *_table(["label", "dataset", "metric", "mean", "std", "n", "tolerance",
                               "from", "per seed"], rows)])
