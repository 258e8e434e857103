"""Runs a suite's cells (entry x dataset x seed) and writes one record per cell.

A cell trains one adapter, saves the model (outside git), generates ``n_eval`` samples from
Bernoulli noise, reconstructs test images where it can, and measures every metric. A failing cell
is recorded with its error and the others go on; a cell whose record exists with the same config
hash is skipped (resume). Records are written atomically, so Ctrl-C leaves no half-written file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

import adapters
from adapters.base import OpCounts
from benchmarks import data as datamod
from benchmarks import records as rec
from benchmarks.metrics import keys as K
from benchmarks.suites import Entry, Suite
from benchmarks.workers import REPO_ROOT, run_module

log = logging.getLogger(__name__)

DEFAULT_RESULTS = REPO_ROOT / "results"
_SAMPLE_GRID = 100  # samples shown per cell in its grid figure
_BASELINE_OF_FAMILY = {"vae": "ann-vae", "gan": "ann-gan", "autoencoder": "ann-vae"}
#: Whether a cell shows its training progress bar: off in ``--jobs`` workers (and the isolated
#: backends' processes they start), whose bars would interleave; the parent shows the cells done
#: and running instead.
CELL_PROGRESS = os.environ.get("SPIKEGENBENCH_CELL_PROGRESS", "1") != "0"


@dataclass(frozen=True)
class Cell:
    entry: Entry
    dataset: str
    seed: int

    @property
    def cell_id(self) -> str:
        return rec.cell_id(self.entry.label, self.dataset, self.seed)


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


def validate_entries(suite: Suite) -> None:
    """Check every entry's config against its adapter's Config, where the backend is installed."""
    for entry in suite.entries:
        try:
            cls = adapters.get_adapter_class(entry.adapter)
        except ImportError:
            continue  # checked when the cell runs, in the environment that has the backend
        try:
            adapters.base.config_from_dict(cls.Config, entry.config)
        except (TypeError, ValueError) as err:
            raise ValueError(f"bad suite file {suite.path}: entry {entry.label!r}: {err}") from err


def full_config(entry: Entry) -> dict[str, Any]:
    try:
        cls = adapters.get_adapter_class(entry.adapter)
    except ImportError:
        return dict(entry.config)
    return dataclasses.asdict(adapters.base.config_from_dict(cls.Config, entry.config))


def cell_hash(suite: Suite, cell: Cell, config: dict[str, Any]) -> str:
    from benchmarks.metrics.features import FEATURE_NET_VERSION

    return rec.config_hash({
        "adapter": cell.entry.adapter, "config": config, "dataset": cell.dataset,
        "seed": cell.seed, "n_train": suite.n_train, "n_eval": suite.n_eval,
        "n_recon": suite.n_recon, "energy_model": suite.energy_model,
        "feature_net": FEATURE_NET_VERSION, "schema": rec.SCHEMA_VERSION,
    })


class DatasetContext:
    """Data, feature network and scale anchors of one data set, prepared once per run."""

    def __init__(self, name: str, suite: Suite) -> None:
        from benchmarks.metrics.features import get_feature_net
        from benchmarks.metrics.fidelity import anchors

        self.name = name
        train, test = datamod.load(name, "train"), datamod.load(name, "test")
        self.checksum = datamod.checksum(name)
        n_train = suite.n_train or len(train.images)
        self.train = train.images[:n_train]
        self.test = test.images
        self.eval_ref = test.images[: suite.n_eval]
        self.recon_ref = test.images[: suite.n_recon]
        self.feature_net, self.feature_info = get_feature_net(name, train=train, test=test)
        self.anchors = anchors(train.images, test.images, feature_net=self.feature_net,
                               info=self.feature_info, n=min(suite.n_eval, len(test.images)), seed=0)


def _baseline_energy(suite: Suite, family: str, energy_model: Any) -> float | None:
    """Energy per sample of the suite's ANN baseline of ``family``, measured on a real forward run.

    Dense MAC counts do not depend on the weights, so an untrained baseline of the suite's config
    gives the same counts as the trained one.
    """
    from benchmarks.metrics.energy import energy_nj

    name = _BASELINE_OF_FAMILY.get(family)
    entry = next((e for e in suite.entries if e.adapter == name), None)
    config = entry.config if entry else {}
    baseline = adapters.create(name, config) if name else None
    if baseline is None:
        return None
    baseline.sample(8, seed=0)
    return energy_nj(baseline.op_counts(), energy_model)


def _tqdm_progress(desc: str) -> tuple[Any, Any]:
    bar = tqdm(desc=desc, unit="step", leave=False, dynamic_ncols=True, disable=not CELL_PROGRESS)

    def progress(done: int, total: int, postfix: dict[str, float]) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        if done == total or done % 10 == 0:
            bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
            bar.refresh()

    return bar, progress


def _model_path(results_dir: Path, suite: Suite, cell: Cell) -> Path:
    return Path(results_dir) / suite.name / "models" / f"{cell.cell_id}.pt"


def filter_grid_path(model_path: Path) -> Path:
    """``results/<suite>/figures/filters/<cell>.png`` beside ``results/<suite>/models/<cell>.pt``."""
    return Path(model_path).parent.parent / "figures" / "filters" / f"{Path(model_path).stem}.png"


@dataclass
class CellOutputs:
    """What training and generating one cell produced, before any metric is computed.

    Everything here is tensors and plain values, so a worker process can hand it over in a file
    that loads with ``torch.load(..., weights_only=True)``.
    """

    family: str
    backend: str
    capabilities: list[str]
    fit: dict[str, Any]
    train_seconds: float
    sample_seconds: float
    peak_mb: float | None
    samples: Tensor
    counts: dict[str, Any]
    recon: Tensor | None = None
    recon_counts: dict[str, Any] | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def produce(adapter: str, config: dict[str, Any], *, train: Tensor, recon_ref: Tensor | None,
            n_eval: int, seed: int, model_path: Path, desc: str = "fit",
            twins: Sequence[dict[str, Any]] = ()) -> CellOutputs:
    """Train one adapter, save it, sample ``n_eval`` images and reconstruct ``recon_ref``.

    Imports nothing of ``benchmarks.metrics`` (so it also runs in an isolated backend's
    environment, which lacks torch-fidelity).

    Args:
        twins: trained models of this run on the same data and seed (see :func:`trained_twins`);
            if one is the adapter's :meth:`~adapters.base.GenerativeAdapter.trained_twin`, the
            adapter starts from it instead of training it again. Its recorded training time is
            added to this cell's, so the reported cost does not depend on the reuse.
    """
    model = adapters.create(adapter, config)
    twin = _matching_twin(model, twins)
    if twin is not None:
        model.start_from(Path(twin["model_path"]), twin["fit"], twin["cell_id"])
    bar, progress = _tqdm_progress(desc)
    t0 = time.perf_counter()
    try:
        report = model.fit(train, seed=seed, progress=progress)
    finally:
        bar.close()
    train_seconds = time.perf_counter() - t0 + float(report.extra.get("twin_train_seconds", 0.0))
    model.save(model_path)
    filter_grid = getattr(model, "save_filter_grid", None)
    if filter_grid is not None:  # what a local learning rule learned, for the reader to see
        filter_grid(filter_grid_path(model_path))
    t1 = time.perf_counter()
    samples = model.sample(n_eval, seed=seed)
    sample_seconds = time.perf_counter() - t1
    counts = model.op_counts()
    if tuple(samples.shape) != (n_eval, 1, 28, 28) or samples.dtype != torch.float32:
        raise ValueError(f"{adapter}.sample returned {tuple(samples.shape)} {samples.dtype}; "
                         f"expected ({n_eval}, 1, 28, 28) float32")
    if float(samples.min()) < 0 or float(samples.max()) > 1:
        raise ValueError(f"{adapter}.sample returned values outside [0, 1]")
    extra = {f"sample_{k}": v for k, v in model.extra_outputs().items()}
    out = CellOutputs(family=model.family, backend=model.backend,
                      capabilities=sorted(model.capabilities), fit=report.to_dict(),
                      train_seconds=train_seconds, sample_seconds=sample_seconds, peak_mb=None,
                      samples=samples, counts=counts.to_dict(), extra=extra)
    if "reconstruct" in model.capabilities and recon_ref is not None and len(recon_ref):
        out.recon = model.reconstruct(recon_ref)
        out.recon_counts = model.op_counts().to_dict()
        out.extra.update({f"recon_{k}": v for k, v in model.extra_outputs().items()})
    return out


def _plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples become lists), for comparing configs."""
    return json.loads(json.dumps(value))


