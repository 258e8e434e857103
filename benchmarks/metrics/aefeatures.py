"""The second feature space: the encoder of a convolutional autoencoder trained on the train split.

Every FID, KID and precision/recall of the suite is also computed in this space, so that a ranking
of generators can be checked against a feature space that differs from the classifier's
(:mod:`benchmarks.metrics.features`) in kind, not only in its weights:

* **objective** — reconstruction of the image (binary cross-entropy per pixel), no labels: the
  code keeps what is needed to redraw the strokes, including what a classifier learns to ignore
  (thickness, slant, texture);
* **architecture** — strided convolutions without batch norm or pooling, a 64-unit linear code
  with no non-linearity, and a transposed-convolution decoder.

Architecture (``AENet``)::

    x (N,1,28,28) in [0,1]
    -> conv4x4/2(1->32) -> ReLU -> conv4x4/2(32->64) -> ReLU       (N,64,7,7)
    -> flatten -> linear(3136->64)                                  (N,64)  = features(x)
    -> linear(64->3136) -> ReLU -> convT4x4/2(64->32) -> ReLU -> convT4x4/2(32->1)  = logits

Recipe (``ae-v1``): Adam (lr 1e-3, cosine decay to 0), batch 128, 3 epochs, seeded generators for
the initialisation and the data order, trained like the classifier in a child process with
portable kernels (:data:`benchmarks.metrics.features.PORTABLE_ENV`), so the weights do not depend
on the instruction set or the caller's threads; cached under ``<cache root>/featurenets/`` with its
SHA-256 beside it, verified on load, keyed by the recipe and the data checksum.

Its quality is measured when it is trained and kept in the cache and in every record's
``metric_config``: the test split's reconstruction MSE, and the test accuracy of a linear probe (a
logistic regression on the frozen, standardised codes of the train split). A network that misses
its probe target (:data:`MIN_PROBE_ACCURACY`) is never cached.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from adapters.coding import make_generator, split_seed
from adapters.io import atomic_torch_save
from adapters.seeding import init_parameters_
from benchmarks.metrics import features as clf

logger = logging.getLogger(__name__)

#: Bump whenever the architecture or the recipe changes: part of the cache key and of the config
#: hash of every cell.
AE_VERSION = "ae-v1"
AE_DIM = 64

#: Linear-probe test accuracy the codes must reach before the network is cached and used.
MIN_PROBE_ACCURACY: dict[str, float] = {"mnist": 0.90, "fashion-mnist": 0.75}

_SEED = 20261204
_EPOCHS = 3
_BATCH = 128
_LR = 1e-3
_PROBE_EPOCHS = 30
_PROBE_BATCH = 1024
_PROBE_LR = 1e-2
_EVAL_BATCH = 1000


class AENet(nn.Module):
    """Convolutional autoencoder whose 64-unit code is the second feature space (module docstring).

    ``features(x)`` is the code, ``forward(x)`` the reconstruction's logits.
    """

    def __init__(self, feature_dim: int = AE_DIM) -> None:
        super().__init__()
        if feature_dim < 1:
            raise ValueError(f"feature_dim must be >= 1, got {feature_dim}")
        self.feature_dim = feature_dim
        self.enc1 = nn.Conv2d(1, 32, 4, stride=2, padding=1)
        self.enc2 = nn.Conv2d(32, 64, 4, stride=2, padding=1)
        self.code = nn.Linear(64 * 7 * 7, feature_dim)
        self.expand = nn.Linear(feature_dim, 64 * 7 * 7)
        self.dec1 = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)
        self.dec2 = nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1)

    def features(self, x: Tensor) -> Tensor:
        """The code: float32 ``(N, D)`` for ``x`` float ``(N, 1, 28, 28)`` in ``[0, 1]``."""
        h = F.relu(self.enc2(F.relu(self.enc1(x.float()))))
        return self.code(h.flatten(1))

    def decode(self, z: Tensor) -> Tensor:
        """Reconstruction logits ``(N, 1, 28, 28)`` of codes ``z`` ``(N, D)``."""
        h = F.relu(self.expand(z)).view(-1, 64, 7, 7)
        return self.dec2(F.relu(self.dec1(h)))

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.features(x))


@torch.no_grad()
def _codes(net: AENet, images: Tensor) -> Tensor:
    return torch.cat([net.features(c) for c in images.split(_EVAL_BATCH)])


@torch.no_grad()
def recon_mse(net: AENet, images: Tensor) -> float:
    """Per-pixel MSE of the network's reconstructions (sigmoid of the logits) of ``images``."""
    total = sum(float(((torch.sigmoid(net(c)) - c) ** 2).sum()) for c in images.split(_EVAL_BATCH))
    return total / images.numel()


