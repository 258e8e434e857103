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
deliberately (``python -m benchmarks check ... --update-baseline``). Nor is a cell measured with a
feature network the baseline was not (``metric_config.feature_net_weights_sha256``); a baseline
made before records kept that hash holds none, and the check notes that it cannot tell.

The same rules compare a run with the committed reference results, cell by cell
(:func:`compare_runs`, ``python -m benchmarks compare``): the reference's records make the
baseline, and each cell of the run is judged against its group's mean ± tolerance.

Like the tables, everything here is a pure function of records: nothing trains or samples.

Baseline schema (``schema_version`` 1, JSON with sorted keys)::

    schema_version, kind "spikegenbench-baseline", suite, created, git, k_sigma,
    groups {"<label>__<dataset>" -> {
        label, dataset, adapter,
        cells {"<seed>" -> {cell_id, config_hash}},
        feature_net_weights_sha256 [sha256, ...]   (absent or empty: not recorded),
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
from collections.abc import Collection, Iterable, Mapping, Sequence
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
    covers the spread between the machines CI has run on, and no more. Each group keeps the
    feature networks (``metric_config.feature_net_weights_sha256``) its runs were measured with:
    a pooled Intel and AMD baseline has two.

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
    return _baseline(runs, suite_name)


def reference_baseline(records: Sequence[Mapping[str, Any]], suite_name: str) -> dict[str, Any]:
    """A baseline (the reference of :func:`compare_runs`) from whatever ok records a results
    folder holds: unlike :func:`build_baseline`, failed, skipped and missing cells are left out
    (each group holds the seeds that are ok), not refused.

    Raises:
        ValueError: a record of another suite, or no ok record at all.
    """
    other = sorted({str(r["suite"]) for r in records} - {suite_name})
    if other:
        raise ValueError(f"records of suite(s) {other} given as the reference of {suite_name!r}")
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        raise ValueError(f"the reference holds no ok record of suite {suite_name!r} "
                         f"({len(records)} record(s), none ok): nothing to compare with")
    return _baseline([ok], suite_name)


def _feature_net(record: Mapping[str, Any]) -> str | None:
    """The SHA-256 of the feature network that measured ``record``, ``None`` where not recorded."""
    return (record.get("metric_config") or {}).get("feature_net_weights_sha256") or None


def _baseline(runs: Sequence[Sequence[Mapping[str, Any]]], suite_name: str) -> dict[str, Any]:
    """The baseline of ``runs`` (ok records of the same cells, first run first), unchecked."""
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
            "feature_net_weights_sha256": sorted({h for _, r in members
                                                  if (h := _feature_net(r)) is not None}),
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
    if len(runs) > 1:
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
    """Something the check has to say about one cell group, cell or metric.

    Attributes:
        kind: ``"regression"``, ``"no-longer-reported"``, ``"failed"``, ``"skipped"``,
            ``"missing"``, ``"config-changed"``, ``"other-feature-net"`` (failures) or
            ``"improvement"``, ``"new"``, ``"unchecked"``, ``"feature-net-unknown"``,
            ``"reference-not-ok"`` (notes).
        severity: ``"fail"`` or ``"note"``.
        label, dataset: the suite entry and data set.
        metric: the metric key, ``None`` for a finding about cells.
        baseline_mean, tolerance, fresh: the numbers compared (``None`` where none apply).
        message: one line naming all of the above.
        seed: the cell's seed where the finding is about one cell, else ``None``.
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
    seed: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Verdict:
    """One row of the check table: a checked metric of a group (or, compared cell by cell, of
    one cell: ``seed``), and what the check made of it."""

    label: str
    dataset: str
    metric: str
    higher_is_better: bool | None
    baseline_mean: float
    tolerance: float
    fresh: float | None
    n_fresh: int
    verdict: str  # "ok", "REGRESSED", "improved", "MISSING", "not compared", "not measured"
    seed: int | None = None
    baseline_std: float | None = None


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


@dataclass(frozen=True)
class Wording:
    """How :func:`compare`'s messages name the two sides and what to do about a difference.

    Attributes:
        reference: the side compared with (``"baseline"``).
        fresh: the side judged (``"fresh"``), as in "fresh 56.2 vs baseline 51 ± 5.1".
        missing_hint: what to do about a cell of the reference without a fresh record.
        refresh_hint: how a change is taken into the reference; ``""``: no such hint.
    """

    reference: str = "baseline"
    fresh: str = "fresh"
    missing_hint: str = f"was it removed from the suite? then {_UPDATE_HINT}"
    refresh_hint: str = _UPDATE_HINT

    def hint(self, purpose: str = "") -> str:
        """``"; <refresh_hint> <purpose>"``, or ``""`` where there is no refresh hint."""
        return f"; {self.refresh_hint}{' ' + purpose if purpose else ''}" if self.refresh_hint \
            else ""


#: The check's wording: a fresh run against the committed baseline.
CHECK_WORDING = Wording()


def fmt(x: float | None) -> str:
    """A number for the check's messages and table: integers whole, others to 4 digits."""
    if x is None:
        return "—"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}"


def _better(higher: bool | None) -> str:
    return "higher" if higher else "lower"


def _short(sha: str | None) -> str:
    return "not recorded" if sha is None else sha[:12]


def compare(baseline: Mapping[str, Any], records: Sequence[Mapping[str, Any]], *,
            per_cell: bool = False, wording: Wording = CHECK_WORDING,
            cells: Collection[str] | None = None) -> CheckResult:
    """Compare fresh ``records`` of a suite with its ``baseline`` (see :func:`load_baseline`).

    For each baseline group, the fresh mean of a metric is taken over the ok fresh records of the
    baseline's seeds and compared with the baseline mean ± tolerance, in the direction of
    ``keys.METRICS``. A group with a cell of another config hash, or a cell measured with a
    feature network the baseline does not hold (``metric_config.feature_net_weights_sha256``,
    where both sides record it), is not compared: its numbers answer another question.

    Args:
        baseline: the baseline (or reference) to compare with.
        records: the fresh records.
        per_cell: judge each fresh cell's own value against the group's mean ± tolerance (one
            verdict per cell and metric, with its ``seed``) instead of the fresh mean over the
            group's seeds; a changed or differently measured cell then leaves out that cell only.
        wording: how the messages name the two sides (the check's by default).
        cells: the cell ids the run was asked for (``None``: every baseline cell). A baseline
            cell outside them is not expected in the run, so its absence is no failure; its
            value still counts in the group's mean ± std.

    Raises:
        ValueError: a record belongs to another suite than the baseline.
    """
    suite = str(baseline["suite"])
    other = sorted({str(r["suite"]) for r in records} - {suite})
    if other:
        raise ValueError(f"records of suite(s) {other} given to check against the "
                         f"{wording.reference} of suite {suite!r}")
    w = wording
    by_cell = {r["cell_id"]: r for r in records}
    findings: list[Finding] = []
    verdicts: list[Verdict] = []
    known_cells: set[str] = set()

    def add(kind: str, severity: str, label: str, dataset: str, message: str,
            metric: str | None = None, mean: float | None = None, tol: float | None = None,
            fresh: float | None = None, seed: int | None = None) -> None:
        findings.append(Finding(kind, severity, label, dataset, metric, mean, tol, fresh,
                                f"{label} on {dataset}: {message}", seed))

    def judge(group: Mapping[str, Any], stats: dict[str, tuple[float | None, int]] | None,
              seed: int | None, not_compared: bool) -> None:
        """One verdict per checked metric of ``group`` for the fresh ``stats`` (``{key: (value,
        n)}``, ``None``: nothing measured) of its seeds, or of one cell (``seed``)."""
        label, dataset = group["label"], group["dataset"]
        at = "" if seed is None else f"seed {seed}: "
        for key in sorted(group["metrics"], key=_metric_order):
            if key not in CHECKED:
                continue  # noted once per group
            m = group["metrics"][key]
            mean, tol = float(m["mean"]), float(m["tolerance"])
            higher = K.METRICS[key].higher_is_better
            fresh, n_fresh = (stats or {}).get(key, (None, 0))
            if not_compared:
                verdict = "not compared"
            elif stats is None:
                verdict = "not measured"  # every cell failed or is missing: reported above
            elif fresh is None:
                verdict = "MISSING"
                add("no-longer-reported", "fail", label, dataset,
                    f"{at}{key} is no longer reported ({w.reference} {fmt(mean)} ± {fmt(tol)})",
                    metric=key, mean=mean, tol=tol, seed=seed)
            else:
                worse = (mean - fresh) if higher else (fresh - mean)
                if worse > tol:
                    verdict = "REGRESSED"
                    add("regression", "fail", label, dataset,
                        f"{at}{key} regressed: {w.fresh} {fmt(fresh)} vs {w.reference} "
                        f"{fmt(mean)} ± {fmt(tol)} ({_better(higher)} is better; worse by "
                        f"{fmt(worse)})", metric=key, mean=mean, tol=tol, fresh=fresh, seed=seed)
                elif -worse > tol:
                    verdict = "improved"
                    add("improvement", "note", label, dataset,
                        f"{at}{key} improved: {w.fresh} {fmt(fresh)} vs {w.reference} "
                        f"{fmt(mean)} ± {fmt(tol)} ({_better(higher)} is better)"
                        f"{w.hint('to keep it')}", metric=key, mean=mean, tol=tol, fresh=fresh,
                        seed=seed)
                else:
                    verdict = "ok"
            verdicts.append(Verdict(label, dataset, key, higher, mean, tol, fresh, n_fresh,
                                    verdict, seed, m.get("std")))

    for _, group in sorted(baseline["groups"].items()):
        label, dataset = group["label"], group["dataset"]
        fresh_ok: list[Mapping[str, Any]] = []
        changed: list[tuple[int, str, str, str]] = []  # seed, cell id, baseline hash, fresh hash
        for seed, cell in sorted(group["cells"].items(), key=lambda kv: int(kv[0])):
            known_cells.add(cell["cell_id"])
            r = by_cell.get(cell["cell_id"])
            if r is None and cells is not None and cell["cell_id"] not in cells:
                continue
            if r is None:
                add("missing", "fail", label, dataset,
                    f"cell {cell['cell_id']} is in the {w.reference} but has no {w.fresh} record "
                    f"({w.missing_hint})", seed=int(seed))
            elif r["config_hash"] != cell["config_hash"]:
                changed.append((int(seed), cell["cell_id"], cell["config_hash"], r["config_hash"]))
            elif r["status"] != "ok":
                add(r["status"], "fail", label, dataset,
                    f"cell {r['cell_id']} {r['status']}: {short_reason(r.get('error'))}",
                    seed=int(seed))
            else:
                fresh_ok.append(r)
        other_net, net_note = _other_feature_net(group, fresh_ok, w)
        if net_note:
            add("feature-net-unknown", "note", label, dataset, net_note)
        measured_elsewhere = {r["cell_id"] for r in other_net}
        fresh_ok = [r for r in fresh_ok if r["cell_id"] not in measured_elsewhere]
        nets = ", ".join(map(_short, group.get("feature_net_weights_sha256") or []))
        for key in sorted(group["metrics"], key=_metric_order):
            if key not in CHECKED:
                add("unchecked", "note", label, dataset,
                    f"{key} is in the {w.reference} but no longer checked", metric=key)
        if per_cell:
            for seed, cid, old, new in changed:
                add("config-changed", "fail", label, dataset,
                    f"cell {cid}: config changed ({old} -> {new}), so it is not compared"
                    f"{w.hint()}", seed=seed)
            for r in other_net:
                add("other-feature-net", "fail", label, dataset,
                    f"cell {r['cell_id']} was measured with another feature network "
                    f"({_short(_feature_net(r))}) than the {w.reference} ({nets}), so it is not "
                    f"compared", seed=int(r["seed"]))
            for r in fresh_ok:
                judge(group, _fresh_stats([r]), int(r["seed"]), not_compared=False)
        else:
            if changed:
                seeds = "; ".join(f"seed {s}: {old} -> {new}" for s, _, old, new in changed)
                add("config-changed", "fail", label, dataset,
                    f"config changed ({seeds}), so its numbers are not compared{w.hint()}")
            if other_net:
                seeds = "; ".join(f"seed {r['seed']}: {_short(_feature_net(r))}"
                                  for r in other_net)
                add("other-feature-net", "fail", label, dataset,
                    f"measured with another feature network ({seeds}) than the {w.reference} "
                    f"({nets}), so its numbers are not compared{w.hint()}")
            not_compared = bool(changed or other_net)
            judge(group, _fresh_stats(fresh_ok) if fresh_ok and not not_compared else None, None,
                  not_compared)
        if fresh_ok and (per_cell or not (changed or other_net)):
            reported = _fresh_stats(fresh_ok)
            for key in CHECKED:
                if key not in group["metrics"] and reported.get(key, (None, 0))[0] is not None:
                    add("new", "note", label, dataset,
                        f"{key} is reported but not in the {w.reference}{w.hint('to check it')}",
                        metric=key, fresh=reported[key][0])
    for r in records:
        if r["cell_id"] in known_cells:
            continue
        if r["status"] != "ok":  # a failure is one whether or not the baseline knows the cell
            add(r["status"], "fail", r["adapter"]["label"], r["dataset"]["name"],
                f"cell {r['cell_id']} {r['status']}: {short_reason(r.get('error'))} (not in the "
                f"{w.reference})", seed=int(r["seed"]))
        else:
            add("new", "note", r["adapter"]["label"], r["dataset"]["name"],
                f"cell {r['cell_id']} is not in the {w.reference}{w.hint('to check it')}",
                seed=int(r["seed"]))
    return CheckResult(suite, tuple(verdicts), tuple(findings))


def _other_feature_net(group: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
                       w: Wording) -> tuple[list[Mapping[str, Any]], str | None]:
    """The ok ``records`` of ``group`` measured with a feature network that the group's
    ``feature_net_weights_sha256`` does not hold, and a note where either side does not record
    which network it was (records and baselines made before records kept it)."""
    known = group.get("feature_net_weights_sha256") or []
    if not known:
        note = None
        if any(_feature_net(r) for r in records):
            note = (f"the {w.reference} does not record which feature network measured it (made "
                    f"before records kept feature_net_weights_sha256), so a {w.fresh} cell "
                    f"measured with another one cannot be told apart; compared anyway"
                    f"{w.hint('to record it')}")
        return [], note
    unnamed = [str(r["cell_id"]) for r in records if _feature_net(r) is None]
    note = (f"{w.fresh} cell(s) {', '.join(unnamed)} do not record which feature network "
            f"measured them; compared anyway") if unnamed else None
    other = [r for r in records
             if _feature_net(r) is not None and _feature_net(r) not in known]
    return other, note


def _fresh_stats(records: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float | None, int]]:
    """``{key: (mean over the ok records or None, n)}`` of one group's fresh records."""
    cells = F.cells(records)
    row = F.summarize(cells).iloc[0]
    return {key: (F.value(row, key), int(row[f"{key}_n"])) for key in F.metric_columns(cells)}


