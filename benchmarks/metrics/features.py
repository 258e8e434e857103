"""The default feature network: a small CNN classifier trained on the data set's own train split.

torch-fidelity's Inception weights are downloaded at run time, which this suite cannot rely on, so
FID/KID/precision/recall use the penultimate features of this classifier instead (see
:mod:`benchmarks.metrics.fidelity`). The network is trained deterministically — fixed seeds split
into ``torch.Generator`` s for the initialisation, the data order, dropout and augmentation; no
global RNG is touched — and cached under ``<cache root>/featurenets/`` keyed by the network
version and the checksum of the data it was trained and tested on. The cache root is
``$SPIKEGENBENCH_CACHE`` or ``~/.cache/spikegenbench``. A network that misses its accuracy target
(:data:`MIN_ACCURACY`) raises :class:`FeatureNetError` and is never cached.

Architecture (``FeatureNet``)::

    x (N,1,28,28) in [0,1] -> (x - 0.5) / 0.5
    -> conv3x3(1->32) -> BN -> ReLU -> maxpool2      (N,32,14,14)
    -> conv3x3(32->64) -> BN -> ReLU -> maxpool2     (N,64,7,7)
    -> flatten -> linear(3136->128) -> BN -> ReLU    (N,128)   = features(x)
    -> linear(128->10)                               (N,10)    = forward(x), logits

Training recipe (``cnn-v2``): Adam (lr 2e-3, cosine decay to 0), batch 128, 4 epochs, dropout 0.3 on
the features, random horizontal flips for Fashion-MNIST only (digits are not mirror-symmetric).

**Portable weights.** FIDs are only comparable under one network, so the weights must not depend
on the machine or the process that trained them. The recipe alone does not give that: another
CPU's kernels or another thread count sum floats in another order, and over 1,876 Adam steps that
changes the weights and every FID. So :func:`train_feature_net` trains in a child process
(:mod:`benchmarks.metrics.featurenet_worker`) whose kernels do not depend on the instruction set
(:data:`PORTABLE_ENV`): ATen's scalar kernels (``ATEN_CPU_CAPABILITY=default``), MKL's
conditional numerical reproducibility (``MKL_CBWR=COMPATIBLE``), oneDNN off, one thread.
``scripts/bench_featurenet_portability.py`` checks it on one machine by making MKL use older
instruction sets. The price is slower training (about 2.4x), paid once per machine: the result
is cached. AMD and Intel CPUs still train different weights, and another torch or MKL release may
too: the cache key, the records and the table captions hold the version, the data checksum and
the network's test accuracy, which tell networks apart. Measurements:
``docs/experiments/2026-12-03-feature-net-portable-kernels.md`` and
``docs/experiments/2026-12-04-amd-vs-intel.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from adapters.coding import make_generator, split_seed
from adapters.io import IntegrityError, atomic_torch_save, load_weights, quarantine
from adapters.seeding import init_parameters_

logger = logging.getLogger(__name__)

#: Bump whenever the architecture or the training recipe changes: it is part of the cache key
#: and of every record's ``feature_net`` config hash.
FEATURE_NET_VERSION = "cnn-v2"

#: Test accuracy each data set's feature network must reach before it is cached and used.
MIN_ACCURACY: dict[str, float] = {"mnist": 0.99, "fashion-mnist": 0.90}

#: Threads the network is trained on, whatever the caller's count: 1 and 2 threads sum floats in
#: another order and train different weights, so the weights would depend on which process (a
#: one-thread cell worker, a two-thread test run) trained them.
TRAIN_THREADS = 1

#: Environment of the training process (set before torch loads, which is when kernels are picked):
#: kernels that do not depend on the instruction set, so that Intel CPUs with AVX-512, AVX2 or
#: SSE4.2 train the same weights (AMD CPUs do not match them: module docstring).
PORTABLE_ENV: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE",
    "OMP_NUM_THREADS": str(TRAIN_THREADS), "MKL_NUM_THREADS": str(TRAIN_THREADS)}

#: Data sets whose training uses random horizontal flips.
_FLIP_AUGMENT = frozenset({"fashion-mnist"})

ENV_CACHE = "SPIKEGENBENCH_CACHE"
NUM_CLASSES = 10
FEATURE_DIM = 128

_SEED = 20240601
_EPOCHS = 4
_BATCH = 128
_LR = 2e-3
_DROPOUT = 0.3
_EVAL_BATCH = 1000
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class FeatureNetError(RuntimeError):
    """The feature network could not be trained to its accuracy target."""


class FeatureNet(nn.Module):
    """Small CNN classifier whose penultimate layer is the feature space of FID/KID/PR.

    See the module docstring for the layer list. Call ``.eval()`` before extracting features
    (batch norm uses running statistics then); :func:`get_feature_net` returns it in eval mode.

    Args:
        num_classes: number of output logits.
        feature_dim: width ``D`` of the penultimate (feature) layer.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, feature_dim: int = FEATURE_DIM) -> None:
        super().__init__()
        if num_classes < 2 or feature_dim < 1:
            raise ValueError(f"need num_classes >= 2 and feature_dim >= 1, got "
                             f"{num_classes} and {feature_dim}")
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * 7 * 7, feature_dim)
        self.bn3 = nn.BatchNorm1d(feature_dim)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features.

        Args:
            x: float ``(N, 1, 28, 28)`` in ``[0, 1]``.

        Returns:
            float32 ``(N, D)`` features (post-ReLU, so ``>= 0``).
        """
        x = (x.float() - 0.5) / 0.5
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return F.relu(self.bn3(self.fc(x.flatten(1))))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits: float32 ``(N, num_classes)`` for ``x`` float ``(N, 1, 28, 28)`` in [0, 1]."""
        return self.head(self.features(x))


