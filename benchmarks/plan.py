"""What a run will do, decided before anything runs: its cells, their configs and hashes, and
which of them a resume skips.

A cell is one suite entry on one data set with one seed. Its *config hash* covers everything that
determines its result (adapter, full config, data set, seed, budgets, energy model, feature
network version, record schema); a cell whose record exists with the same hash, ok or skipped, is
not run again. Nothing here trains, measures or writes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import adapters
from benchmarks import records as rec
from benchmarks.suites import Entry, Suite

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    """One suite entry on one data set with one seed."""

    entry: Entry
    dataset: str
    seed: int

    @property
    def cell_id(self) -> str:
        return rec.cell_id(self.entry.label, self.dataset, self.seed)


@dataclass(frozen=True)
class Planned:
    """One cell of a run: its full config and hash, and its record if one already holds them."""

    cell: Cell
    config: dict[str, Any]
    chash: str
    recorded: rec.Record | None


def select_cells(suite: Suite, *, labels: Sequence[str] | None = None,
                 datasets: Sequence[str] | None = None,
                 seeds: Sequence[int] | None = None) -> list[Cell]:
    """The suite's cells, narrowed to the given entry labels/adapter names, data sets and seeds.

    A name that is an entry's label selects that entry only (``surrogate-vae`` in the full suite,
    not also its ``surrogate-vae-conv`` row); a name that is only an adapter's selects every entry
    of that adapter (``surrogate-vae`` in the sweep suite, whose rows are all labelled).

    Raises:
        ValueError: a requested label, data set or seed is not in the suite (lists the allowed).
    """
    entries = list(suite.entries)
    if labels:
        known = {e.label for e in entries} | {e.adapter for e in entries}
        bad = [x for x in labels if x not in known]
        if bad:
            raise ValueError(f"suite {suite.name!r} has no entry or adapter {bad}; "
                             f"entries: {[e.label for e in entries]}")
        own = {e.label for e in entries}
        entries = [e for e in entries
                   if e.label in labels or (e.adapter in labels and e.adapter not in own)]
    ds = list(suite.datasets)
    if datasets:
        bad = [d for d in datasets if d not in suite.datasets]
        if bad:
            raise ValueError(f"suite {suite.name!r} does not cover dataset(s) {bad}; "
                             f"allowed: {list(suite.datasets)}")
        ds = [d for d in suite.datasets if d in datasets]
    all_seeds = sorted(set(suite.seeds).union(*(e.seeds or () for e in entries)))
    sd = all_seeds
    if seeds is not None and len(seeds):
        bad = [s for s in seeds if s not in all_seeds]
        if bad:
            raise ValueError(f"suite {suite.name!r} has no seed(s) {bad}; allowed: {all_seeds}")
        sd = [s for s in all_seeds if s in seeds]
    return [Cell(e, d, s) for d in ds for e in entries for s in sd
            if s in (e.seeds if e.seeds is not None else suite.seeds)]


def full_config(entry: Entry) -> dict[str, Any]:
    """The entry's config with the adapter's defaults filled in, less the quiet fields at their
    defaults (:func:`adapters.base.config_dict`); as given, where the adapter's module cannot be
    imported here."""
    try:
        cls = adapters.get_adapter_class(entry.adapter)
    except ImportError:
        return dict(entry.config)
    return adapters.base.config_dict(adapters.base.config_from_dict(cls.Config, entry.config))


def cell_hash(suite: Suite, cell: Cell, config: dict[str, Any]) -> str:
    """The config hash of ``cell`` with full config ``config`` (see the module docstring)."""
    from benchmarks.metrics.features import FEATURE_NET_VERSION

    return rec.config_hash({
        "adapter": cell.entry.adapter, "config": config, "dataset": cell.dataset,
        "seed": cell.seed, "n_train": suite.n_train, "n_eval": suite.n_eval,
        "n_recon": suite.n_recon, "energy_model": suite.energy_model,
        "feature_net": FEATURE_NET_VERSION, "schema": rec.SCHEMA_VERSION,
    })


def existing_record(path: Path, chash: str, extractor: str | None = None) -> rec.Record | None:
    """The record at ``path`` if it holds config hash ``chash`` and status ok or skipped (a
    failed cell is tried again); ``None`` otherwise, also for an unreadable record.

    Args:
        extractor: the weights digest of the feature network this run would measure with, when
            known: an ok record measured with another one is run again (its FIDs answer for
            another extractor).
    """
    if not path.is_file():
        return None
    try:
        old = rec.read_record(path)
    except ValueError as err:
        log.warning("re-running %s: %s", path.name, err)
        return None
    if old["config_hash"] != chash or old["status"] not in ("ok", "skipped"):
        return None
    theirs = (old.get("metric_config") or {}).get("feature_net_weights_sha256")
    if extractor and theirs and old["status"] == "ok" and theirs != extractor:
        log.warning("re-running %s: it was measured with another feature network (weights "
                    "sha256 %s…, the cached one is %s…)", path.name, theirs[:12], extractor[:12])
        return None
    return old


def plan_cell(suite: Suite, cell: Cell, results_dir: Path, *, force: bool = False,
              extractors: Mapping[str, str | None] | None = None) -> Planned:
    """``cell`` with its full config and hash and, unless ``force``, its existing record of the
    same hash under ``results_dir`` (measured with ``extractors[dataset]``, where known: see
    :func:`existing_record`)."""
    config = full_config(cell.entry)
    chash = cell_hash(suite, cell, config)
    old = None if force else existing_record(
        rec.record_path(results_dir, suite.name, cell.cell_id), chash,
        (extractors or {}).get(cell.dataset))
    return Planned(cell, config, chash, old)


def plan(suite: Suite, cells: Sequence[Cell], results_dir: Path, force: bool = False,
         extractors: Mapping[str, str | None] | None = None) -> list[Planned]:
    """Every cell with its config hash and, unless ``force``, its existing ok/skipped record of
    the same hash and feature network (the resume rule every executor follows).

    Args:
        extractors: data set -> weights digest of the feature network the run will measure with
            (:func:`benchmarks.metrics.features.cached_weights_sha256`), where known.
    """
    return [plan_cell(suite, cell, results_dir, force=force, extractors=extractors)
            for cell in cells]


def pending_cells(suite: Suite, cells: Sequence[Cell], results_dir: Path) -> list[Cell]:
    """The cells of ``cells`` that a run would execute: those without a record of the same config
    hash (ok or skipped) under ``results_dir``."""
    return [p.cell for p in plan(suite, cells, results_dir) if p.recorded is None]