def _metric_order(key: str) -> tuple[int, str]:
    order = list(K.METRICS)
    return (order.index(key), "") if key in order else (len(order), key)


# --------------------------------------------------------------------------------------------
# Comparing a run with the reference results, cell by cell

#: The comparison's wording: a run (``runs/``) against the committed reference (``results/``).
#: The reference is refreshed by maintainers only, so no message suggests refreshing it.
COMPARE_WORDING = Wording(reference="reference", fresh="run",
                          missing_hint="run it: python -m benchmarks run --suite NAME",
                          refresh_hint="")

#: Fields of a record's ``env`` (:func:`benchmarks.records.environment`) that the comparison lists
#: where the two runs differ; ``env.versions`` is listed library by library.
ENV_FIELDS: tuple[str, ...] = ("git", "cpu", "machine", "device", "threads")
#: Fields of a record's ``metric_config`` listed where the two runs differ, data set by data set.
FEATURE_NET_FIELDS: tuple[str, ...] = ("feature_extractor", "feature_net_test_accuracy",
                                       "feature_net_weights_sha256")
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class EnvDifference:
    """A field of the records' ``env`` or ``metric_config`` whose values differ between two runs.

    Attributes:
        field: ``"cpu"``, ``"versions.torch"``, ``"feature_net_test_accuracy (mnist)"``, ...
        reference, fresh: the distinct values on each side, sorted (``"not recorded"`` for
            records without the field).
    """

    field: str
    reference: tuple[str, ...]
    fresh: tuple[str, ...]