@dataclass(frozen=True)
class FeatureNetInfo:
    """What a feature network is, for records and tables.

    Attributes:
        dataset: the data set it was trained on, e.g. ``"mnist"``.
        version: :data:`FEATURE_NET_VERSION` of the code that trained it.
        data_checksum: md5 (16 hex digits) of the train and test images and labels it saw.
        test_accuracy: accuracy on the test split, in ``[0, 1]``.
        name: extractor label for tables, e.g. ``"classifier-cnn-v2[mnist]"``.
        feature_dim: width ``D`` of its features.
        weights_sha256: SHA-256 of its weights (:func:`weights_digest`): records keep it, so a
            changed extractor is visible even where the version and the accuracy agree.
    """

    dataset: str
    version: str
    data_checksum: str
    test_accuracy: float
    name: str
    feature_dim: int
    weights_sha256: str = ""


def cache_root() -> Path:
    """``$SPIKEGENBENCH_CACHE`` or ``~/.cache/spikegenbench``."""
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "spikegenbench"


def check_images(images: Any, what: str = "images", *, min_n: int = 1) -> Tensor:
    """Validate an image batch at the metrics boundary.

    Args:
        images: expected float tensor ``(N, 1, 28, 28)`` with finite values in ``[0, 1]``.
        what: the argument's name, for the error message.
        min_n: smallest allowed ``N``.

    Returns:
        ``images`` unchanged.

    Raises:
        TypeError: not a floating-point tensor.
        ValueError: wrong shape, too few images, or values outside ``[0, 1]`` / not finite.
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(f"{what} must be a floating-point tensor in [0, 1], got {images.dtype}")
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{what} must have shape (N, 1, 28, 28), got {tuple(images.shape)}")
    if images.shape[0] < min_n:
        raise ValueError(f"{what} must hold at least {min_n} images, got {images.shape[0]}")
    if not bool(torch.isfinite(images).all()):
        raise ValueError(f"{what} contains NaN or infinite values")
    lo, hi = float(images.min()), float(images.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{what} must lie in [0, 1], got values in [{lo}, {hi}]")
    return images


def _check_labels(labels: Any, n: int, what: str) -> Tensor:
    if not isinstance(labels, Tensor) or labels.dtype != torch.int64:
        raise TypeError(f"{what} labels must be an int64 tensor, got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if tuple(labels.shape) != (n,):
        raise ValueError(f"{what} labels must have shape ({n},), got {tuple(labels.shape)}")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= NUM_CLASSES):
        raise ValueError(f"{what} labels must lie in [0, {NUM_CLASSES - 1}], got "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    return labels


def data_checksum(train: Any, test: Any) -> str:
    """md5 (first 16 hex digits) of the images (quantised to uint8) and labels of both splits.

    Hashing the tensors actually used, rather than trusting a data set name, means a network
    trained on a subset or on synthetic data can never be served for the real data.
    """
    digest = hashlib.md5()
    for split in (train, test):
        q = (split.images.detach().float() * 255.0).round().to(torch.uint8).contiguous()
        digest.update(str(tuple(q.shape)).encode())
        digest.update(q.numpy().tobytes())
        digest.update(split.labels.detach().to(torch.int64).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    """Deterministic kernels on :data:`TRAIN_THREADS` threads for the block, restoring the
    caller's settings afterwards."""
    previous = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(TRAIN_THREADS)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)
        torch.set_num_threads(threads)


