"""Records as pandas DataFrames: the one input of the tables, the figures and the check.

* :func:`load_records` reads and checks a suite's record files.
* :func:`cells` turns records into a tidy frame, **one row per cell** (entry label x data set x
  seed): identity columns (:data:`ID_COLUMNS`), the measurement settings of ``metric_config``
  (columns ``metric_config.<name>``) and one float column per metric key (``NaN`` where the record
  has ``null``, a non-finite value or no such key).
* :func:`energy_baselines` matches every row to its ANN baseline row (same family, and latent
  kind where the suite has a matching ANN), which the energy ratios of :func:`cells` divide by
  when it is given energy models.
* :func:`summarize` groups the ok cells by ``(dataset, label)`` and reduces each metric over its
  seeds to ``<key>_mean``, ``<key>_std`` (sample std, ``ddof=1``) and ``<key>_n``, one row per
  group; groups whose every cell failed or was skipped are rows too, with ``n = 0``.
* :func:`rank_agreement` compares two rankings of the same rows (e.g. the rows' FIDs in two
  feature spaces): Spearman's rho, Kendall's tau-b and the rows that move by more than a few
  places (:func:`moved_rows`).

Nothing here trains, samples or imports an adapter. Rows come in the tables' order: data set
(:data:`DATASET_ORDER` first), backend (:data:`BACKEND_ORDER`), label in natural order (``T4``
before ``T16``), seed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import records as rec
from benchmarks.metrics import keys as K

log = logging.getLogger(__name__)

#: Rows are grouped in this backend order; unknown backends follow, alphabetically.
BACKEND_ORDER: tuple[str, ...] = ("ann", "surrogate", "conversion", "stdp")
#: Data sets in this order; unknown ones follow, alphabetically.
DATASET_ORDER: tuple[str, ...] = ("mnist", "fashion-mnist")

#: The identity columns of :func:`cells`, one value per record.
ID_COLUMNS: tuple[str, ...] = ("dataset", "label", "adapter", "backend", "family", "seed",
                               "status", "reason", "suite", "cell_id", "config_hash")
#: Prefix of the ``metric_config`` columns of :func:`cells`.
CONFIG_PREFIX = "metric_config."
#: ``metric_config`` fields copied into :func:`cells` (what a table caption states).
CONFIG_FIELDS: tuple[str, ...] = ("feature_extractor", "feature_net_test_accuracy", "n_samples",
                                  "energy_model", "energy_model_desc")
#: The identity columns of :func:`summarize`, before the metric columns.
SUMMARY_ID_COLUMNS: tuple[str, ...] = ("dataset", "label", "adapter", "backend", "family",
                                       "status", "n_ok", "n_records", "seeds", "error")

_REASON_CHARS = 70


# --------------------------------------------------------------------------------------------
# Reading records


def load_records(records_dir: str | Path) -> list[dict[str, Any]]:
    """Read and check every ``*.json`` record in ``records_dir``, in file-name order.

    Each file is checked by :func:`benchmarks.records.read_record`, the one reader that resume,
    tables and ``check`` share (JSON object, ``schema_version`` 1, required keys, status, and the
    fields the tables need), so a record is valid for all of them or for none.

    Args:
        records_dir: a suite's ``records`` folder.

    Returns:
        The records, as parsed JSON objects.

    Raises:
        FileNotFoundError: ``records_dir`` is not a directory.
        ValueError: a record is invalid; the message names the file and the bad value.
    """
    folder = Path(records_dir)
    records: list[dict[str, Any]] = list(rec.load_records(folder))  # type: ignore[arg-type]
    if not records:
        log.warning("no records (*.json) in %s", folder)
    return records


def short_reason(error: Any, limit: int = _REASON_CHARS) -> str:
    """``"<type>: <first line of message>"`` of a record's error, cut to ``limit`` characters."""
    if not isinstance(error, Mapping):
        return "no error recorded" if error is None else str(error)[:limit]
    kind = str(error.get("type") or "").strip()
    lines = str(error.get("message") or "").strip().splitlines()
    message = lines[0].strip() if lines else ""
    text = f"{kind}: {message}" if kind and message else (kind or message or "no message")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------------------------