def _env_values(records: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in records:
        if r["status"] != "ok":
            continue  # a cell that stopped early may not have measured or recorded everything
        env = r.get("env") or {}
        config = r.get("metric_config") or {}
        fields = {name: env.get(name) for name in ENV_FIELDS}
        fields.update({f"versions.{lib}": v for lib, v in (env.get("versions") or {}).items()})
        fields.update({f"{name} ({r['dataset']['name']})": config.get(name)
                       for name in FEATURE_NET_FIELDS})
        for name, value in fields.items():
            out.setdefault(name, set()).add(NOT_RECORDED if value is None else str(value))
    return out


def environment_differences(reference: Sequence[Mapping[str, Any]],
                            records: Sequence[Mapping[str, Any]]) -> tuple[EnvDifference, ...]:
    """Where the ok records of two runs say they were made differently: every field of
    :data:`ENV_FIELDS`, each library version and, per data set, :data:`FEATURE_NET_FIELDS`,
    whose sets of values differ (a library recorded on one side only is ``"not recorded"`` on
    the other)."""
    ref, fresh = _env_values(reference), _env_values(records)
    names = [*ref, *(name for name in fresh if name not in ref)]
    out = []
    for name in names:
        a, b = ref.get(name, {NOT_RECORDED}), fresh.get(name, {NOT_RECORDED})
        if a != b:
            out.append(EnvDifference(name, tuple(sorted(a)), tuple(sorted(b))))
    return tuple(out)


@dataclass(frozen=True)
class Comparison:
    """A run of a suite compared cell by cell with the reference (:func:`compare_runs`).

    Attributes:
        suite: the suite.
        cells: the suite's cell ids.
        reference: the baseline made from the reference's ok records
            (:func:`reference_baseline`): each group's mean, std, n and tolerance.
        result: one verdict per compared cell and checked metric (with its ``seed``), and the
            findings: cells missing, failed, skipped, of another config or feature network.
        environment: where the two runs' records say they were made differently.
    """

    suite: str
    cells: tuple[str, ...]
    reference: Mapping[str, Any]
    result: CheckResult
    environment: tuple[EnvDifference, ...]

    @property
    def passed(self) -> bool:
        return self.result.passed

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "cells": len(self.cells),
                "environment": [asdict(d) for d in self.environment]}