@torch.no_grad()
def predict(net: FeatureNet, images: Tensor, *, batch_size: int = _EVAL_BATCH) -> Tensor:
    """Predicted classes: int64 ``(N,)`` for images float ``(N, 1, 28, 28)`` in ``[0, 1]``."""
    was_training = net.training
    net.eval()
    try:
        out = [net(chunk).argmax(1) for chunk in images.split(batch_size)]
    finally:
        net.train(was_training)
    return torch.cat(out) if out else torch.empty(0, dtype=torch.int64)


def accuracy(net: FeatureNet, images: Tensor, labels: Tensor) -> float:
    """Fraction of ``images`` whose predicted class equals ``labels`` (int64 ``(N,)``)."""
    if len(labels) == 0:
        raise ValueError("accuracy needs at least one image")
    return int((predict(net, images) == labels).sum()) / len(labels)


def _augment(x: Tensor, generator: torch.Generator) -> Tensor:
    """Random horizontal flips, each image independently with probability 1/2."""
    flip = torch.rand(x.shape[0], generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def train_feature_net(dataset: str, train: Any, test: Any, *, epochs: int = _EPOCHS,
                      seed: int = _SEED, progress: bool = True) -> tuple[FeatureNet, float, float]:
    """Train a :class:`FeatureNet` with portable kernels in a child process (:func:`train_here`
    under :data:`PORTABLE_ENV`) and measure its test accuracy there.

    Same arguments and return value as :func:`train_here`; the weights do not depend on the CPU,
    the caller's thread count or its kernel settings.

    Raises:
        FeatureNetError: the training process failed (its error is above on stderr).
    """
    blob = train_in_worker("classifier", dataset, train, test, epochs=epochs, seed=seed,
                           progress=progress)
    net = FeatureNet()
    net.load_state_dict(blob["state_dict"])
    net.eval()
    return net, float(blob["test_accuracy"]), float(blob["seconds"])


def train_in_worker(kind: str, dataset: str, train: Any, test: Any, *, epochs: int, seed: int,
                    progress: bool) -> dict[str, Any]:
    """Train a feature network of ``kind`` (``"classifier"``: this module's ``train_here``,
    ``"autoencoder"``: :func:`benchmarks.metrics.aefeatures.train_here`) in a child process
    under :data:`PORTABLE_ENV` (:mod:`benchmarks.metrics.featurenet_worker`); returns what it
    wrote (``state_dict``, ``seconds`` and the kind's quality figures).

    Raises:
        FeatureNetError: the training process failed (its error is above on stderr).
    """
    import subprocess
    import tempfile

    from benchmarks.workers import run_module

    with tempfile.TemporaryDirectory(prefix="sgb-featurenet-") as tmp:
        request, out = Path(tmp) / "request.pt", Path(tmp) / "out.pt"
        atomic_torch_save({"kind": kind, "dataset": dataset, "epochs": int(epochs),
                           "seed": int(seed), "progress": bool(progress),
                           "train_images": train.images.float().contiguous(),
                           "train_labels": train.labels.contiguous(),
                           "test_images": test.images.float().contiguous(),
                           "test_labels": test.labels.contiguous()}, request)
        proc = run_module(sys.executable, "benchmarks.metrics.featurenet_worker", [request, out],
                          env=PORTABLE_ENV, stdout=subprocess.DEVNULL)
        if proc.returncode != 0 or not out.is_file():
            raise FeatureNetError(f"{kind} feature-network training for {dataset!r} exited with "
                                  f"code {proc.returncode} (its error is above on stderr)")
        return load_weights(out)


def train_here(dataset: str, train: Any, test: Any, *, epochs: int = _EPOCHS,
               seed: int = _SEED, progress: bool = True) -> tuple[FeatureNet, float, float]:
    """Train a :class:`FeatureNet` deterministically in this process and measure its test accuracy.

    Deterministic for a given machine and kernel set-up; :func:`train_feature_net` runs this
    under portable kernels so that the machine does not matter either.

    Args:
        dataset: data set name (decides the augmentation).
        train: a split with ``images`` float ``(N, 1, 28, 28)`` in [0, 1] and ``labels`` int64.
        test: the held-out split, same layout.
        epochs: passes over ``train``.
        seed: root seed, split into init / data-order / dropout / augmentation generators.
        progress: show a tqdm bar on stderr.

    Returns:
        ``(net in eval mode, test accuracy in [0, 1], training wall seconds)``.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    x_train, y_train = train.images, train.labels
    n = x_train.shape[0]
    net = FeatureNet()
    init_parameters_(net, make_generator(split_seed(seed, "init")))
    gen_order = make_generator(split_seed(seed, "data"))
    gen_drop = make_generator(split_seed(seed, "dropout"))
    gen_aug = make_generator(split_seed(seed, "augment"))
    augment = dataset in _FLIP_AUGMENT
    steps_per_epoch = math.ceil(n / _BATCH)
    total = epochs * steps_per_epoch
    opt = torch.optim.Adam(net.parameters(), lr=_LR)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total)))
    t0 = time.perf_counter()
    bar = tqdm(total=total, desc=f"feature net [{dataset}]", unit="step", file=sys.stderr,
               disable=not progress, leave=False, dynamic_ncols=True)
    net.train()
    try:
        with _deterministic():
            for _ in range(epochs):
                order = torch.randperm(n, generator=gen_order)
                for step, idx in enumerate(order.split(_BATCH)):
                    if len(idx) < 2:  # batch norm cannot train on a single image
                        bar.update(1)
                        continue
                    x, y = x_train[idx], y_train[idx]
                    if augment:
                        x = _augment(x, gen_aug)
                    feats = net.features(x)
                    # Dropout drawn from our own generator: nn.Dropout would use the global RNG.
                    keep = torch.rand(feats.shape, generator=gen_drop) >= _DROPOUT
                    loss = F.cross_entropy(net.head(feats * keep / (1.0 - _DROPOUT)), y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    bar.update(1)
                    if step % 50 == 0:
                        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    finally:
        bar.close()
    net.eval()
    seconds = time.perf_counter() - t0
    return net, accuracy(net, test.images, test.labels), seconds


def _cache_path(dataset: str, checksum: str, epochs: int) -> Path:
    recipe = FEATURE_NET_VERSION if epochs == _EPOCHS else f"{FEATURE_NET_VERSION}-e{epochs}"
    return cache_root() / "featurenets" / f"{dataset}__{recipe}__{checksum}.pt"


def _info(dataset: str, checksum: str, acc: float, digest: str) -> FeatureNetInfo:
    return FeatureNetInfo(dataset=dataset, version=FEATURE_NET_VERSION, data_checksum=checksum,
                          test_accuracy=acc, name=f"classifier-{FEATURE_NET_VERSION}[{dataset}]",
                          feature_dim=FEATURE_DIM, weights_sha256=digest)


def weights_digest(net: nn.Module) -> str:
    """SHA-256 of a network's parameters and buffers (names, dtypes, shapes and bytes, in order).

    Unlike the cache file's own checksum it does not change when the same recipe is trained
    again to the same weights (the file also holds the training time).
    """
    digest = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def training_splits(dataset: str, train: Any, test: Any) -> tuple[Any, Any, str]:
    """The splits a feature network of ``dataset`` trains and is tested on (loaded where
    ``None``), checked, with their checksum (the cache key).

    Raises:
        TypeError / ValueError: images or labels of the wrong type, shape or range.
    """
    if train is None or test is None:
        from benchmarks import data as datamod

        train = train if train is not None else datamod.load(dataset, "train")
        test = test if test is not None else datamod.load(dataset, "test")
    for what, split in (("train", train), ("test", test)):
        check_images(split.images, f"{what} images")
        _check_labels(split.labels, split.images.shape[0], what)
    return train, test, data_checksum(train, test)


def get_feature_net(dataset: str, *, train: Any = None, test: Any = None, progress: bool = True,
                    epochs: int | None = None,
                    min_accuracy: float | None = None) -> tuple[FeatureNet, FeatureNetInfo]:
    """The data set's feature network: loaded from the cache, or trained, checked and cached.

    Args:
        dataset: ``"mnist"`` or ``"fashion-mnist"`` (any lowercase name when ``train``, ``test``
            and ``min_accuracy`` are all given).
        train: train split (``.images`` float32 ``(N, 1, 28, 28)`` in [0, 1], ``.labels`` int64
            ``(N,)``); default ``benchmarks.data.load(dataset, "train")``.
        test: test split, same layout; default ``benchmarks.data.load(dataset, "test")``.
        progress: tqdm bar on stderr while training.
        epochs: override the recipe's epoch count (for tests; a non-default count gets its own
            cache entry).
        min_accuracy: override the accuracy target (default :data:`MIN_ACCURACY`).

    Returns:
        ``(net in eval mode, info)``.

    Raises:
        ValueError: unknown data set without an explicit target, bad splits, bad options.
        FeatureNetError: the trained network missed its accuracy target (nothing is cached).
    """
    if not isinstance(dataset, str) or not _SAFE_NAME.match(dataset):
        raise ValueError(f"dataset must be a lowercase name like 'mnist', got {dataset!r}")
    if min_accuracy is None:
        if dataset not in MIN_ACCURACY:
            raise ValueError(f"no accuracy target for dataset {dataset!r}; known: "
                             f"{sorted(MIN_ACCURACY)} (or pass min_accuracy)")
        min_accuracy = MIN_ACCURACY[dataset]
    if not 0.0 <= min_accuracy <= 1.0:
        raise ValueError(f"min_accuracy must lie in [0, 1], got {min_accuracy}")
    epochs = _EPOCHS if epochs is None else int(epochs)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    train, test, checksum = training_splits(dataset, train, test)
    path = _cache_path(dataset, checksum, epochs)
    with _cache_lock(path):  # concurrent cells wait for one training instead of each training
        cached = _load_cached(path, checksum, min_accuracy)
        if cached is not None:
            net, acc = cached
            return net, _info(dataset, checksum, acc, weights_digest(net))
        logger.info("training feature net for %s (%s, %d epochs) ...", dataset,
                    FEATURE_NET_VERSION, epochs)
        net, acc, seconds = train_feature_net(dataset, train, test, epochs=epochs,
                                              progress=progress)
        logger.info("feature net %s: test accuracy %.4f after %.1f s", dataset, acc, seconds)
        if acc < min_accuracy:
            raise FeatureNetError(
                f"feature net for {dataset!r} reached test accuracy {acc:.4f} < the target "
                f"{min_accuracy:.4f} ({FEATURE_NET_VERSION}, {epochs} epochs); not cached. "
                f"Check the data, or change the recipe and bump FEATURE_NET_VERSION.")
        meta = {"dataset": dataset, "version": FEATURE_NET_VERSION, "data_checksum": checksum,
                "test_accuracy": acc, "feature_dim": FEATURE_DIM, "epochs": epochs,
                "train_seconds": seconds, "torch_threads": TRAIN_THREADS,
                "kernels": PORTABLE_ENV}
        atomic_torch_save({"state_dict": net.state_dict(), "meta": meta}, path)
        logger.info("feature net cached at %s", path)
        return net, _info(dataset, checksum, acc, weights_digest(net))


def cached_weights_sha256(dataset: str) -> str | None:
    """The weights digest (:func:`weights_digest`) of the feature network the cache holds for
    ``dataset`` under the current recipe, without training anything; ``None`` when there is none,
    more than one (other data), or the file does not verify.

    A resumed run compares it with a record's ``metric_config.feature_net_weights_sha256``: a
    record measured with another extractor is measured again.
    """
    found = sorted((cache_root() / "featurenets").glob(f"{dataset}__{FEATURE_NET_VERSION}__*.pt"))
    if len(found) != 1:
        return None
    try:
        blob = load_weights(found[0])
        net = FeatureNet()
        net.load_state_dict(blob["state_dict"])
    except (IntegrityError, OSError, KeyError, RuntimeError):
        return None
    return weights_digest(net)


@contextlib.contextmanager
def _cache_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<cache file>.lock`` while checking and filling one cache entry.

    Two processes that need the same network (``run --jobs 2``) train it once: the second waits
    here and then loads what the first cached. The operating system drops the lock when its
    holder dies, so a killed training leaves neither a lock nor a cache entry behind (the entry is
    written atomically, after training).
    """
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("waiting for another process that is training %s", path.name)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _verified_blob(path: Path) -> dict[str, Any] | None:
    """The cache file at ``path`` once it verifies against its SHA-256; ``None`` when there is
    none. A file that fails its checksum or cannot be read is moved aside (named in the warning),
    never used: one flipped bit would otherwise move every FID in the last digits."""
    if not path.is_file():
        return None
    try:
        return load_weights(path)
    except IntegrityError as err:
        moved = quarantine(path)
        logger.warning("cached feature network unusable (%s); moved it to %s and retraining",
                       err, moved)
        return None