# One row per cell


def _order(value: str, preferred: Sequence[str]) -> tuple[int, str]:
    return (preferred.index(value), "") if value in preferred else (len(preferred), value)


def natural(text: str) -> tuple[Any, ...]:
    """Sort key that puts ``T4`` before ``T16``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in re.split(r"(\d+)", text))


def row_order(dataset: str, backend: str, label: str) -> tuple[Any, ...]:
    """Sort key of a table row: data set, backend, then label in natural order."""
    return (_order(dataset, DATASET_ORDER), _order(backend, BACKEND_ORDER), natural(label))


def metric_keys(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Metric keys present in ``records``: those of ``keys.METRICS`` in its order, then others."""
    seen: set[str] = set()
    for r in records:
        if isinstance(r.get("metrics"), Mapping):
            seen.update(r["metrics"])
    known = [k for k in K.METRICS if k in seen]
    return known + sorted(seen - set(K.METRICS))


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    x = float(value)
    return x if math.isfinite(x) else math.nan


def cells(records: Sequence[Mapping[str, Any]],
          energy_models: Sequence[str] = ()) -> pd.DataFrame:
    """The tidy frame of ``records``: one row per cell, sorted in table order.

    Args:
        records: checked records (see :func:`load_records`).
        energy_models: energy model names (:func:`benchmarks.metrics.energy.get_energy_model`)
            whose energy per sample and ratio to the matched ANN row are computed here from each
            record's ``op_counts`` (columns :func:`~benchmarks.metrics.keys.energy_key` and
            :func:`~benchmarks.metrics.keys.ratio_key`; ``NaN`` where a record lacks the counts
            a model needs).

    Returns:
        Columns :data:`ID_COLUMNS` (``reason`` is ``""`` for ok cells, else the short error),
        ``metric_config.<field>`` for :data:`CONFIG_FIELDS` (``None`` where not recorded), then
        one float column per key of :func:`metric_keys`, then two per energy model. A failed or
        skipped cell's metrics are ``NaN`` whatever its record holds: a failure is never a
        number.

    Raises:
        ValueError: two records for the same (data set, label, seed), records of one label that
            disagree on adapter name or backend, or a metric key that clashes with a column name.
    """
    keys = metric_keys(records)
    clash = sorted(set(keys) & {*ID_COLUMNS, *(CONFIG_PREFIX + f for f in CONFIG_FIELDS)})
    if clash:
        raise ValueError(f"metric keys {clash} clash with the frame's column names")
    rows = []
    for r in records:
        ok = r["status"] == "ok"
        metrics = r["metrics"] if ok and isinstance(r["metrics"], Mapping) else {}
        config = r.get("metric_config") or {}
        rows.append({
            "dataset": r["dataset"]["name"], "label": r["adapter"]["label"],
            "adapter": r["adapter"]["name"], "backend": r["adapter"]["backend"],
            "family": str(r["adapter"].get("family") or ""), "seed": int(r["seed"]),
            "status": r["status"], "reason": "" if ok else short_reason(r.get("error")),
            "suite": str(r.get("suite", "")), "cell_id": str(r.get("cell_id", "")),
            "config_hash": str(r.get("config_hash", "")),
            **{CONFIG_PREFIX + f: config.get(f) for f in CONFIG_FIELDS},
            **{k: _number(metrics.get(k)) for k in keys},
        })
    energies = table_energies(records, energy_models)
    for row, extra in zip(rows, energies, strict=True):
        row.update(extra)
    added = [k for model in energy_models for k in (K.energy_key(model), K.ratio_key(model))]
    # energy per denoiser call: a column only where some row is a diffusion model's
    added += [K.call_energy_key(m) for m in energy_models
              if any(K.call_energy_key(m) in extra for extra in energies)]
    columns = [*ID_COLUMNS, *(CONFIG_PREFIX + f for f in CONFIG_FIELDS), *keys, *added]
    frame = pd.DataFrame(rows, columns=columns)
    frame[keys + added] = frame[keys + added].astype(float)
    frame["seed"] = frame["seed"].astype(int)
    _check_groups(frame)
    order = sorted(range(len(frame)), key=lambda i: (
        row_order(frame.at[i, "dataset"], frame.at[i, "backend"], frame.at[i, "label"]),
        frame.at[i, "seed"]))
    return frame.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Energy at table time, and the ANN row each row's energy ratio divides by