def match_reference(reference: Sequence[Mapping[str, Any]],
                    pools: Mapping[str, Sequence[Mapping[str, Any]]],
                    records: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]],
                                                                   dict[str, str]]:
    """The reference records to compare a run's ``records`` with, data set by data set.

    A data set's FIDs can only be compared under one feature network, and its weights differ
    between CPU vendors. So a reference may keep further runs of the same suite made on other
    kinds of CPU (``results/SUITE/pool/NAME``), each measured with its own feature networks.
    A data set takes the main reference's records unless the run's ok cells of it were
    measured with a network that the main reference's were not and a pool's were; then it takes
    the first such pool's. Anything else (no pool matches, or a side that does not record its
    network) keeps the main reference, and :func:`compare_runs` says why a cell is not compared.

    Args:
        reference: the main reference's records of the suite.
        pools: ``{name: records}`` of the pooled reference runs, in the order to try them.
        records: the run's records.

    Returns:
        The chosen records (the main reference's data sets, in its order), and
        ``{dataset: pool name}`` for each data set taken from a pool.
    """
    def nets(source: Sequence[Mapping[str, Any]], dataset: str) -> set[str]:
        return {h for r in source if r["dataset"]["name"] == dataset and r["status"] == "ok"
                and (h := _feature_net(r)) is not None}

    chosen: list[Mapping[str, Any]] = []
    pooled: dict[str, str] = {}
    for dataset in dict.fromkeys(r["dataset"]["name"] for r in reference):
        ours = nets(records, dataset)
        source = None
        if ours and not ours <= nets(reference, dataset):
            source = next((name for name, pool in pools.items() if ours <= nets(pool, dataset)),
                          None)
        if source is not None:
            pooled[dataset] = source
        chosen += [r for r in (reference if source is None else pools[source])
                   if r["dataset"]["name"] == dataset]
    return chosen, pooled


