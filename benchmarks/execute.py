"""Executes one cell: train, save, sample, reconstruct, measure, and return its record.

This is the only code that runs a cell, and the only thing the executors call: the sequential
executor in its own process, a ``--jobs`` worker process, a Ray task, and (for its training and
generating half, :func:`produce`) an isolated backend's process, :mod:`benchmarks.cell_worker`.
A cell that raises becomes a ``failed`` record and one whose backend is not installed a
``skipped`` record, so the run goes on. Nothing here plans a run or writes a record: the driver
(:mod:`benchmarks.driver`) does, as each cell finishes.

A process that runs cells first calls :func:`apply_threads` with the suite's thread count.

**Device.** A cell runs on the device its runner was given (the suite's ``device`` or
``run --device``, resolved by :func:`adapters.device.resolve_device`; a Ray task's GPU): the
adapter is placed there before it trains (:func:`adapters.device.place`; an adapter that cannot
run there runs on the CPU), the samples' features are extracted there, and the record's ``env``
says where the cell ran, on what, and why not where it was asked to
(:func:`adapters.device.environment`). The training set moves to the device once per cell
(inside ``fit``); samples come back to the CPU for the metrics.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

import adapters
from adapters.base import OpCounts, config_dict, config_from_dict
from adapters.device import Placement, place, resolve_device
from benchmarks import data as datamod
from benchmarks import records as rec
from benchmarks.plan import Cell, Planned, plan_cell
from benchmarks.suites import Suite
from benchmarks.workers import REPO_ROOT, run_module

log = logging.getLogger(__name__)

_SAMPLE_GRID = 100  # samples shown per cell in its grid figure
_BASELINE_OF_FAMILY = {"vae": "ann-vae", "gan": "ann-gan", "autoencoder": "ann-vae",
                       "diffusion": "ann-ddpm"}

#: ``(dataset, suite) -> context`` with the attributes of :class:`DatasetContext`.
ContextFactory = Callable[[str, Suite], Any]


def thread_env(threads: int) -> dict[str, str]:
    """The environment variables that fix a process's OpenMP/MKL threads at ``threads``."""
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def apply_threads(threads: int) -> None:
    """Run this process's cells, and the processes it starts, on ``threads`` threads.

    Sets torch's intra-op threads and the OpenMP/MKL variables (read by an isolated backend's
    process at its start). Called once by each process that runs cells; the record's
    ``env.threads`` reads the result back.
    """
    torch.set_num_threads(threads)
    os.environ.update(thread_env(threads))


class DatasetContext:
    """Data, feature network, reference features and scale anchors of one data set, prepared
    once per process and reused by every cell of the data set.

    ``reference`` holds the evaluation reference's features, FID statistics and precision/recall
    radii (:func:`~benchmarks.metrics.fidelity.reference_features`), ``ae_reference`` the same in
    the second feature space (:mod:`benchmarks.metrics.aefeatures`): a cell extracts only its own
    samples' features.

    The feature networks are trained (once per machine, cached) on the CPU with portable kernels
    whatever the suite's device: their weights define every FID, and a network trained on a GPU
    would be another extractor. The reference's features are extracted on the suite's device
    (:attr:`device`); everything kept here is on the CPU, so a context can be shipped to a
    worker without that device.
    """

    def __init__(self, name: str, suite: Suite) -> None:
        from benchmarks.metrics.aefeatures import get_ae_net
        from benchmarks.metrics.features import class_shares, get_feature_net
        from benchmarks.metrics.fidelity import anchors, reference_features

        self.name = name
        self.device = resolve_device(suite.device)
        train, test = datamod.load(name, "train"), datamod.load(name, "test")
        self.checksum = datamod.checksum(name)
        n_train = suite.n_train or len(train.images)
        self.train = train.images[:n_train]
        self.test = test.images
        self.eval_ref = test.images[: suite.n_eval]
        self.recon_ref = test.images[: suite.n_recon]
        self.feature_net, self.feature_info = get_feature_net(name, train=train, test=test)
        self.reference = reference_features(self.eval_ref, feature_net=self.feature_net,
                                            info=self.feature_info, device=self.device)
        # the second feature space, and the test split's class shares for the coverage metrics
        self.ae_net, self.ae_info = get_ae_net(name, train=train, test=test)
        self.ae_reference = reference_features(self.eval_ref, feature_net=self.ae_net,
                                               info=self.ae_info, device=self.device)
        self.test_shares = class_shares(test.labels, self.feature_net.num_classes)
        # the anchors' reference is the same first n_eval test images
        self.anchors = anchors(train.images, feature_net=self.feature_net, info=self.feature_info,
                               n=self.reference.n, seed=0, reference=self.reference,
                               device=self.device)