def _load_cached(path: Path, checksum: str,
                 min_accuracy: float) -> tuple[FeatureNet, float] | None:
    """The cached network at ``path`` with its test accuracy, or ``None`` to retrain.

    A file that fails its checksum or cannot be read is moved aside (named in the warning) and
    retrained, never used: one flipped bit would otherwise move every FID in the last digits.
    """
    blob = _verified_blob(path)
    if blob is None:
        return None
    meta = blob["meta"]
    if meta.get("version") != FEATURE_NET_VERSION or meta.get("data_checksum") != checksum:
        logger.warning("cached feature net %s does not match (version/checksum); retraining",
                       path)
        return None
    acc = float(meta["test_accuracy"])
    if acc < min_accuracy:
        logger.warning("cached feature net %s has accuracy %.4f < target %.4f; retraining",
                       path, acc, min_accuracy)
        return None
    net = FeatureNet()
    net.load_state_dict(blob["state_dict"])
    net.eval()
    logger.info("feature net loaded from %s (test accuracy %.4f)", path, acc)
    return net, acc


def classes_covered(images: Tensor, net: FeatureNet, *, min_fraction: float = 0.01) -> int:
    """How many classes the feature network predicts for at least ``min_fraction`` of the images.

    A mode-collapse check: a generator covering all ten classes scores 10, one stuck on a single
    digit scores 1. (A benchmark cell takes the predictions from the one pass of the network that
    also gives its FID features: :func:`benchmarks.metrics.fidelity.extract`, then
    :func:`class_coverage`.)

    Args:
        images: float ``(N, 1, 28, 28)`` in ``[0, 1]``, ``N >= 1``.
        net: the data set's feature network.
        min_fraction: share of the images a class needs, in ``(0, 1]``.

    Returns:
        An integer in ``[0, num_classes]`` (0 only if ``min_fraction`` exceeds every class share).
    """
    check_images(images, "images")
    return class_coverage(predict(net, images), net.num_classes, min_fraction=min_fraction)