def compare_runs(reference: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]],
                 suite_name: str, *, expected: Sequence[tuple[str, str, int]],
                 wording: Wording = COMPARE_WORDING) -> Comparison:
    """Each cell of a run against the reference's mean ± std over its seeds, by the check's rules.

    The reference's ok records make a baseline (:func:`reference_baseline`), and each of the
    run's cells is judged against its group's mean ± tolerance (:func:`compare`, ``per_cell``).
    A cell without a record on either side is missing; a failed or skipped cell of the run is a
    failure, whether or not the reference has it; a reference cell that is not ok is noted
    (there is nothing to compare the run's with).

    Args:
        reference: the reference folder's records of the suite.
        records: the run's records of the suite.
        suite_name: the suite.
        expected: ``(label, dataset, seed)`` of every cell the run was asked for (the suite's,
            or the part of it a ``--seeds`` / ``--adapters`` / ``--datasets`` run selects): a
            reference cell outside them is not missing from the run.
        wording: how the messages name the two sides.

    Raises:
        ValueError: records of another suite, or a reference without any ok record.
    """
    baseline = reference_baseline(reference, suite_name)
    asked = {rec.cell_id(*c) for c in expected}
    in_reference = {c["cell_id"] for g in baseline["groups"].values() for c in g["cells"].values()}
    # a record of a reference cell outside the selection (an older run's) is not this run's
    records = [r for r in records if r["cell_id"] in asked or r["cell_id"] not in in_reference]
    result = compare(baseline, records, per_cell=True, wording=wording, cells=asked)
    in_run = {r["cell_id"] for r in records}
    ok_in_run = {r["cell_id"] for r in records if r["status"] == "ok"}
    not_ok = {r["cell_id"]: r for r in reference if r["status"] != "ok"}
    findings = [f for f in result.findings  # the note below says more than "not in it"
                if not (f.kind == "new" and f.metric is None and f.seed is not None
                        and rec.cell_id(f.label, f.dataset, f.seed) in not_ok)]
    for cid, r in not_ok.items():
        if cid in ok_in_run:
            label, dataset = r["adapter"]["label"], r["dataset"]["name"]
            findings.append(Finding(
                "reference-not-ok", "note", label, dataset, None, None, None, None,
                f"{label} on {dataset}: the {wording.reference}'s cell {cid} {r['status']} "
                f"({short_reason(r.get('error'))}), so the {wording.fresh}'s is not compared",
                int(r["seed"])))
    for label, dataset, seed in expected:
        cid = rec.cell_id(label, dataset, seed)
        if cid not in in_run and cid not in in_reference:
            findings.append(Finding(
                "missing", "fail", label, dataset, None, None, None, None,
                f"{label} on {dataset}: cell {cid} has no {wording.fresh} record "
                f"({wording.missing_hint}), nor a value in the {wording.reference}", seed))
    return Comparison(suite_name, tuple(rec.cell_id(*c) for c in expected), baseline,
                      CheckResult(result.suite, result.verdicts, tuple(findings)),
                      environment_differences(reference, records))


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