# -- train and generate (also in an isolated backend's process: no benchmarks.metrics) ----------

@dataclass
class CellOutputs:
    """What training and generating one cell produced, before any metric is computed.

    Everything here is tensors and plain values, so a worker process can hand it over in a file
    that loads with ``torch.load(..., weights_only=True)``.

    Attributes:
        filters: what a local learning rule learned, to be drawn for the reader
            (:meth:`~adapters.base.GenerativeAdapter.learned_filters`): float (K, h, w) in
            [-1, 1], or ``None``.
        device: where the adapter ran (:class:`adapters.device.Placement` as a dict), or
            ``None`` (the CPU).
    """

    fit: dict[str, Any]
    train_seconds: float
    sample_seconds: float
    peak_mb: float | None
    samples: Tensor
    counts: dict[str, Any]
    recon: Tensor | None = None
    recon_counts: dict[str, Any] | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    filters: Tensor | None = None
    recon_seconds: float | None = None
    device: dict[str, Any] | None = None


def _tqdm_progress(desc: str, enabled: bool) -> tuple[Any, Any]:
    bar = tqdm(desc=desc, unit="step", leave=False, dynamic_ncols=True, disable=not enabled)

    def progress(done: int, total: int, postfix: dict[str, float]) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        if done == total or done % 10 == 0:
            bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
            bar.refresh()

    return bar, progress


def produce(adapter: str, config: dict[str, Any], *, train: Tensor, recon_ref: Tensor | None,
            n_eval: int, seed: int, model_path: Path, desc: str = "fit",
            twins: Sequence[dict[str, Any]] = (), progress: bool = True,
            trained: dict[str, Any] | None = None,
            device: str | torch.device = "cpu") -> CellOutputs:
    """Train one adapter on ``device``, save it, sample ``n_eval`` images and reconstruct
    ``recon_ref``.

    Imports nothing of ``benchmarks.metrics`` (so it also runs in an isolated backend's
    environment, which lacks torch-fidelity).

    Args:
        twins: trained models of this run on the same data and seed (see :func:`trained_twins`);
            if one is the adapter's :meth:`~adapters.base.GenerativeAdapter.trained_twin`, the
            adapter starts from it instead of training it again. Its recorded training time is
            added to this cell's, so the reported cost does not depend on the reuse.
        progress: show the training progress bar (off where several cells share a terminal).
        trained: re-evaluation of a recorded cell: its record's ``fit`` and ``timing``. The model
            is loaded from ``model_path`` (verified against its SHA-256) instead of trained, and
            the recorded training report and time are handed on; sampling and reconstruction run
            as after training, with the same seeds, so they give the same images.
        device: where to run it (resolved); an adapter that cannot run there runs on the CPU
            (:func:`adapters.device.place`), and ``CellOutputs.device`` says which and why.

    Raises:
        ValueError: the adapter's samples are not (n_eval, 1, 28, 28) float32 in [0, 1].
    """
    model = adapters.create(adapter, config)
    placement = place(model, device)
    if trained is not None:
        model.load(model_path)
        fit_report = dict(trained["fit"])
        train_seconds = float(trained["timing"]["train_seconds"])
    else:
        twin = _matching_twin(model, twins, placement.used)
        if twin is not None:
            model.start_from(Path(twin["model_path"]), twin["fit"], twin["cell_id"])
        bar, on_step = _tqdm_progress(desc, progress)
        t0 = time.perf_counter()
        try:
            report = model.fit(train, seed=seed, progress=on_step)
        finally:
            bar.close()
        train_seconds = (time.perf_counter() - t0
                         + float(report.extra.get("twin_train_seconds", 0.0)))
        model.save(model_path)
        fit_report = report.to_dict()
    filters = model.learned_filters()  # None unless a local learning rule learned some
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
    out = CellOutputs(fit=fit_report, train_seconds=train_seconds,
                      sample_seconds=sample_seconds, peak_mb=None, samples=samples,
                      counts=counts.to_dict(), extra=extra, filters=filters,
                      device=placement.to_dict())
    if "reconstruct" in model.capabilities and recon_ref is not None and len(recon_ref):
        t2 = time.perf_counter()
        out.recon = model.reconstruct(recon_ref)
        out.recon_seconds = time.perf_counter() - t2
        out.recon_counts = model.op_counts().to_dict()
        out.extra.update({f"recon_{k}": v for k, v in model.extra_outputs().items()})
    return out