#: The ANN adapters a row's energy is compared with, by (family, latent kind), in order of
#: preference; ``None`` as the kind: any other kind. The first one the table has an ok row of
#: is the row's baseline.
BASELINE_ADAPTERS: dict[tuple[str, str | None], tuple[str, ...]] = {
    ("vae", "learned-prior"): ("ann-vae-learned-prior", "ann-vae"),
    ("vae", None): ("ann-vae",),
    ("gan", None): ("ann-gan",),
    ("autoencoder", None): ("ann-vae",),
    ("diffusion", None): ("ann-ddpm",),
}


def latent_kind(adapter: str, config: Mapping[str, Any] | None) -> str:
    """What a row's latent (or noise) is drawn from: ``"learned-prior"`` (a prior network over
    the latent: ``config["prior"] == "learned"`` or an ``*-learned-prior`` adapter),
    ``"gaussian"`` (``ann-vae-gaussian``) or ``"bernoulli"`` (fixed i.i.d. Bernoulli)."""
    if (config or {}).get("prior") == "learned" or adapter.endswith("-learned-prior"):
        return "learned-prior"
    if adapter.endswith("-gaussian"):
        return "gaussian"
    return "bernoulli"


def energy_baselines(records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str | None]:
    """The ANN row each ``(dataset, label)`` row's energy ratio divides by (``None``: none).

    Candidates are the ok rows of the same data set whose adapter is one of
    :data:`BASELINE_ADAPTERS` for the row's family and latent kind (:func:`latent_kind`). The
    first candidate whose label carries the row's own variant suffix wins (``surrogate-vae-l128``
    -> ``ann-vae-l128``), else the first whose label is its adapter's name, in preference order;
    an ANN row can be its own baseline (ratio 1).
    """
    rows: dict[tuple[str, str], tuple[str, str, str]] = {}
    ann_ok: dict[str, dict[str, set[str]]] = {}
    for r in records:
        ds, label, adapter = r["dataset"]["name"], r["adapter"]["label"], r["adapter"]["name"]
        family = str(r["adapter"].get("family") or "")
        rows.setdefault((ds, label), (adapter, family,
                                      latent_kind(adapter, r["adapter"].get("config"))))
        if r["status"] == "ok" and r["adapter"].get("backend") == "ann":
            ann_ok.setdefault(ds, {}).setdefault(adapter, set()).add(label)
    out: dict[tuple[str, str], str | None] = {}
    for (ds, label), (adapter, family, kind) in rows.items():
        names = BASELINE_ADAPTERS.get((family, kind)) or BASELINE_ADAPTERS.get((family, None), ())
        present = ann_ok.get(ds, {})
        suffix = label[len(adapter):] if label.startswith(adapter) else ""
        wanted = [(n, n + suffix) for n in names if suffix] + [(n, n) for n in names]
        out[(ds, label)] = next((want for name, want in wanted
                                 if want in present.get(name, set())), None)
    return out


