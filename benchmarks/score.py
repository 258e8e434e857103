"""Scoring samples made outside the suite: ``python -m benchmarks score``.

A method that is not an adapter (another code base, another framework, a published checkpoint)
can still be put beside the suite's rows: export its samples, and ``score`` measures them on the
suite's protocol and writes a record that ``tables`` and ``compare`` include.

The protocol is the one every cell is measured with: the same data-set context
(:class:`benchmarks.execute.DatasetContext`: the test split's first ``n_eval`` images as the
reference, the classifier and the autoencoder feature networks, the scale anchors), the same
metric functions (FID, KID, precision/recall in both feature spaces, class coverage), and
``n_eval`` samples (the suite's; 10,000 in ``quick``). Per-sample operation counts
(``--ops FILE.json``) give the spike, operation and energy columns by the suite's energy model;
without them those columns are ``None`` (shown as "—"), never 0.

Accepted sample files (:func:`load_samples`):

* ``.npz`` with an array ``images`` (or a single array of any name);
* ``.npy``;
* a folder of ``.png`` files (28 x 28 grayscale, read in file-name order).

An array is ``uint8`` (0-255) or floating point in ``[0, 1]``, of shape ``N x 28 x 28`` or
``N x 1 x 28 x 28``. The record's adapter is ``external`` (backend ``external``), its family the
one given (``--family``, default ``gan``: samples only, no reconstruction).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from adapters.base import FAMILIES, OpCounts
from benchmarks import records as rec
from benchmarks.suites import _LABEL, Suite

log = logging.getLogger(__name__)

#: The adapter name and backend of a scored record.
EXTERNAL = "external"
#: The family ``score`` records when none is given: samples only.
DEFAULT_FAMILY = "gan"
#: Per-sample counts an ``--ops`` file must hold, and those it may hold: the other fields of
#: :class:`~adapters.base.OpCounts` (what ``OpCounts.to_dict()`` writes).
OPS_REQUIRED: tuple[str, ...] = ("macs", "synaptic_ops", "spikes", "neuron_updates")
OPS_OPTIONAL: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(OpCounts)
                                      if f.name not in OPS_REQUIRED)
_IMAGE = (28, 28)
_SAMPLE_GRID = 100  # samples drawn in the record's grid figure, as for a cell

ContextFactory = Callable[[str, Suite], Any]


class SampleError(ValueError):
    """A samples or ops file that cannot be scored; the message says what was found and what is
    allowed."""


# -- reading samples -----------------------------------------------------------------------------

def _read_npz(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "images" in keys:
                return archive["images"]
            if len(keys) == 1:
                return archive[keys[0]]
    except (ValueError, OSError) as err:
        raise SampleError(f"{path}: not a readable .npz file ({err})") from err
    raise SampleError(f"{path}: holds the arrays {keys}; allowed: an array named 'images', or "
                      f"exactly one array")


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise SampleError(f"{path}: not a readable .npy array of numbers ({err})") from err


def _read_pngs(folder: Path) -> np.ndarray:
    """The folder's ``*.png`` files, in file-name order, as uint8 ``(N, 28, 28)``."""
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not files:
        raise SampleError(f"{folder}: a folder with no .png files; allowed: a folder of 28x28 "
                          f"grayscale .png files, a .npz or a .npy file")
    images = []
    for path in files:
        try:
            with Image.open(path) as img:
                img.load()
                mode, size = img.mode, img.size
                pixels = np.asarray(img.convert("RGBA") if mode in ("RGB", "RGBA") else img)
        except (OSError, ValueError) as err:
            raise SampleError(f"{path}: not a readable PNG ({err})") from err
        if size != _IMAGE:
            raise SampleError(f"{path}: {size[0]}x{size[1]} pixels; allowed: 28x28")
        if mode in ("RGB", "RGBA"):
            rgb, alpha = pixels[..., :3], pixels[..., 3]
            if not ((rgb == rgb[..., :1]).all() and (alpha == 255).all()):
                raise SampleError(f"{path}: a colour or transparent image (mode {mode}); "
                                  f"allowed: grayscale (mode L, or RGB with R = G = B)")
            pixels = rgb[..., 0]
        elif mode == "1":
            pixels = pixels.astype(np.uint8) * 255
        elif mode != "L":
            raise SampleError(f"{path}: PNG mode {mode}; allowed: 8-bit grayscale (L), "
                              f"black-and-white (1) or RGB/RGBA with R = G = B")
        images.append(np.asarray(pixels, dtype=np.uint8))
    return np.stack(images)