def _plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples become lists), for comparing configs."""
    return json.loads(json.dumps(value))


def _canonical(adapter: str, config: dict[str, Any]) -> Any:
    """``config`` of ``adapter`` as its records hold it (defaults filled in, quiet fields at
    their defaults left out: :func:`adapters.base.config_dict`), JSON-plain; as given where the
    adapter's class cannot be imported here."""
    try:
        cls = adapters.get_adapter_class(adapter)
        return _plain(config_dict(config_from_dict(cls.Config, config)))
    except (ImportError, TypeError, ValueError):
        return _plain(config)


def _matching_twin(model: Any, twins: Sequence[dict[str, Any]],
                   device: str = "cpu") -> dict[str, Any] | None:
    """The twin among ``twins`` that ``model`` would train first: same adapter and config,
    trained on ``device`` (the device ``model`` runs on: a twin trained on another device holds
    other weights)."""
    wanted = model.trained_twin()
    if wanted is None:
        return None
    name, config = wanted
    return next((t for t in twins if t["adapter"] == name
                 and t.get("device", "cpu") == device
                 and _canonical(name, t["config"]) == _canonical(name, config)), None)


def _record_device(record: rec.Record) -> str:
    """The device a record's cell ran on (``env.device``); ``"cpu"`` for records whose
    ``env.device`` names no torch device (made before cells could run elsewhere)."""
    value = str((record.get("env") or {}).get("device", "cpu"))
    try:
        return str(torch.device(value))
    except RuntimeError:
        return "cpu"


def trained_twins(suite: Suite, cell: Cell, results_dir: Path) -> list[dict[str, Any]]:
    """The models this suite already trained on ``cell``'s data set and seed: one entry per ok
    record of another entry whose saved model exists, with its adapter, full config, model path,
    ``fit``, cell id and the device it trained on. A conversion cell starts from its ANN among
    them (same config and device: the same weights bit for bit), so the suite does not train that
    ANN twice."""
    out = []
    for entry in suite.entries:
        if entry.label == cell.entry.label:
            continue
        other = plan_cell(suite, Cell(entry, cell.dataset, cell.seed), results_dir)
        model = rec.model_path(results_dir, suite.name, other.cell.cell_id)
        record = other.recorded
        if model.is_file() and record is not None and record["status"] == "ok" \
                and record.get("fit"):
            out.append({"adapter": record["adapter"]["name"],
                        "config": record["adapter"]["config"], "model_path": str(model.resolve()),
                        "fit": {k: record["fit"][k] for k in
                                ("epochs", "steps", "train_seconds", "history")},
                        "cell_id": other.cell.cell_id, "device": _record_device(record)})
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


# -- measure and record (main environment) ------------------------------------------------------