def _matching_twin(model: Any, twins: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    wanted = model.trained_twin()
    if wanted is None:
        return None
    name, config = wanted
    return next((t for t in twins if t["adapter"] == name
                 and _plain(t["config"]) == _plain(config)), None)


def trained_twins(suite: Suite, cell: Cell, results_dir: Path) -> list[dict[str, Any]]:
    """The models this suite already trained on ``cell``'s data set and seed: one entry per ok
    record of another entry whose saved model exists, with its adapter, full config, model path,
    ``fit`` and cell id. A conversion cell starts from its ANN among them (same config: the same
    weights bit for bit), so the suite does not train that ANN twice."""
    out = []
    for entry in suite.entries:
        if entry.label == cell.entry.label:
            continue
        other = Cell(entry, cell.dataset, cell.seed)
        model = _model_path(results_dir, suite, other)
        if not model.is_file():
            continue
        record = existing_record(rec.record_path(results_dir, suite.name, other.cell_id),
                                 cell_hash(suite, other, full_config(entry)))
        if record is not None and record["status"] == "ok" and record.get("fit"):
            out.append({"adapter": record["adapter"]["name"],
                        "config": record["adapter"]["config"], "model_path": str(model.resolve()),
                        "fit": {k: record["fit"][k] for k in
                                ("epochs", "steps", "train_seconds", "history")},
                        "cell_id": other.cell_id})
    return out


def _produce_here(suite: Suite, cell: Cell, ctx: Any, results_dir: Path,
                  twins: Sequence[dict[str, Any]]) -> CellOutputs:
    from benchmarks.metrics.cost import PeakMemory

    with PeakMemory() as mem:
        out = produce(cell.entry.adapter, cell.entry.config, train=ctx.train,
                      recon_ref=ctx.recon_ref if suite.n_recon else None, n_eval=suite.n_eval,
                      seed=cell.seed, model_path=_model_path(results_dir, suite, cell),
                      desc=f"fit {cell.cell_id}", twins=twins)
    out.peak_mb = mem.peak_mb
    return out


def measure(suite: Suite, cell: Cell, ctx: Any, out: CellOutputs, results_dir: Path,
            chash: str, config: dict[str, Any], started: str) -> dict[str, Any]:
    """Every metric of one cell from its outputs; returns its record (status ok)."""
    from benchmarks.figures import sample_grid
    from benchmarks.metrics.energy import energy_nj, get_energy_model
    from benchmarks.metrics.features import classes_covered
    from benchmarks.metrics.fidelity import image_quality, inception_fid
    from benchmarks.metrics.reconstruction import reconstruction_errors

    energy_model = get_energy_model(suite.energy_model)
    metrics: dict[str, float | None] = {k: None for k in K.METRICS}
    counts = OpCounts.from_dict(out.counts)
    t_eval = time.perf_counter()
    metrics.update(image_quality(out.samples, ctx.eval_ref, feature_net=ctx.feature_net,
                                 info=ctx.feature_info))
    metrics[K.FID_INCEPTION] = inception_fid(out.samples, ctx.eval_ref, weights_path=None)
    metrics[K.CLASSES_COVERED] = float(classes_covered(out.samples, ctx.feature_net))
    bound = out.extra.get("sample_ann_samples")
    if isinstance(bound, Tensor) and bound.shape == out.samples.shape:
        # The conversion's upper bound: its own ANN on the same noise.
        metrics[K.FID_ANN_BOUND] = image_quality(bound, ctx.eval_ref, feature_net=ctx.feature_net,
                                                 info=ctx.feature_info)[K.FID]
    if out.recon is not None:
        metrics.update(reconstruction_errors(out.recon, ctx.recon_ref))
        metrics[K.RECON_SYNAPTIC_OPS] = out.recon_counts["synaptic_ops"]
        metrics[K.RECON_MACS] = out.recon_counts["macs"]
    eval_seconds = time.perf_counter() - t_eval
    energy = energy_nj(counts, energy_model)
    base = _baseline_energy(suite, out.family, energy_model)
    metrics.update({
        K.FID_DATA_FLOOR: ctx.anchors[K.FID_DATA_FLOOR],
        K.FID_NOISE_CEILING: ctx.anchors[K.FID_NOISE_CEILING],
        K.TIMESTEPS: float(counts.timesteps),
        K.SPIKES: counts.spikes,
        K.FIRING_RATE: counts.firing_rate,
        K.SYNAPTIC_OPS: counts.synaptic_ops,
        K.MACS: counts.macs,
        K.NEURON_UPDATES: counts.neuron_updates,
        K.ENERGY_NJ: energy,
        K.ENERGY_RATIO: (energy / base) if base else None,
        K.TRAIN_SECONDS: out.train_seconds,
        K.SAMPLE_THROUGHPUT: suite.n_eval / out.sample_seconds if out.sample_seconds > 0 else None,
        K.PEAK_MEMORY_MB: out.peak_mb,
        K.FEATURE_NET_ACCURACY: ctx.feature_info.test_accuracy,
    })
    grid_rel = Path(suite.name) / "figures" / "samples" / f"{cell.cell_id}.png"
    sample_grid(out.samples[:_SAMPLE_GRID], Path(results_dir) / grid_rel,
                title=f"{cell.entry.label} · {cell.dataset} · seed {cell.seed}")
    scalars = {k: float(v) for k, v in out.extra.items() if isinstance(v, int | float)}
    fit = {**out.fit, "extra": {**(out.fit.get("extra") or {}), **scalars}}
    return make_record(suite, cell, chash, config, status="ok", error=None, metrics=metrics,
                   metric_config=_metric_config(suite, ctx, energy_model), op_counts=out.counts,
                   fit=fit,
                   timing={"train_seconds": out.train_seconds, "eval_seconds": eval_seconds,
                           "sample_seconds": out.sample_seconds, "started": started,
                           "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")},
                   artifacts={"samples": str(Path("results") / grid_rel)},
                   dataset_checksum=ctx.checksum, family=out.family, backend=out.backend)