def table_energies(records: Sequence[Mapping[str, Any]],
                   energy_models: Sequence[str]) -> list[dict[str, float]]:
    """Per record, in order: ``{energy_key(m): nJ, ratio_key(m): ratio}`` for every model ``m``.

    The energy comes from the record's ``op_counts``; the ratio divides it by the mean energy of
    the ok cells of its matched ANN row (:func:`energy_baselines`) on the same data set. ``NaN``
    where the record is not ok, lacks the counts the model needs, or has no baseline.

    Raises:
        ValueError: an unknown energy model name (listing the known ones).
    """
    from benchmarks.metrics.energy import energy_ratio, get_energy_model, record_energy_nj

    if not energy_models:
        return [{} for _ in records]
    models = {name: get_energy_model(name) for name in energy_models}
    energy: list[dict[str, float | None]] = [
        {name: record_energy_nj(r, model) if r["status"] == "ok" else None
         for name, model in models.items()} for r in records]
    by_row: dict[tuple[str, str, str], list[float]] = {}
    for r, values in zip(records, energy, strict=True):
        for name, value in values.items():
            if value is not None:
                key = (r["dataset"]["name"], r["adapter"]["label"], name)
                by_row.setdefault(key, []).append(value)
    baselines = energy_baselines(records)
    out = []
    for r, values in zip(records, energy, strict=True):
        ds = r["dataset"]["name"]
        base = baselines.get((ds, r["adapter"]["label"]))
        row: dict[str, float] = {}
        calls = (r.get("metrics") or {}).get(K.DENOISER_CALLS) if r["status"] == "ok" else None
        for name, value in values.items():
            base_values = by_row.get((ds, base, name), []) if base is not None else []
            base_mean = math.fsum(base_values) / len(base_values) if base_values else None
            ratio = energy_ratio(value, base_mean)
            row[K.energy_key(name)] = _number(value)
            row[K.ratio_key(name)] = _number(ratio)
            if calls:  # a diffusion row: its sample's energy is spread over its sampler's calls
                row[K.call_energy_key(name)] = _number(None if value is None else value / calls)
        out.append(row)
    return out


def _check_groups(frame: pd.DataFrame) -> None:
    dup = frame[frame.duplicated(["dataset", "label", "seed"], keep=False)]
    for (dataset, label), group in dup.groupby(["dataset", "label"], sort=True):
        raise ValueError(f"{label} on {dataset} has more than one record for seed(s) "
                         f"{sorted(set(group['seed'].tolist()))}; remove the stale one(s)")
    idents = frame.groupby(["dataset", "label"])[["adapter", "backend"]].nunique()
    for (dataset, label), n in idents.iterrows():
        if n.max() > 1:
            both = frame[(frame["dataset"] == dataset) & (frame["label"] == label)]
            pairs = sorted(set(zip(both["adapter"], both["backend"], strict=True)))
            raise ValueError(f"label {label!r} on {dataset} names different adapters/backends "
                             f"{pairs}; a label must stand for one adapter")


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The metric columns of a :func:`cells` frame, in its order."""
    fixed = {*ID_COLUMNS, *(CONFIG_PREFIX + f for f in CONFIG_FIELDS)}
    return [c for c in frame.columns if c not in fixed]


# --------------------------------------------------------------------------------------------
# Over seeds


def mean(values: pd.Series | Sequence[float]) -> float:
    """Mean of the non-NaN ``values`` (``NaN`` when none), summed exactly (``math.fsum``).

    The exact sum keeps the numbers of the committed tables and baseline to the last bit, which
    pandas' own ``mean``/``std`` (compensated and Welford sums) would not.
    """
    x = [v for v in values if not math.isnan(v)]
    return math.fsum(x) / len(x) if x else math.nan


def std(values: pd.Series | Sequence[float]) -> float:
    """Sample std (``ddof=1``) of the non-NaN ``values``, two-pass and exact (``NaN`` if < 2)."""
    x = [v for v in values if not math.isnan(v)]
    if len(x) < 2:
        return math.nan
    m = math.fsum(x) / len(x)
    return math.sqrt(math.fsum((v - m) ** 2 for v in x) / (len(x) - 1))


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(dataset, label)`` of a :func:`cells` frame, metrics reduced over ok seeds.

    Returns:
        Columns :data:`SUMMARY_ID_COLUMNS` then, per metric, ``<key>_mean``, ``<key>_std``
        (``NaN`` below two values) and ``<key>_n`` (int). ``status`` is ``"ok"`` when any seed
        is ok, else ``"failed"`` (any failed) or ``"skipped"``; ``seeds`` is the tuple of every
        recorded seed; ``error`` the first non-ok seed's ``"<status>: <reason>"`` or ``""``.
        Rows keep the frame's (table) order.
    """
    keys = metric_columns(frame)
    by = ["dataset", "label"]
    groups = frame.groupby(by, sort=False)
    ids = groups.agg(adapter=("adapter", "first"), backend=("backend", "first"),
                     family=("family", "first"), seeds=("seed", tuple),
                     n_records=("seed", "size"))
    ok = frame[frame["status"] == "ok"]
    ids["n_ok"] = ok.groupby(by, sort=False).size().reindex(ids.index, fill_value=0)
    bad = frame[frame["status"] != "ok"]
    ids["error"] = (bad["status"] + ": " + bad["reason"]).groupby(
        [bad["dataset"], bad["label"]], sort=False).first().reindex(ids.index, fill_value="")
    any_failed = (bad["status"] == "failed").groupby(
        [bad["dataset"], bad["label"]], sort=False).any().reindex(ids.index, fill_value=False)
    ids["status"] = np.where(ids["n_ok"] > 0, "ok",
                             np.where(any_failed, "failed", "skipped"))
    out = ids.reset_index()[list(SUMMARY_ID_COLUMNS)]
    if ok.empty:  # nothing to reduce (pandas cannot aggregate an empty frame by functions)
        columns = {f"{key}_{stat}": math.nan if stat != "n" else 0
                   for key in keys for stat in ("mean", "std", "n")}
        return out.assign(**columns)
    stats = ok.groupby(by, sort=False)[keys].agg([mean, std, "count"]).reindex(ids.index)
    columns = {}
    for key in keys:
        columns[f"{key}_mean"] = stats[(key, "mean")].to_numpy(dtype=float)
        columns[f"{key}_std"] = stats[(key, "std")].to_numpy(dtype=float)
        columns[f"{key}_n"] = stats[(key, "count")].fillna(0).to_numpy(dtype=int)
    # one concat, not a column at a time (pandas warns of a fragmented frame beyond ~100)
    return pd.concat([out, pd.DataFrame(columns, index=out.index)], axis=1)