def baseline_energy(suite: Suite, family: str, energy_model: Any) -> float | None:
    """Energy per sample of the suite's ANN baseline of ``family`` (see :func:`_baseline_counts`);
    ``None`` where the family has none or the model needs counts the baseline lacks."""
    from benchmarks.metrics.energy import energy_nj

    name = _BASELINE_OF_FAMILY.get(family)
    if name is None:
        return None
    entry = next((e for e in suite.entries if e.adapter == name), None)
    counts = _baseline_counts(name, json.dumps(entry.config if entry else {}, sort_keys=True))
    return energy_nj(counts, energy_model)


@functools.lru_cache(maxsize=16)
def _baseline_counts(name: str, config_json: str) -> OpCounts:
    """Operation counts per sample of ANN baseline ``name`` with ``config_json``, measured once per
    process on a real forward run. Dense MAC counts do not depend on the weights, so an untrained
    baseline of the suite's config gives the same counts as the trained one."""
    baseline = adapters.create(name, json.loads(config_json))
    baseline.sample(8, seed=0)
    return baseline.op_counts()


def metric_config(suite: Suite, ctx: Any, energy_model: Any) -> dict[str, Any]:
    return {
        "feature_extractor": ctx.feature_info.name,
        "feature_net_test_accuracy": ctx.feature_info.test_accuracy,
        # the weights themselves: a rebuilt or changed extractor shows even at the same accuracy
        "feature_net_weights_sha256": getattr(ctx.feature_info, "weights_sha256", "") or None,
        # the second feature space (benchmarks.metrics.aefeatures) and its quality
        "ae_features": ctx.ae_info.name,
        "ae_probe_accuracy": ctx.ae_info.test_accuracy,
        "ae_recon_mse": ctx.ae_info.recon_mse,
        "ae_weights_sha256": ctx.ae_info.weights_sha256 or None,
        "pr_neighborhood": ctx.reference.pr_neighborhood,
        "n_samples": suite.n_eval,
        "n_recon": suite.n_recon,
        "energy_model": f"{energy_model.name}@{energy_model.version}",
        "energy_model_desc": (f"{energy_model.e_mac_pj} pJ/MAC, {energy_model.e_ac_pj} pJ/AC "
                              f"({energy_model.reference})"),
    }


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sample_metrics(samples: Tensor, ctx: Any,
                   device: torch.device | None = None) -> tuple[dict[str, float | None], Tensor]:
    """The metrics of a set of samples against a data set's context: FID, KID and
    precision/recall in both feature spaces, Inception FID (with local weights only) and the
    class coverage; returns them and the samples' class shares (for the record's histogram).

    One pass of the classifier gives both its features and its class predictions; the
    reference side was computed once for the data set (``ctx.reference``, ``ctx.ae_reference``).
    A run's cell (:func:`measure`) and a scored sample file (:mod:`benchmarks.score`) both come
    here. The feature networks and the precision/recall distances run on ``device`` (``None``:
    the CPU); ``samples`` and everything returned are on the CPU.
    """
    from benchmarks.metrics import keys as K
    from benchmarks.metrics.features import class_coverage, class_shares, coverage
    from benchmarks.metrics.fidelity import extract, inception_fid, quality_from_features

    metrics: dict[str, float | None] = {}
    seen = extract(samples, ctx.feature_net, device=device)
    metrics.update(quality_from_features(seen.features, ctx.reference, device=device))
    metrics[K.FID_INCEPTION] = inception_fid(samples, ctx.eval_ref, weights_path=None,
                                             device=device)
    metrics[K.CLASSES_COVERED] = float(class_coverage(seen.predictions,
                                                      ctx.feature_net.num_classes))
    shares = class_shares(seen.predictions, ctx.feature_net.num_classes)
    cover = coverage(shares, ctx.test_shares)
    metrics.update({K.CLASSES_AT_5PCT: cover["classes"], K.TOP_CLASS_SHARE: cover["top_share"],
                    K.CLASS_KL: cover["kl"]})
    in_ae = quality_from_features(extract(samples, ctx.ae_net, device=device).features,
                                  ctx.ae_reference, device=device)
    metrics.update({K.FID_AE: in_ae[K.FID], K.KID_AE: in_ae[K.KID], K.KID_STD_AE: in_ae[K.KID_STD],
                    K.PRECISION_AE: in_ae[K.PRECISION], K.RECALL_AE: in_ae[K.RECALL]})
    return metrics, shares