def probe_accuracy(net: AENet, train: Any, test: Any, *, seed: int = _SEED) -> float:
    """Test accuracy of a logistic regression trained on the frozen, standardised codes of
    ``train`` (Adam, :data:`_PROBE_EPOCHS` epochs, seeded)."""
    x_train, x_test = _codes(net, train.images), _codes(net, test.images)
    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    probe = nn.Linear(x_train.shape[1], clf.NUM_CLASSES)
    init_parameters_(probe, make_generator(split_seed(seed, "probe-init")))
    opt = torch.optim.Adam(probe.parameters(), lr=_PROBE_LR)
    order_gen = make_generator(split_seed(seed, "probe-data"))
    for _ in range(_PROBE_EPOCHS):
        for idx in torch.randperm(len(x_train), generator=order_gen).split(_PROBE_BATCH):
            loss = F.cross_entropy(probe(x_train[idx]), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        return float((probe(x_test).argmax(1) == test.labels).float().mean())


def train_here(dataset: str, train: Any, test: Any, *, epochs: int = _EPOCHS, seed: int = _SEED,
               progress: bool = True) -> tuple[AENet, dict[str, float], float]:
    """Train an :class:`AENet` deterministically in this process and measure its quality.

    Returns:
        ``(net in eval mode, {"recon_mse", "probe_accuracy"}, training wall seconds)``.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    x_train = train.images
    n = x_train.shape[0]
    net = AENet()
    init_parameters_(net, make_generator(split_seed(seed, "init")))
    order_gen = make_generator(split_seed(seed, "data"))
    total = epochs * math.ceil(n / _BATCH)
    opt = torch.optim.Adam(net.parameters(), lr=_LR)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total)))
    t0 = time.perf_counter()
    bar = tqdm(total=total, desc=f"autoencoder features [{dataset}]", unit="step",
               file=sys.stderr, disable=not progress, leave=False, dynamic_ncols=True)
    net.train()
    try:
        with clf._deterministic():
            for _ in range(epochs):
                for step, idx in enumerate(torch.randperm(n, generator=order_gen).split(_BATCH)):
                    x = x_train[idx]
                    loss = F.binary_cross_entropy_with_logits(net(x), x)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    bar.update(1)
                    if step % 50 == 0:
                        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
            net.eval()
            seconds = time.perf_counter() - t0
            quality = {"recon_mse": recon_mse(net, test.images),
                       "probe_accuracy": probe_accuracy(net, train, test, seed=seed)}
    finally:
        bar.close()
    return net, quality, seconds


@dataclass(frozen=True)
class AEInfo(clf.FeatureNetInfo):
    """:class:`~benchmarks.metrics.features.FeatureNetInfo` of the autoencoder space;
    ``test_accuracy`` is its linear probe's, ``recon_mse`` its test reconstruction error."""

    recon_mse: float = math.nan


def _info(dataset: str, checksum: str, quality: dict[str, float], digest: str) -> AEInfo:
    return AEInfo(dataset=dataset, version=AE_VERSION, data_checksum=checksum,
                  test_accuracy=float(quality["probe_accuracy"]),
                  name=f"autoencoder-{AE_VERSION}[{dataset}]", feature_dim=AE_DIM,
                  weights_sha256=digest, recon_mse=float(quality["recon_mse"]))


def cache_path(dataset: str, checksum: str, epochs: int = _EPOCHS) -> Path:
    recipe = AE_VERSION if epochs == _EPOCHS else f"{AE_VERSION}-e{epochs}"
    return clf.cache_root() / "featurenets" / f"{dataset}__{recipe}__{checksum}.pt"


def get_ae_net(dataset: str, *, train: Any = None, test: Any = None, progress: bool = True,
               epochs: int | None = None,
               min_probe_accuracy: float | None = None) -> tuple[AENet, AEInfo]:
    """The data set's autoencoder feature network: loaded from the cache, or trained (portable
    kernels, in a child process), checked against its probe target and cached.

    Arguments as :func:`benchmarks.metrics.features.get_feature_net` (``min_probe_accuracy`` for
    its ``min_accuracy``). Concurrent processes train it once (a file lock); a corrupt cache file
    is moved aside and retrained.

    Raises:
        ValueError: unknown data set without an explicit target, bad splits, bad options.
        FeatureNetError: the codes missed the probe target (nothing is cached).
    """
    if min_probe_accuracy is None:
        if dataset not in MIN_PROBE_ACCURACY:
            raise ValueError(f"no probe target for dataset {dataset!r}; known: "
                             f"{sorted(MIN_PROBE_ACCURACY)} (or pass min_probe_accuracy)")
        min_probe_accuracy = MIN_PROBE_ACCURACY[dataset]
    epochs = _EPOCHS if epochs is None else int(epochs)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    train, test, checksum = clf.training_splits(dataset, train, test)
    path = cache_path(dataset, checksum, epochs)
    with clf._cache_lock(path):
        blob = clf._verified_blob(path)
        if blob is not None and blob["meta"].get("version") == AE_VERSION \
                and blob["meta"].get("data_checksum") == checksum \
                and float(blob["meta"]["probe_accuracy"]) >= min_probe_accuracy:
            net = AENet()
            net.load_state_dict(blob["state_dict"])
            net.eval()
            return net, _info(dataset, checksum, blob["meta"], clf.weights_digest(net))
        logger.info("training the autoencoder feature space for %s (%s, %d epochs) ...",
                    dataset, AE_VERSION, epochs)
        net, quality, seconds = _train_portable(dataset, train, test, epochs, progress)
        logger.info("autoencoder features %s: probe accuracy %.4f, recon MSE %.5f after %.1f s",
                    dataset, quality["probe_accuracy"], quality["recon_mse"], seconds)
        if quality["probe_accuracy"] < min_probe_accuracy:
            raise clf.FeatureNetError(
                f"autoencoder features for {dataset!r} reached probe accuracy "
                f"{quality['probe_accuracy']:.4f} < the target {min_probe_accuracy:.4f} "
                f"({AE_VERSION}, {epochs} epochs); not cached")
        meta = {"dataset": dataset, "version": AE_VERSION, "data_checksum": checksum,
                **quality, "feature_dim": AE_DIM, "epochs": epochs, "train_seconds": seconds,
                "torch_threads": clf.TRAIN_THREADS, "kernels": clf.PORTABLE_ENV}
        atomic_torch_save({"state_dict": net.state_dict(), "meta": meta}, path)
        return net, _info(dataset, checksum, quality, clf.weights_digest(net))


def _train_portable(dataset: str, train: Any, test: Any, epochs: int,
                    progress: bool) -> tuple[AENet, dict[str, float], float]:
    """:func:`train_here` in a child process under portable kernels (the feature-net worker)."""
    blob = clf.train_in_worker("autoencoder", dataset, train, test, epochs=epochs, seed=_SEED,
                               progress=progress)
    net = AENet()
    net.load_state_dict(blob["state_dict"])
    net.eval()
    return net, blob["quality"], float(blob["seconds"])