def as_images(array: Any, source: str, *, n_min: int) -> Tensor:
    """Check an array of samples and return it as the suite's images: float32
    ``(N, 1, 28, 28)`` in ``[0, 1]`` (uint8 values divided by 255).

    Args:
        array: ``uint8`` or floating point, ``N x 28 x 28`` or ``N x 1 x 28 x 28``.
        source: where it came from, for the messages.
        n_min: the fewest samples allowed (the suite's ``n_eval``).

    Raises:
        SampleError: wrong shape, dtype (bool, integers other than uint8, objects), values
            outside ``[0, 1]``, NaN or infinite values, or fewer than ``n_min`` samples.
    """
    x = np.asarray(array)
    shape = tuple(x.shape)
    if not ((x.ndim == 3 and shape[1:] == _IMAGE) or (x.ndim == 4 and shape[1:] == (1, *_IMAGE))):
        raise SampleError(f"{source}: samples of shape {shape}; allowed: N x 28 x 28 or "
                          f"N x 1 x 28 x 28")
    if x.dtype == np.uint8:
        images = x.astype(np.float32) / 255.0
    elif np.issubdtype(x.dtype, np.floating):
        finite = np.isfinite(x)
        if not finite.all():
            raise SampleError(f"{source}: {int((~finite).sum())} NaN or infinite value(s); "
                              f"allowed: finite values in [0, 1]")
        lo, hi = float(x.min(initial=0.0)), float(x.max(initial=0.0))
        if lo < 0.0 or hi > 1.0:
            raise SampleError(f"{source}: float values in [{lo:.6g}, {hi:.6g}]; allowed: [0, 1] "
                              f"(or uint8 0-255)")
        images = x.astype(np.float32)
    else:
        raise SampleError(f"{source}: dtype {x.dtype}; allowed: uint8 (0-255) or float in [0, 1]")
    if shape[0] < n_min:
        raise SampleError(f"{source}: {shape[0]} samples; the protocol needs at least {n_min} "
                          f"(the suite's n_eval)")
    return torch.from_numpy(np.ascontiguousarray(images)).reshape(shape[0], 1, *_IMAGE)


def load_samples(path: str | Path, *, n_min: int) -> Tensor:
    """Read a samples file or folder (see the module docstring) as float32 ``(N, 1, 28, 28)``
    in ``[0, 1]``.

    Raises:
        FileNotFoundError: nothing at ``path``.
        SampleError: an unsupported kind of file, or samples :func:`as_images` refuses.
    """
    path = Path(path)
    if path.is_dir():
        array = _read_pngs(path)
    elif not path.exists():
        raise FileNotFoundError(f"no samples file or folder at {path}")
    elif path.suffix.lower() == ".npz":
        array = _read_npz(path)
    elif path.suffix.lower() == ".npy":
        array = _read_npy(path)
    else:
        raise SampleError(f"{path}: a {path.suffix or 'suffix-less'} file; allowed: .npz, .npy "
                          f"or a folder of .png files")
    return as_images(array, str(path), n_min=n_min)


# -- reading op counts ---------------------------------------------------------------------------