#: The comparison's lists of cells and values that were not compared or failed, by finding kind.
_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Outside tolerance", ("regression", "no-longer-reported")),
    ("Missing cells", ("missing",)),
    ("Failed or skipped cells", ("failed", "skipped")),
    ("Config changed: not compared", ("config-changed",)),
    ("Measured with another feature network: not compared", ("other-feature-net",)),
)
#: What a seed's column of the comparison table says for a cell that has no verdict.
_CELL_TEXT = {"missing": "missing", "failed": "failed", "skipped": "skipped",
              "config-changed": "config changed", "other-feature-net": "other feature net",
              "new": "no reference", "reference-not-ok": "no reference"}


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


def _comparison_table(c: Comparison, dataset: str) -> list[str]:
    """One data set's rows: every checked metric of every reference group, the run's seeds as
    columns."""
    groups = [g for g in c.reference["groups"].values() if g["dataset"] == dataset]
    verdicts = {(v.label, v.metric, v.seed): v for v in c.result.verdicts
                if v.dataset == dataset}
    cell_text = {(f.label, f.seed): _CELL_TEXT[f.kind] for f in c.result.findings
                 if f.dataset == dataset and f.seed is not None and f.metric is None
                 and f.kind in _CELL_TEXT}
    asked = set(c.cells)
    seeds = sorted({int(s) for g in groups for s, cell in g["cells"].items()
                    if cell["cell_id"] in asked}
                   | {s for _, s in cell_text if s is not None}
                   | {v.seed for v in verdicts.values() if v.seed is not None})
    rows = []
    for g in groups:
        label = g["label"]
        for key in sorted(g["metrics"], key=_metric_order):
            if key not in CHECKED:
                continue
            m = g["metrics"][key]
            row = [label, key, _better(K.METRICS[key].higher_is_better),
                   f"{fmt(m['mean'])} ± {fmt(m.get('std'))} ({m['n']})", fmt(m["tolerance"])]
            for seed in seeds:
                v = verdicts.get((label, key, seed))
                if v is None:
                    row.append(cell_text.get((label, seed), ""))
                else:
                    text = f"{fmt(v.fresh)} {v.verdict}"
                    row.append(f"**{text}**" if v.verdict in ("REGRESSED", "MISSING") else text)
            rows.append(row)
    header = ["label", "metric", "better", "reference mean ± std (n)", "tolerance",
              *(f"seed {s}" for s in seeds)]
    return _md_table(header, rows)