def class_coverage(predictions: Tensor, num_classes: int, *, min_fraction: float = 0.01) -> int:
    """How many of ``num_classes`` classes hold at least ``min_fraction`` of ``predictions``
    (int64 ``(N,)``, ``N >= 1``); see :func:`classes_covered`."""
    if not 0.0 < min_fraction <= 1.0:
        raise ValueError(f"min_fraction must lie in (0, 1], got {min_fraction}")
    if predictions.dim() != 1 or len(predictions) == 0:
        raise ValueError(f"predictions must be a non-empty (N,) tensor, got "
                         f"{tuple(predictions.shape)}")
    counts = torch.bincount(predictions, minlength=num_classes)
    return int((counts.float() >= min_fraction * predictions.shape[0]).sum())


def class_shares(predictions: Tensor, num_classes: int) -> Tensor:
    """The share of ``predictions`` (int64 ``(N,)``, ``N >= 1``) in each class: float64
    ``(num_classes,)`` summing to 1."""
    if predictions.dim() != 1 or len(predictions) == 0:
        raise ValueError(f"predictions must be a non-empty (N,) tensor, got "
                         f"{tuple(predictions.shape)}")
    counts = torch.bincount(predictions, minlength=num_classes).double()
    return counts / counts.sum()


def coverage(shares: Tensor, reference: Tensor, *, min_share: float = 0.05) -> dict[str, float]:
    """Mode coverage of a class histogram, in three numbers that show a collapse.

    Args:
        shares: the samples' class shares (:func:`class_shares`), summing to 1.
        reference: the test split's class shares (summing to 1, every class present).
        min_share: the share a class needs to count as covered (0.05: half a fair share of ten).

    Returns:
        ``{"classes": classes with at least min_share, "top_share": the largest share,
        "kl": KL(shares || reference) in nats}`` — 0 for a histogram equal to the reference,
        ``log 10`` for all samples in one class against a uniform reference.
    """
    shares, reference = shares.double(), reference.double()
    if shares.shape != reference.shape or shares.dim() != 1:
        raise ValueError(f"shares and reference must be (K,) of one size, got "
                         f"{tuple(shares.shape)} and {tuple(reference.shape)}")
    for what, h in (("shares", shares), ("reference", reference)):
        if bool((h < 0).any()) or abs(float(h.sum()) - 1.0) > 1e-6:
            raise ValueError(f"{what} must be non-negative and sum to 1, got {h.tolist()}")
    if bool((reference <= 0).any()):
        raise ValueError("every class must be present in the reference")
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must lie in (0, 1], got {min_share}")
    present = shares > 0
    kl = float((shares[present] * (shares[present] / reference[present]).log()).sum())
    return {"classes": float((shares >= min_share).sum()), "top_share": float(shares.max()),
            "kl": kl}