def family_of(adapter: str) -> str:
    """The family of the adapter named ``adapter`` (``"vae"``, ``"gan"``, ...)."""
    return str(adapters.get_adapter_class(adapter).family)


def count_metrics(counts: OpCounts | None, suite: Suite, family: str,
                  calls: int | None = None) -> dict[str, float | None]:
    """The operation and energy columns of per-sample ``counts`` (all ``None`` without counts,
    never 0), with the energy ratio to the suite's ANN baseline of ``family``, under the suite's
    energy model."""
    from benchmarks.metrics import keys as K
    from benchmarks.metrics.energy import energy_nj, energy_ratio, get_energy_model

    keys = (K.TIMESTEPS, K.SPIKES, K.FIRING_RATE, K.SYNAPTIC_OPS, K.MACS, K.NEURON_UPDATES,
            K.ENERGY_NJ, K.ENERGY_RATIO)
    if counts is None:
        return dict.fromkeys(keys)
    called = {K.DENOISER_CALLS: float(calls)} if calls is not None else {}
    model = get_energy_model(suite.energy_model)
    energy = energy_nj(counts, model)
    # the record's own model and baseline (the suite's ANN of the family); the tables compute
    # every registered model, and the ratio to the matched ANN row, from op_counts
    base = baseline_energy(suite, family, model)
    return {K.TIMESTEPS: float(counts.timesteps), K.SPIKES: counts.spikes,
            K.FIRING_RATE: counts.firing_rate, K.SYNAPTIC_OPS: counts.synaptic_ops,
            K.MACS: counts.macs, K.NEURON_UPDATES: counts.neuron_updates, K.ENERGY_NJ: energy,
            K.ENERGY_RATIO: energy_ratio(energy, base), **called}