def run_cell(suite: Suite, cell: Cell, ctx: Any, results_dir: Path, chash: str,
             config: dict[str, Any], twins: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Train, evaluate and measure one cell in this process; returns its record.

    ``twins``: trained models the cell may start from (see :func:`trained_twins`)."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out = _produce_here(suite, cell, ctx, results_dir, twins)
    return measure(suite, cell, ctx, out, results_dir, chash, config, started)


def _metric_config(suite: Suite, ctx: DatasetContext, energy_model: Any) -> dict[str, Any]:
    return {
        "feature_extractor": ctx.feature_info.name,
        "feature_net_test_accuracy": ctx.feature_info.test_accuracy,
        "n_samples": suite.n_eval,
        "n_recon": suite.n_recon,
        "energy_model": f"{energy_model.name}@{energy_model.version}",
        "energy_model_desc": (f"{energy_model.e_mac_pj} pJ/MAC, {energy_model.e_ac_pj} pJ/AC "
                              f"({energy_model.reference})"),
    }


def make_record(suite: Suite, cell: Cell, chash: str, config: dict[str, Any], *, status: str,
            error: dict[str, str] | None, metrics: dict[str, Any] | None = None,
            metric_config: dict[str, Any] | None = None, op_counts: dict[str, Any] | None = None,
            fit: dict[str, Any] | None = None, timing: dict[str, Any] | None = None,
            artifacts: dict[str, str] | None = None, dataset_checksum: str | None = None,
            family: str | None = None, backend: str | None = None) -> dict[str, Any]:
    if family is None or backend is None:
        try:
            cls = adapters.get_adapter_class(cell.entry.adapter)
            backend, family = backend or cls.backend, family or cls.family
        except ImportError:
            backend = backend or adapters.backend_of(cell.entry.adapter)
            family = family or cell.entry.adapter.rsplit("-", 1)[-1]
    return {
        "schema_version": rec.SCHEMA_VERSION,
        "suite": suite.name,
        "cell_id": cell.cell_id,
        "config_hash": chash,
        "adapter": {"label": cell.entry.label, "name": cell.entry.adapter, "backend": backend,
                    "family": family, "config": config},
        "dataset": {"name": cell.dataset, "n_train": suite.n_train or None, "n_eval": suite.n_eval,
                    "n_recon": suite.n_recon, "checksum": dataset_checksum},
        "seed": cell.seed,
        "status": status,
        "error": error,
        "metrics": metrics or {},
        "metric_config": metric_config or {},
        "op_counts": op_counts,
        "fit": fit,
        "timing": timing or {},
        "env": rec.environment(torch.get_num_threads()),
        "artifacts": artifacts or {},
    }


def existing_record(path: Path, chash: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        old = rec.read_record(path)
    except ValueError as err:
        log.warning("re-running %s: %s", path.name, err)
        return None
    if old["config_hash"] == chash and old["status"] in ("ok", "skipped"):
        return old
    return None


@dataclass(frozen=True)
class Planned:
    """One cell of a run: its full config and hash, and its record if one already holds them."""

    cell: Cell
    config: dict[str, Any]
    chash: str
    recorded: dict[str, Any] | None


def plan(suite: Suite, cells: Sequence[Cell], results_dir: Path,
         force: bool = False) -> list[Planned]:
    """Every cell with its config hash and, unless ``force``, its existing ok/skipped record of
    the same hash (the resume rule every executor follows)."""
    out = []
    for cell in cells:
        config = full_config(cell.entry)
        chash = cell_hash(suite, cell, config)
        old = None if force else existing_record(
            rec.record_path(results_dir, suite.name, cell.cell_id), chash)
        out.append(Planned(cell, config, chash, old))
    return out


def pending_cells(suite: Suite, cells: Sequence[Cell], results_dir: Path) -> list[Cell]:
    """The cells of ``cells`` that a run would execute: those without a record of the same config
    hash (ok or skipped) under ``results_dir``."""
    return [p.cell for p in plan(suite, cells, results_dir) if p.recorded is None]


def run_suite(suite: Suite, cells: Sequence[Cell], *, results_dir: Path = DEFAULT_RESULTS,
              force: bool = False,
              context_factory: Callable[[str, Suite], Any] | None = None) -> list[dict[str, Any]]:
    """Run ``cells`` of ``suite`` locally, one after another; returns their records.

    Cells already recorded with the same config hash are skipped unless ``force``.

    Args:
        context_factory: ``(dataset, suite) -> context`` with the attributes of
            :class:`DatasetContext`; tests pass one holding tiny synthetic data.
    """
    context_factory = context_factory or DatasetContext
    torch.set_num_threads(suite.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(suite.threads))
    validate_entries(suite)
    out: list[dict[str, Any]] = []
    contexts: dict[str, Any] = {}
    bar = tqdm(plan(suite, cells, results_dir, force), desc=f"suite {suite.name}", unit="cell",
               dynamic_ncols=True)
    for p in bar:
        cell = p.cell
        bar.set_postfix_str(cell.cell_id)
        if p.recorded is not None:
            log.info("skip %s: recorded with the same config", cell.cell_id)
            out.append(p.recorded)
            continue
        path = rec.record_path(results_dir, suite.name, cell.cell_id)
        out.append(execute_cell(suite, cell, p.chash, p.config, contexts, results_dir,
                                context_factory))
        out[-1]["env"]["jobs"] = 1  # cells running beside it (its timings depend on it)
        rec.write_json_atomic(path, out[-1])
        log.info("%s: %s", cell.cell_id, out[-1]["status"])
    return out


def isolated_python(backend: str) -> Path | None:
    """The Python of an isolated backend's own environment, if one exists.

    Looked up in order: ``$SPIKEGENBENCH_<BACKEND>_PYTHON``, ``.tox/<env>/bin/python``,
    ``.venv-<env>/bin/python`` (relative to the repository).
    """
    env = adapters.ISOLATED_BACKENDS.get(backend)
    if env is None:
        return None
    override = os.environ.get(f"SPIKEGENBENCH_{backend.upper()}_PYTHON")
    candidates = [Path(override)] if override else []
    candidates += [REPO_ROOT / ".tox" / env / "bin" / "python",
                   REPO_ROOT / f".venv-{env}" / "bin" / "python"]
    return next((c for c in candidates if c.is_file()), None)


def _produce_isolated(python: Path, suite: Suite, cell: Cell, results_dir: Path,
                      twins: Sequence[dict[str, Any]]) -> CellOutputs:
    """Run :func:`produce` for ``cell`` under ``python`` and read its outputs back."""
    import subprocess
    import tempfile

    from adapters.io import load_weights

    with tempfile.TemporaryDirectory(prefix="sgb-cell-") as tmp:
        request = Path(tmp) / "request.json"
        out_file = Path(tmp) / "out.pt"
        request.write_text(json.dumps({
            "adapter": cell.entry.adapter, "config": cell.entry.config, "cell_id": cell.cell_id,
            "dataset": cell.dataset, "seed": cell.seed, "n_train": suite.n_train,
            "n_eval": suite.n_eval, "n_recon": suite.n_recon, "threads": suite.threads,
            "model_path": str(_model_path(results_dir, suite, cell).resolve()),
            "twins": list(twins),
        }))
        proc = run_module(python, "benchmarks.cell_worker", [request, out_file],
                          env={"OMP_NUM_THREADS": str(suite.threads)}, stdout=subprocess.PIPE,
                          text=True)
        if proc.returncode != 0 or not out_file.is_file():
            raise RuntimeError(f"{cell.cell_id}: the {python} worker exited with code "
                               f"{proc.returncode} (its log is above on stderr)")
        blob = load_weights(out_file)
    return CellOutputs(**blob)


def execute_cell(suite: Suite, cell: Cell, chash: str, config: dict[str, Any],
                 contexts: dict[str, Any], results_dir: Path,
                 context_factory: Callable[[str, Suite], Any],
                 twins_from: Path | None = None) -> dict[str, Any]:
    """Run one cell wherever its backend lives (here, or its isolated environment), turning any
    error into a ``failed`` record and a missing backend into a ``skipped`` one.

    ``twins_from``: the results folder whose trained models the cell may start from (see
    :func:`trained_twins`), when it writes its own files elsewhere (a Ray task's scratch folder);
    ``results_dir`` when ``None``."""
    backend = adapters.backend_of(cell.entry.adapter)
    missing = adapters.missing_libraries(cell.entry.adapter)
    python = isolated_python(backend) if missing else None
    if missing and python is None:
        env = adapters.ISOLATED_BACKENDS.get(backend)
        how = (f"create its environment with: tox -e {env} (or set "
               f"SPIKEGENBENCH_{backend.upper()}_PYTHON)") if env else \
            adapters.INSTALL_HINTS.get(missing[0], f"pip install {missing[0]}")
        return make_record(suite, cell, chash, config, status="skipped",
                       error={"type": "ImportError", "traceback": "",
                              "message": f"{cell.entry.adapter} needs {missing}, not installed "
                                         f"here; {how}"})
    try:
        if cell.dataset not in contexts:
            contexts[cell.dataset] = context_factory(cell.dataset, suite)
        ctx = contexts[cell.dataset]
        twins = trained_twins(suite, cell, twins_from or results_dir)
        if python is not None:
            started = datetime.now(timezone.utc).isoformat(timespec="seconds")
            out = _produce_isolated(python, suite, cell, results_dir, twins)
            return measure(suite, cell, ctx, out, results_dir, chash, config, started)
        return run_cell(suite, cell, ctx, results_dir, chash, config, twins)
    except Exception as err:  # a failing cell is recorded, and the others go on
        log.error("%s failed: %s: %s", cell.cell_id, type(err).__name__, err)
        return make_record(suite, cell, chash, config, status="failed",
                       error={"type": type(err).__name__, "message": str(err),
                              "traceback": traceback.format_exc(limit=20)})


def iter_records(results_dir: Path, suite: str) -> Iterator[dict[str, Any]]:
    for path in sorted((Path(results_dir) / suite / "records").glob("*.json")):
        yield rec.read_record(path)