def _count(path: Path, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value < 0:
        raise SampleError(f"{path}: {key} is {value!r}; allowed: a finite number >= 0 (per "
                          f"sample)")
    return float(value)


def load_ops(path: str | Path) -> OpCounts:
    """Per-sample operation counts from a JSON object: the fields of
    :class:`~adapters.base.OpCounts` (``json.dump(counts.to_dict(), ...)`` of the counts
    :func:`adapters.opcount.measure_ops` returns writes one).

    Required: ``macs``, ``synaptic_ops``, ``spikes``, ``neuron_updates`` (per generated sample,
    numbers >= 0). Optional: ``timesteps`` (int >= 1, default 1), ``firing_rate`` (default
    ``spikes / neuron_updates``), ``spikes_per_layer`` and ``neurons_per_layer`` (objects by layer
    name; every layer with spikes needs its neuron count), ``n_samples`` (default 1), and the
    other OpCounts fields (numbers >= 0 or null; ``layers`` an object).

    Raises:
        FileNotFoundError: no file at ``path``.
        SampleError: not JSON, missing or unknown keys, or a value outside its range.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ops file at {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SampleError(f"{path}: not a JSON file ({err})") from err
    if not isinstance(data, Mapping):
        raise SampleError(f"{path}: holds a {type(data).__name__}; allowed: a JSON object with "
                          f"{list(OPS_REQUIRED)}")
    missing = [k for k in OPS_REQUIRED if k not in data]
    unknown = sorted(set(data) - {*OPS_REQUIRED, *OPS_OPTIONAL})
    if missing or unknown:
        found = ([f"lacks {missing}"] if missing else []) + \
            ([f"has unknown key(s) {unknown}"] if unknown else [])
        raise SampleError(f"{path}: {'; '.join(found)}; required: {list(OPS_REQUIRED)}, "
                          f"optional: {list(OPS_OPTIONAL)}")
    counts = {k: _count(path, k, data[k]) for k in OPS_REQUIRED}
    timesteps = data.get("timesteps", 1)
    if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 1:
        raise SampleError(f"{path}: timesteps is {timesteps!r}; allowed: an int >= 1")
    n_samples = data.get("n_samples", 1)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise SampleError(f"{path}: n_samples is {n_samples!r}; allowed: an int >= 1")
    updates = counts["neuron_updates"]
    if "firing_rate" in data:
        rate = _count(path, "firing_rate", data["firing_rate"])
    else:
        rate = counts["spikes"] / updates if updates else 0.0
    if not rate <= 1.0:
        raise SampleError(f"{path}: firing rate {rate:.6g} (spikes / neuron_updates) > 1; spikes "
                          f"cannot outnumber neuron updates")
    layers: dict[str, dict[str, Any]] = {}
    for key in ("spikes_per_layer", "neurons_per_layer"):
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            raise SampleError(f"{path}: {key} is {value!r}; allowed: an object by layer name")
        layers[key] = {str(k): _count(path, f"{key}[{k!r}]", v) for k, v in value.items()}
    spikes_per_layer, neurons = layers["spikes_per_layer"], layers["neurons_per_layer"]
    unmatched = [k for k, v in spikes_per_layer.items() if v and not neurons.get(k)]
    if unmatched:
        raise SampleError(f"{path}: layer(s) {unmatched} have spikes but no neurons_per_layer "
                          f"count > 0 (firing rates need both)")
    extra: dict[str, Any] = {}
    for key in set(data) - {*OPS_REQUIRED, "timesteps", "n_samples", "firing_rate",
                            "spikes_per_layer", "neurons_per_layer"}:
        value = data[key]
        if key == "layers":
            if value is not None and not isinstance(value, Mapping):
                raise SampleError(f"{path}: layers is {value!r}; allowed: an object by layer "
                                  f"name, or null")
            extra[key] = value
        else:
            extra[key] = None if value is None else _count(path, key, value)
    try:
        return OpCounts(timesteps=timesteps, spikes=counts["spikes"],
                        spikes_per_layer=spikes_per_layer,
                        neurons_per_layer={k: int(v) for k, v in neurons.items()},
                        firing_rate=rate, synaptic_ops=counts["synaptic_ops"],
                        macs=counts["macs"], neuron_updates=updates, n_samples=n_samples,
                        **extra)
    except (TypeError, ValueError) as err:
        raise SampleError(f"{path}: {err}") from err


# -- scoring ---------------------------------------------------------------------------------------

def check_label(label: str, suite: Suite) -> str:
    """``label`` if it can name a scored row of ``suite``: a plain row name that is not one of
    the suite's entries (a row stands for one adapter).

    Raises:
        ValueError: a malformed label, or one of the suite's entry labels.
    """
    if not isinstance(label, str) or not _LABEL.match(label):
        raise ValueError(f"--label {label!r} must match {_LABEL.pattern} (lower-case letters, "
                         f"digits, '.' and '-')")
    entries = [e.label for e in suite.entries]
    if label in entries:
        raise ValueError(f"--label {label!r} is an entry of suite {suite.name!r}; a scored row "
                         f"needs a label of its own (entries: {entries})")
    return label


def images_sha256(images: Tensor) -> str:
    """SHA-256 of the images as the metrics see them (quantised to uint8): what was scored."""
    from benchmarks.metrics.fidelity import quantise

    q = quantise(images)
    return hashlib.sha256(q.contiguous().numpy().tobytes()).hexdigest()


def score(samples: Tensor, *, suite: Suite, dataset: str, label: str = EXTERNAL,
          family: str = DEFAULT_FAMILY, seed: int = 0, ops: OpCounts | None = None,
          results_dir: str | Path = rec.DEFAULT_RUNS, source: str = "",
          context_factory: ContextFactory | None = None,
          device: str | None = None) -> rec.Record:
    """Measure ``samples`` on ``suite``'s protocol for ``dataset``; returns the ok record (not
    written: see :func:`write`). The sample grid figure is drawn under ``results_dir``.

    Args:
        samples: float32 ``(N, 1, 28, 28)`` in ``[0, 1]`` with ``N >= suite.n_eval``; the first
            ``n_eval`` are scored.
        suite: the suite whose protocol (``n_eval``, energy model, ANN baselines) applies.
        dataset: one of the suite's data sets.
        label: the row's name (not one of the suite's entries).
        family: ``vae``, ``gan`` or ``autoencoder``: which ANN baseline the energy ratio uses.
        seed: the seed the samples were made with (the record's seed; a row's seeds are its
            records).
        ops: per-sample operation counts, or ``None`` (the operation and energy columns are
            then ``None``).
        source: where the samples came from (kept in the record's ``adapter.config``).
        context_factory: ``(dataset, suite) -> context`` with the attributes of
            :class:`benchmarks.execute.DatasetContext` (the default; tests pass a fake one).
        device: where the feature networks run (a device string, :mod:`adapters.device`); the
            suite's ``device`` when ``None``. The record's ``env.device`` names it.

    Raises:
        ValueError: a data set the suite does not cover, an unknown family, a bad label or
            seed, or too few samples; a device this machine lacks.
    """
    from adapters.device import Placement, resolve_device
    from benchmarks.execute import count_metrics, metric_config, now, sample_metrics
    from benchmarks.figures import sample_grid
    from benchmarks.metrics import keys as K
    from benchmarks.metrics.energy import get_energy_model
    from benchmarks.metrics.features import FEATURE_NET_VERSION

    if dataset not in suite.datasets:
        raise ValueError(f"--dataset {dataset!r} is not a data set of suite {suite.name!r}; "
                         f"allowed: {list(suite.datasets)}")
    if family not in FAMILIES:
        raise ValueError(f"--family {family!r}; allowed: {sorted(FAMILIES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"--seed must be an int >= 0, got {seed!r}")
    check_label(label, suite)
    where = resolve_device(suite.device if device is None else device)
    suite = dataclasses.replace(suite, device=str(where))
    samples = as_images(samples, source or "samples", n_min=suite.n_eval)
    if len(samples) > suite.n_eval:
        log.info("scoring the first %d of %d samples (the suite's n_eval)", suite.n_eval,
                 len(samples))
        samples = samples[:suite.n_eval]
    started = now()
    if context_factory is None:
        from benchmarks.execute import DatasetContext

        context_factory = DatasetContext
    ctx = context_factory(dataset, suite)
    t0 = time.perf_counter()
    metrics: dict[str, float | None] = dict.fromkeys(K.METRICS)
    found, shares = sample_metrics(samples, ctx, where)
    metrics.update(found)
    metrics.update(count_metrics(ops, suite, family))
    metrics.update({K.FID_DATA_FLOOR: ctx.anchors[K.FID_DATA_FLOOR],
                    K.FID_NOISE_CEILING: ctx.anchors[K.FID_NOISE_CEILING],
                    K.FEATURE_NET_ACCURACY: ctx.feature_info.test_accuracy})
    eval_seconds = time.perf_counter() - t0
    cid = rec.cell_id(label, dataset, seed)
    grid_rel = Path(suite.name) / "figures" / "samples" / f"{cid}.png"
    sample_grid(samples[:_SAMPLE_GRID], Path(results_dir) / grid_rel,
                title=f"{label} · {dataset} · seed {seed} (external)")
    digest = images_sha256(samples)
    energy_model = get_energy_model(suite.energy_model)
    config = {"samples": source or None, "samples_sha256": digest,
              "ops": ops.to_dict() if ops is not None else None}
    return {
        "schema_version": rec.SCHEMA_VERSION,
        "suite": suite.name,
        "cell_id": cid,
        "config_hash": rec.config_hash({
            "adapter": EXTERNAL, "family": family, "samples_sha256": digest,
            "ops": config["ops"], "dataset": dataset, "seed": seed, "n_eval": suite.n_eval,
            "energy_model": suite.energy_model, "feature_net": FEATURE_NET_VERSION,
            "schema": rec.SCHEMA_VERSION}),
        "adapter": {"label": label, "name": EXTERNAL, "backend": EXTERNAL, "family": family,
                    "config": config},
        "dataset": {"name": dataset, "n_train": None, "n_eval": suite.n_eval, "n_recon": 0,
                    "checksum": ctx.checksum},
        "seed": seed,
        "status": "ok",
        "error": None,
        "metrics": metrics,
        "metric_config": {**metric_config(suite, ctx, energy_model), "n_recon": 0},
        "op_counts": config["ops"],
        "fit": None,
        "timing": {"train_seconds": None, "eval_seconds": eval_seconds, "sample_seconds": None,
                   "recon_seconds": None, "started": started, "finished": now()},
        "env": rec.environment(torch.get_num_threads(), Placement(str(where), str(where))),
        "artifacts": {"samples": str(Path("results") / grid_rel)},
        "class_histogram": {"classifier": ctx.feature_info.name,
                            "shares": [float(v) for v in shares],
                            "test_shares": [float(v) for v in ctx.test_shares]},
    }


def write(record: rec.Record, results_dir: str | Path) -> Path:
    """Write a scored record into ``results_dir``, where ``tables`` and ``compare`` find it.

    A scored record replaces an earlier scored record of the same row, data set and seed, but
    never a run's record.

    Raises:
        ValueError: a record of the same cell id made by ``run`` is there.
    """
    path = rec.record_path(Path(results_dir), record["suite"], record["cell_id"])
    if path.is_file():
        try:
            old_backend = rec.read_record(path)["adapter"]["backend"]
        except ValueError:
            old_backend = None  # an unreadable record is replaced
        if old_backend not in (None, EXTERNAL):
            raise ValueError(f"{path} holds a record of a run (backend {old_backend!r}); choose "
                             f"another --label or --results-dir")
        log.info("replacing the scored record %s", path)
    return rec.write_record(Path(results_dir), record)