def measure(suite: Suite, p: Planned, ctx: Any, out: CellOutputs, results_dir: Path,
            started: str, device: torch.device | None = None) -> rec.Record:
    """Every metric of one cell from its outputs, and its figures; returns its record (ok).
    Features are extracted on ``device`` (``None``: the CPU)."""
    from benchmarks.figures import filter_grid, sample_grid
    from benchmarks.metrics import keys as K
    from benchmarks.metrics.energy import get_energy_model
    from benchmarks.metrics.fidelity import extract, fid_from_features
    from benchmarks.metrics.reconstruction import reconstruction_errors

    cell = p.cell
    energy_model = get_energy_model(suite.energy_model)
    metrics: dict[str, float | None] = {k: None for k in K.METRICS}
    t_eval = time.perf_counter()
    found, shares = sample_metrics(out.samples, ctx, device)
    metrics.update(found)
    bound = out.extra.get("sample_ann_samples")
    if isinstance(bound, Tensor) and bound.shape == out.samples.shape:
        # The conversion's upper bound: its own ANN on the same noise.
        metrics[K.FID_ANN_BOUND] = fid_from_features(
            extract(bound, ctx.feature_net, device=device).features, ctx.reference)
    if out.recon is not None and out.recon_counts is not None:
        metrics.update(reconstruction_errors(out.recon, ctx.recon_ref))
        metrics[K.RECON_SYNAPTIC_OPS] = out.recon_counts["synaptic_ops"]
        metrics[K.RECON_MACS] = out.recon_counts["macs"]
    eval_seconds = time.perf_counter() - t_eval
    # a diffusion model's counts are summed over its sampler's denoiser calls
    calls = p.config.get("sampler_steps") if family_of(cell.entry.adapter) == "diffusion" else None
    metrics.update(count_metrics(OpCounts.from_dict(out.counts), suite,
                                 family_of(cell.entry.adapter), calls))
    metrics.update({
        K.FID_DATA_FLOOR: ctx.anchors[K.FID_DATA_FLOOR],
        K.FID_NOISE_CEILING: ctx.anchors[K.FID_NOISE_CEILING],
        K.TRAIN_SECONDS: out.train_seconds,
        K.SAMPLE_THROUGHPUT: suite.n_eval / out.sample_seconds if out.sample_seconds > 0 else None,
        K.PEAK_MEMORY_MB: out.peak_mb,
        K.FEATURE_NET_ACCURACY: ctx.feature_info.test_accuracy,
    })
    title = f"{cell.entry.label} · {cell.dataset} · seed {cell.seed}"
    figures_rel = Path(suite.name) / "figures"
    grid_rel = figures_rel / "samples" / f"{cell.cell_id}.png"
    sample_grid(out.samples[:_SAMPLE_GRID], Path(results_dir) / grid_rel, title=title)
    if out.filters is not None:
        filter_grid(out.filters, Path(results_dir) / figures_rel / "filters" /
                    f"{cell.cell_id}.png", title=f"{title}: learned filters")
    scalars = {k: float(v) for k, v in out.extra.items() if isinstance(v, int | float)}
    fit = {**out.fit, "extra": {**(out.fit.get("extra") or {}), **scalars}}
    return make_record(suite, p, status="ok", error=None, metrics=metrics,
                       metric_config=metric_config(suite, ctx, energy_model),
                       op_counts=out.counts, fit=fit,
                       timing={"train_seconds": out.train_seconds, "eval_seconds": eval_seconds,
                               "sample_seconds": out.sample_seconds,
                               "recon_seconds": out.recon_seconds, "started": started,
                               "finished": now()},
                       artifacts={"samples": str(Path("results") / grid_rel)},
                       dataset_checksum=ctx.checksum,
                       class_histogram={"classifier": ctx.feature_info.name,
                                        "shares": [float(v) for v in shares],
                                        "test_shares": [float(v) for v in ctx.test_shares]},
                       placement=out.device)


class NotReproduced(RuntimeError):
    """A re-evaluated cell did not give its recorded numbers back (its record is kept)."""


def reproduced(old: rec.Record, new: rec.Record) -> None:
    """Check that re-evaluating a recorded cell from its saved model gave every number the record
    already held (the new metrics are the only news).

    Raises:
        NotReproduced: naming each metric that changed, with both values.
    """
    from benchmarks.metrics import keys as K

    # every metric but the three that measure the machine must come back
    machine = {K.TRAIN_SECONDS, K.SAMPLE_THROUGHPUT, K.PEAK_MEMORY_MB}
    changed = [f"{key}: recorded {value!r}, now {new['metrics'].get(key)!r}"
               for key, value in (old.get("metrics") or {}).items()
               if key not in machine and value is not None
               and new["metrics"].get(key) != value]
    if changed:
        raise NotReproduced(f"{old['cell_id']}: re-evaluating the saved model did not reproduce "
                            f"the record ({'; '.join(changed)}); the record is kept")


def make_record(suite: Suite, p: Planned, *, status: rec.Status, error: rec.ErrorInfo | None,
                metrics: dict[str, float | None] | None = None,
                metric_config: dict[str, Any] | None = None,
                op_counts: dict[str, Any] | None = None, fit: dict[str, Any] | None = None,
                timing: dict[str, Any] | None = None, artifacts: dict[str, str] | None = None,
                dataset_checksum: str | None = None,
                class_histogram: dict[str, Any] | None = None,
                placement: Placement | dict[str, Any] | None = None) -> rec.Record:
    """The record of planned cell ``p``. Its backend and family are the adapter class's (every
    adapter class imports without its backend's library). ``class_histogram`` (the samples' and
    the test split's class shares under the classifier) is kept where given. ``placement``:
    where the adapter ran (:func:`adapters.device.place`); ``None`` for a cell that did not get
    that far (its ``env.device`` is then the suite's)."""
    cell = p.cell
    cls = adapters.get_adapter_class(cell.entry.adapter)
    extra: dict[str, Any] = {} if class_histogram is None else {"class_histogram": class_histogram}
    return {
        "schema_version": rec.SCHEMA_VERSION,
        "suite": suite.name,
        "cell_id": cell.cell_id,
        "config_hash": p.chash,
        "adapter": {"label": cell.entry.label, "name": cell.entry.adapter,
                    "backend": cls.backend, "family": cls.family, "config": p.config},
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
        "env": rec.environment(torch.get_num_threads(),
                               placement if placement is not None else _suite_placement(suite)),
        "artifacts": artifacts or {},
        **extra,
    }