def render_comparison(c: Comparison, *, run: str, reference: str,
                      pooled: Mapping[str, str] | None = None) -> str:
    """The comparison as Markdown: one table per data set (each value of the run, the
    reference's mean ± std and tolerance, the verdict), the environment differences, and the
    cells and values that failed or were not compared.

    Args:
        c: the comparison (:func:`compare_runs`).
        run, reference: how to name the two results folders in the title.
        pooled: ``{dataset: folder}`` where a data set's reference is a pooled run
            (:func:`match_reference`), the folder as the title names it.
    """
    verdicts = c.result.verdicts
    count = {name: sum(v.verdict == name for v in verdicts)
             for name in ("ok", "REGRESSED", "improved", "MISSING")}
    compared = {(v.label, v.dataset, v.seed) for v in verdicts}
    lines = [f"# Suite `{c.suite}`: the run against the reference", "",
             f"Run: `{run}`; reference: `{reference}`. Each value of the run against the "
             f"reference's mean ± std over its seeds (n), with the tolerance of `python -m "
             f"benchmarks check`: max({fmt(K_SIGMA)}·std, rel_floor·|mean|, abs_floor), in the "
             f"metric's worse direction. ok: within it; REGRESSED: worse by more; improved: "
             f"better by more (a note).", "",
             *(f"For {' and '.join(d for d, f in (pooled or {}).items() if f == folder)} the "
               f"reference is the pooled run `{folder}`: it was measured with the run's feature "
               f"network, which the main reference was not (their weights differ between CPU "
               f"vendors).\n" for folder in dict.fromkeys((pooled or {}).values())),
             f"**{len(compared)} of {len(c.cells)} cells compared, {len(verdicts)} values: "
             f"{count['ok']} within tolerance, {count['REGRESSED']} worse beyond it, "
             f"{count['improved']} better beyond it, {count['MISSING']} no longer reported.**"]
    datasets = list(dict.fromkeys(g["dataset"] for g in c.reference["groups"].values()))
    for dataset in datasets:
        lines += ["", f"## {dataset}", "", *_comparison_table(c, dataset)]
    lines += ["", "## Environment differences", ""]
    if c.environment:
        def shown(d: EnvDifference, values: tuple[str, ...]) -> str:
            sha = d.field.startswith("feature_net_weights_sha256")
            return ", ".join(_short(v) if sha and v != NOT_RECORDED else v for v in values)

        lines += _md_table(["field", "reference", "run"],
                           [[d.field, shown(d, d.reference), shown(d, d.fresh)]
                            for d in c.environment])
    else:
        lines.append("None: the records name the same code, machine, libraries and feature "
                     "networks.")
    for title, kinds in (*_SECTIONS, ("Notes", ())):
        items = [f for f in c.result.findings
                 if (f.kind in kinds if kinds else f.severity == "note")]
        if items:
            lines += ["", f"## {title} ({len(items)})", "", *(f"- {f.message}" for f in items)]
    failures = len(c.result.failures)
    lines += ["", "comparison passed: every compared value is within tolerance and no cell is "
              "missing" if c.passed else f"comparison FAILED: {failures} problem(s)"]
    return "\n".join(lines) + "\n"


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