def value(row: Mapping[str, Any], key: str, stat: str = "mean") -> float | None:
    """``row[f"{key}_{stat}"]`` of a :func:`summarize` row, ``None`` where absent or ``NaN``."""
    x = row.get(f"{key}_{stat}")
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def failures(frame: pd.DataFrame, dataset: str, label: str) -> pd.DataFrame:
    """The non-ok cells of one row of a :func:`cells` frame (seed, status, reason), by seed."""
    picked = frame[(frame["dataset"] == dataset) & (frame["label"] == label)
                   & (frame["status"] != "ok")]
    return picked[["seed", "status", "reason"]]


# --------------------------------------------------------------------------------------------
# Rank agreement of two scores of the same rows


@dataclass(frozen=True)
class RankAgreement:
    """How alike two rankings of the same rows are (see :func:`rank_agreement`).

    Attributes:
        n: rows with a value on both sides; the others take no part.
        spearman: Spearman's rho, Pearson's correlation of the average ranks (``NaN`` where one
            side is all tied).
        kendall: Kendall's tau-b (``NaN`` where one side is all tied).
        moved: ``(row, rank in x, rank in y)`` of the rows whose ranks differ by more than
            ``places``, in the order of ``x``'s ranks (rank 1 is the smallest value).
        places: the largest rank difference that is not a move.
    """

    n: int
    spearman: float
    kendall: float
    moved: tuple[tuple[Hashable, float, float], ...]
    places: int