def _suite_placement(suite: Suite) -> Placement:
    """Where ``suite``'s cells run on this machine, for the record of a cell that stopped before
    its adapter was placed (the CPU where the suite's device is not here)."""
    try:
        device = str(resolve_device(suite.device))
    except ValueError:
        device = "cpu"
    return Placement(device, device)


def failed_record(suite: Suite, p: Planned, kind: str, message: str,
                  tb: str = "", placement: Placement | None = None) -> rec.Record:
    """The record of a cell that did not finish: its error, and no number (``placement``: the
    device it was to run on, where known)."""
    return make_record(suite, p, status="failed",
                       error={"type": kind, "message": message, "traceback": tb},
                       placement=placement)


def _skipped_record(suite: Suite, p: Planned, missing: Sequence[str]) -> rec.Record:
    adapter = p.cell.entry.adapter
    backend = adapters.backend_of(adapter)
    env = adapters.ISOLATED_BACKENDS.get(backend)
    how = (f"create its environment with: tox -e {env} (or set "
           f"SPIKEGENBENCH_{backend.upper()}_PYTHON)") if env else \
        adapters.INSTALL_HINTS.get(missing[0], f"pip install {missing[0]}")
    return make_record(suite, p, status="skipped",
                       error={"type": "ImportError", "traceback": "",
                              "message": f"{adapter} needs {list(missing)}, not installed here; "
                                         f"{how}"})


# -- one cell, wherever its backend lives --------------------------------------------------------

class CellRunner:
    """Runs planned cells of one suite in this process (and an isolated backend's, where the
    cell's backend lives there), keeping each data set's context for the later cells.

    Args:
        suite: the suite the cells belong to.
        results_dir: where the cells' models and figures go (records are the driver's to write).
        context_factory: ``(dataset, suite) -> context``; tests pass one holding tiny synthetic
            data. Called once per data set, unless ``contexts`` already holds it.
        contexts: data-set contexts prepared elsewhere (a Ray task gets its from the driver).
        progress: show each cell's training progress bar.
        twins_from: the results folder whose trained models a cell may start from (see
            :func:`trained_twins`), when it writes its own files elsewhere (a Ray task's scratch
            folder); ``results_dir`` when ``None``.
        device: where the cells run (a device string, see :mod:`adapters.device`); the suite's
            ``device`` when ``None``. Resolved here: a device this machine lacks raises.

    Raises:
        adapters.device.DeviceError: the device is not on this machine.
    """

    def __init__(self, suite: Suite, results_dir: Path, *,
                 context_factory: ContextFactory | None = None,
                 contexts: dict[str, Any] | None = None, progress: bool = True,
                 twins_from: Path | None = None, device: str | None = None) -> None:
        self.suite = suite
        self.device = resolve_device(suite.device if device is None else device)
        self.results_dir = Path(results_dir)
        self.context_factory = context_factory or DatasetContext
        self.contexts = dict(contexts or {})
        self.progress = progress
        self.twins_from = Path(twins_from) if twins_from is not None else self.results_dir

    def __call__(self, p: Planned) -> rec.Record:
        """Run ``p``'s cell; returns its record: ok, failed (any error, named in the record)
        or skipped (its backend's libraries are missing and it has no environment of its own)."""
        adapter = p.cell.entry.adapter
        missing = adapters.missing_libraries(adapter)
        python = isolated_python(adapters.backend_of(adapter)) if missing else None
        if missing and python is None:
            return _skipped_record(self.suite, p, missing)
        try:
            return self._run(p, python)
        except Exception as err:  # a failing cell is recorded, and the others go on
            log.error("%s failed: %s: %s", p.cell.cell_id, type(err).__name__, err)
            return failed_record(self.suite, p, type(err).__name__, str(err),
                                 traceback.format_exc(limit=20),
                                 Placement(str(self.device), str(self.device)))

    def _run(self, p: Planned, python: Path | None) -> rec.Record:
        cell = p.cell
        if cell.dataset not in self.contexts:
            self.contexts[cell.dataset] = self.context_factory(cell.dataset, self.suite)
        ctx = self.contexts[cell.dataset]
        old = p.recorded  # set only for a re-evaluation (the driver submits nothing else)
        trained = None if old is None else {"fit": old["fit"], "timing": old["timing"]}
        twins = trained_twins(self.suite, cell, self.twins_from) if old is None else []
        started = now()
        if python is not None:
            out = self._produce_isolated(python, cell, twins, trained)
        else:
            out = self._produce_here(cell, ctx, twins, trained)
        if old is not None:
            from benchmarks.metrics.keys import PEAK_MEMORY_MB

            out.peak_mb = (old.get("metrics") or {}).get(PEAK_MEMORY_MB)  # of the training
        record = measure(self.suite, p, ctx, out, self.results_dir, started, self.device)
        if old is not None:
            reproduced(old, record)
            record["timing"]["reevaluated"] = record["timing"]["finished"]
            record["timing"]["started"] = old["timing"].get("started")
        return record

    def _model_path(self, cell: Cell) -> Path:
        return rec.model_path(self.results_dir, self.suite.name, cell.cell_id)

    def _produce_here(self, cell: Cell, ctx: Any, twins: Sequence[dict[str, Any]],
                      trained: dict[str, Any] | None = None) -> CellOutputs:
        from benchmarks.metrics.cost import PeakMemory

        suite = self.suite
        with PeakMemory() as mem:
            out = produce(cell.entry.adapter, cell.entry.config, train=ctx.train,
                          recon_ref=ctx.recon_ref if suite.n_recon else None, n_eval=suite.n_eval,
                          seed=cell.seed, model_path=self._model_path(cell),
                          desc=f"fit {cell.cell_id}", twins=twins, progress=self.progress,
                          trained=trained, device=self.device)
        out.peak_mb = mem.peak_mb
        return out

    def _produce_isolated(self, python: Path, cell: Cell, twins: Sequence[dict[str, Any]],
                          trained: dict[str, Any] | None = None) -> CellOutputs:
        """Run :func:`produce` for ``cell`` under ``python`` (:mod:`benchmarks.cell_worker`)
        and read its outputs back."""
        import subprocess
        import tempfile

        from adapters.io import load_weights

        suite = self.suite
        with tempfile.TemporaryDirectory(prefix="sgb-cell-") as tmp:
            request = Path(tmp) / "request.json"
            out_file = Path(tmp) / "out.pt"
            request.write_text(json.dumps({
                "adapter": cell.entry.adapter, "config": cell.entry.config,
                "cell_id": cell.cell_id, "dataset": cell.dataset, "seed": cell.seed,
                "n_train": suite.n_train, "n_eval": suite.n_eval, "n_recon": suite.n_recon,
                "threads": suite.threads, "progress": self.progress,
                "model_path": str(self._model_path(cell).resolve()), "twins": list(twins),
                "trained": trained, "device": str(self.device),
            }))
            proc = run_module(python, "benchmarks.cell_worker", [request, out_file],
                              stdout=subprocess.PIPE, text=True)
            if proc.returncode != 0 or not out_file.is_file():
                raise RuntimeError(f"{cell.cell_id}: the {python} worker exited with code "
                                   f"{proc.returncode} (its log is above on stderr)")
            blob = load_weights(out_file)
        return CellOutputs(**blob)