def _paired(x: pd.Series, y: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``x`` and ``y`` on the rows where both have a finite value, in ``x``'s order.

    Raises:
        TypeError: a side is not a numeric ``pandas.Series``.
        ValueError: a side names a row twice.
    """
    for name, side in (("x", x), ("y", y)):
        if not isinstance(side, pd.Series) or not pd.api.types.is_numeric_dtype(side.dtype):
            kind = side.dtype if isinstance(side, pd.Series) else type(side).__name__
            raise TypeError(f"{name} must be a numeric pandas Series indexed by row, got {kind}")
        twice = side.index[side.index.duplicated()].unique().tolist()
        if twice:
            raise ValueError(f"{name} names rows {twice} more than once; each row must be "
                             f"named once")
    a = x.astype(float)
    b = y.astype(float).reindex(a.index)
    both = np.isfinite(a.to_numpy()) & np.isfinite(b.to_numpy())
    return a[both], b[both]


def ranks(values: pd.Series) -> pd.Series:
    """Ranks of ``values``, 1 for the smallest; tied values share their average rank."""
    return values.rank(method="average", ascending=True)


def spearman(x: pd.Series, y: pd.Series) -> float:
    """Spearman's rho of two scores of the same rows (rows named by the index).

    Pearson's correlation of the average ranks (:func:`ranks`) over the rows where both are
    finite, which handles ties as ``scipy.stats.spearmanr`` does. ``NaN`` below two such rows
    or where one side is all tied.
    """
    a, b = _paired(x, y)
    ra, rb = ranks(a).to_numpy() - (len(a) + 1) / 2, ranks(b).to_numpy() - (len(b) + 1) / 2
    denominator = math.sqrt(math.fsum(ra * ra) * math.fsum(rb * rb))
    return math.fsum(ra * rb) / denominator if denominator > 0 else math.nan


def kendall(x: pd.Series, y: pd.Series) -> float:
    """Kendall's tau-b of two scores of the same rows (rows named by the index).

    ``(C - D) / sqrt((P - Tx) (P - Ty))`` over the ``P`` pairs of rows where both are finite:
    ``C`` pairs ordered alike on both sides, ``D`` ordered oppositely, ``Tx`` and ``Ty`` pairs
    tied in ``x`` and in ``y`` (a pair tied in both counts in both). ``NaN`` below two such rows
    or where one side is all tied.
    """
    a, b = _paired(x, y)
    upper = np.triu_indices(len(a), 1)
    sa = np.sign(np.subtract.outer(a.to_numpy(), a.to_numpy()))[upper]
    sb = np.sign(np.subtract.outer(b.to_numpy(), b.to_numpy()))[upper]
    pairs = len(sa)
    denominator = math.sqrt(float(pairs - np.count_nonzero(sa == 0))
                            * float(pairs - np.count_nonzero(sb == 0)))
    return float(np.sum(sa * sb)) / denominator if denominator > 0 else math.nan


def moved_rows(x: pd.Series, y: pd.Series,
               places: int = 2) -> tuple[tuple[Hashable, float, float], ...]:
    """Rows whose rank in ``x`` and in ``y`` differ by more than ``places``.

    Ranks (:func:`ranks`, 1 for the smallest value) are taken over the rows where both are
    finite, the rows the correlations compare.

    Returns:
        ``(row, rank in x, rank in y)`` per moved row, in the order of the ranks in ``x``.

    Raises:
        ValueError: ``places`` is not an integer >= 0.
    """
    if not isinstance(places, int) or isinstance(places, bool) or places < 0:
        raise ValueError(f"places must be an integer >= 0, got {places!r}")
    a, b = _paired(x, y)
    ra, rb = ranks(a), ranks(b)
    order = sorted(range(len(ra)), key=lambda i: (ra.iloc[i], i))
    return tuple((ra.index[i], float(ra.iloc[i]), float(rb.iloc[i])) for i in order
                 if abs(ra.iloc[i] - rb.iloc[i]) > places)


def rank_agreement(x: pd.Series, y: pd.Series, *, places: int = 2,
                   min_rows: int = 3) -> RankAgreement | None:
    """Spearman's rho, Kendall's tau-b and the moved rows of two scores of the same rows.

    Args:
        x, y: a score per row, indexed by the row's name (e.g. the rows' mean FID in two feature
            spaces). Rows missing from a side, or ``NaN`` / infinite there, take no part.
        places: a row whose two ranks differ by more than this is moved (:func:`moved_rows`).
        min_rows: fewer rows with both values give ``None``: a correlation of two rows says
            nothing.

    Raises:
        TypeError: a side is not a numeric ``pandas.Series``.
        ValueError: a side names a row twice, ``places`` is not an integer >= 0, or
            ``min_rows`` is not an integer >= 2.
    """
    if not isinstance(min_rows, int) or isinstance(min_rows, bool) or min_rows < 2:
        raise ValueError(f"min_rows must be an integer >= 2, got {min_rows!r}")
    moved = moved_rows(x, y, places)
    n = len(_paired(x, y)[0])
    if n < min_rows:
        return None
    return RankAgreement(n=n, spearman=spearman(x, y), kendall=kendall(x, y), moved=moved,
                         places=places)
