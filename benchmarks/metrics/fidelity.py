"""FID, KID and precision/recall on the data set's own feature network, with torch-fidelity's
feature-level functions.

Every metric here is a function of two feature sets: the generated images' and the reference
images'. :func:`reference_features` computes the reference side once per data set and feature
network (its features, its FID statistics and its precision/recall k-NN radii);
:func:`extract` makes one pass of the feature network over a cell's samples, giving both the
features and the class logits (for :func:`~benchmarks.metrics.features.classes_covered`);
:func:`image_quality` then needs nothing of the reference but its :class:`ReferenceFeatures`.
The statistics themselves are torch-fidelity's (``fid_features_to_statistics``,
``fid_statistics_to_metric``, ``kid_features_to_metric``, ``calc_cdist_part``), called with the
arguments its ``calculate_metrics`` would pass, so the numbers are those of a
``calculate_metrics`` call on the same images bit for bit (a test holds the two side by side).

Images go through the network as torch-fidelity would feed them: quantised to uint8
(``round(255 * x)``), divided by 255, in batches of ``batch_size`` in order, under
``torch.no_grad`` with the network in eval mode. Nothing is printed. No Inception weights are
ever downloaded: :func:`inception_fid` runs only with a local weights file.

**Device.** The functions that run a network or compute distances take ``device`` (``None``:
the CPU, exactly as without it): the feature network (a copy of it; the caller's stays where it
is) and the precision/recall distances (``calc_cdist_part``) run there, as torch-fidelity's
``cuda=True`` would run them; the FID statistics and KID are torch-fidelity's NumPy code on the
CPU either way. Inputs and every returned tensor are on the CPU.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from adapters.coding import make_generator
from benchmarks.metrics import keys as K
from benchmarks.metrics.features import FeatureNet, FeatureNetInfo, check_images

logger = logging.getLogger(__name__)

ENV_INCEPTION_WEIGHTS = "SPIKEGENBENCH_INCEPTION_WEIGHTS"
_SKIP_LOGGED: list[bool] = []  # non-empty once the "Inception FID skipped" line was logged
_PR_BATCH = 1000  # rows per distance block of precision/recall (torch-fidelity's prc_batch_size)


class _UInt8Images(Dataset):
    """A torch Dataset over images as torch-fidelity wants them: uint8 ``(C, H, W)`` tensors."""

    def __init__(self, images: Tensor, channels: int = 1) -> None:
        self.images = quantise(images)
        if channels != 1:
            self.images = self.images.expand(-1, channels, -1, -1).contiguous()

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> Tensor:
        return self.images[i]


def quantise(images: Tensor) -> Tensor:
    """Images as the metrics see them: uint8 ``round(255 * x)``."""
    return (images.detach().float() * 255.0).round().clamp_(0, 255).to(torch.uint8)


def _check_positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value


def _check_net(feature_net: Any, info: FeatureNetInfo | None = None) -> None:
    """A feature network is a module with ``features(x)`` and ``feature_dim``: the classifier
    (:class:`FeatureNet`) or the autoencoder (:class:`~benchmarks.metrics.aefeatures.AENet`)."""
    if not (isinstance(feature_net, torch.nn.Module) and callable(getattr(feature_net,
                                                                          "features", None))
            and isinstance(getattr(feature_net, "feature_dim", None), int)):
        raise TypeError(f"feature_net must be a FeatureNet or an AENet (a module with features() "
                        f"and feature_dim), got {type(feature_net).__name__}")
    if info is not None and info.feature_dim != feature_net.feature_dim:
        raise ValueError(f"info.feature_dim {info.feature_dim} does not match the network's "
                         f"{feature_net.feature_dim} ({info.name})")


@contextlib.contextmanager
def _evaluating(net: torch.nn.Module) -> Iterator[Any]:
    """``net`` in eval mode under ``torch.no_grad``; its mode is restored afterwards."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            yield net
    finally:
        net.train(was_training)


@dataclass(frozen=True)
class Extracted:
    """One pass of the feature network over a set of images.

    Attributes:
        features: float32 ``(N, D)`` features (the space of FID/KID/PR).
        logits: float32 ``(N, num_classes)`` class logits of the same pass (a classifier's;
            ``None`` for a network without a ``head``).
    """

    features: Tensor
    logits: Tensor | None

    @property
    def predictions(self) -> Tensor:
        """Predicted classes, int64 ``(N,)``."""
        if self.logits is None:
            raise ValueError("this feature network has no class head: no predictions")
        return self.logits.argmax(1)


def _on(net: torch.nn.Module, device: torch.device | None) -> torch.nn.Module:
    """``net`` itself on the CPU (``device`` ``None`` or the CPU), else a copy of it on
    ``device`` (the caller's network stays where it is: contexts are shipped to workers)."""
    if device is None or torch.device(device).type == "cpu":
        return net
    return copy.deepcopy(net).to(device)


def extract(images: Tensor, feature_net: FeatureNet, *, batch_size: int = 500,
            device: torch.device | None = None) -> Extracted:
    """Features and class logits of ``images`` in one pass (see the module docstring).

    Args:
        images: float ``(N, 1, 28, 28)`` in ``[0, 1]``.
        feature_net: the data set's feature network (its mode is left as it was).
        batch_size: images per batch, as torch-fidelity's ``batch_size``.
        device: where the network runs (``None``: the CPU); the results are on the CPU.
    """
    check_images(images, "images")
    _check_net(feature_net)
    _check_positive_int(batch_size, "batch_size")
    q = quantise(images)
    on_device = _on(feature_net, device)
    head = getattr(on_device, "head", None)
    feats, logits = [], []
    with _evaluating(on_device) as net:
        for chunk in q.split(min(batch_size, len(q))):
            if on_device is not feature_net:
                chunk = chunk.to(device)
            f = net.features(chunk.float() / 255.0)
            feats.append(f.cpu())
            if head is not None:
                logits.append(head(f).cpu())
    return Extracted(torch.cat(feats), torch.cat(logits) if logits else None)


def _to(x: Tensor, device: torch.device | None) -> Tensor:
    """``x`` on ``device`` (itself where ``device`` is ``None``)."""
    return x if device is None else x.to(device)


def _knn_radii(features: Tensor, k: int, device: torch.device | None = None) -> Tensor:
    """Distance of each row of ``features`` to its ``k``-th nearest other row (torch-fidelity's
    precision/recall balls, computed block by block as its ``save_cpu_ram`` path does); the
    distances on ``device``, the radii on the CPU."""
    from torch_fidelity.metric_prc import calc_cdist_part

    features = _to(features, device)
    return torch.cat([calc_cdist_part(block, features, _PR_BATCH).kthvalue(k + 1).values
                      for block in features.split(_PR_BATCH)])


def _share_inside(points: Tensor, centres: Tensor, radii: Tensor,
                  device: torch.device | None = None) -> float:
    """Share of ``points`` inside at least one ball (``centres``, ``radii``); the distances on
    ``device``."""
    from torch_fidelity.metric_prc import calc_cdist_part

    points, centres = _to(points, device), _to(centres, device)
    inside = [(calc_cdist_part(block, centres, _PR_BATCH) <= radii).any(dim=1).float()
              for block in points.split(_PR_BATCH)]
    return torch.cat(inside).mean().item()


@dataclass(frozen=True)
class ReferenceFeatures:
    """What every cell's FID/KID/PR needs of the reference images, computed once.

    Attributes:
        features: float32 ``(M, D)`` features of the reference images.
        mu, sigma: their FID statistics (torch-fidelity's ``fid_features_to_statistics``).
        radii: float32 ``(M,)`` distance of each reference point to its ``pr_neighborhood``-th
            nearest reference neighbour (the precision balls).
        pr_neighborhood: the ``k`` of ``radii``.
        extractor: the feature network's name (``FeatureNetInfo.name``).
    """

    features: Tensor
    mu: np.ndarray
    sigma: np.ndarray
    radii: Tensor
    pr_neighborhood: int
    extractor: str

    @property
    def n(self) -> int:
        return int(self.features.shape[0])


def reference_features(reference: Tensor, *, feature_net: FeatureNet, info: FeatureNetInfo,
                       pr_neighborhood: int = 3, batch_size: int = 500,
                       device: torch.device | None = None) -> ReferenceFeatures:
    """The reference side of :func:`image_quality` for ``reference`` (the test split's first
    ``n_eval`` images), computed once per data set and feature network and reused by every cell.
    The network and the distances run on ``device`` (``None``: the CPU); what is kept is on the
    CPU.

    Raises:
        TypeError / ValueError: bad images, network or options; ``reference`` has no more than
            ``pr_neighborhood`` images.
    """
    from torch_fidelity.metric_fid import fid_features_to_statistics

    check_images(reference, "reference", min_n=2)
    _check_net(feature_net, info)
    _check_positive_int(pr_neighborhood, "pr_neighborhood")
    if reference.shape[0] <= pr_neighborhood:
        raise ValueError(f"precision/recall with pr_neighborhood={pr_neighborhood} need more than "
                         f"{pr_neighborhood} reference images, got {reference.shape[0]}")
    feats = extract(reference, feature_net, batch_size=batch_size, device=device).features
    stats = fid_features_to_statistics(feats)
    return ReferenceFeatures(features=feats, mu=stats["mu"], sigma=stats["sigma"],
                             radii=_knn_radii(feats, pr_neighborhood, device),
                             pr_neighborhood=pr_neighborhood, extractor=info.name)


def _subsample(features: Tensor, n: int, seed: int) -> Tensor:
    if features.shape[0] <= n:
        return features
    idx = torch.randperm(features.shape[0], generator=make_generator(seed))[:n]
    return features[idx.sort().values]


def quality_from_features(generated: Tensor, ref: ReferenceFeatures, *,
                          kid_subset_size: int = 1000, kid_subsets: int = 100,
                          pr_max_samples: int | None = None, seed: int = 2020,
                          device: torch.device | None = None) -> dict[str, float]:
    """FID, KID and precision/recall of generated features ``(N, D)`` against ``ref``.

    See :func:`image_quality` for the metrics and the options; the precision/recall distances
    run on ``device`` (``None``: the CPU).
    """
    from torch_fidelity.metric_fid import (
        KEY_METRIC_FID,
        fid_features_to_statistics,
        fid_statistics_to_metric,
    )
    from torch_fidelity.metric_kid import (
        KEY_METRIC_KID_MEAN,
        KEY_METRIC_KID_STD,
        kid_features_to_metric,
    )

    if generated.dim() != 2 or generated.shape[1] != ref.features.shape[1]:
        raise ValueError(f"generated features must be (N, {ref.features.shape[1]}), got "
                         f"{tuple(generated.shape)}")
    _check_positive_int(kid_subset_size, "kid_subset_size", 2)
    _check_positive_int(kid_subsets, "kid_subsets")
    k = ref.pr_neighborhood
    if pr_max_samples is not None:
        _check_positive_int(pr_max_samples, "pr_max_samples", k + 1)
    n_min = min(generated.shape[0], ref.n)
    if n_min <= k:
        raise ValueError(f"precision/recall with pr_neighborhood={k} need more than {k} images "
                         f"in each set, got {generated.shape[0]} generated and {ref.n} reference")
    if kid_subset_size > n_min:
        logger.info("KID subset size %d > %d images; using %d", kid_subset_size, n_min, n_min)
        kid_subset_size = n_min
    stats = fid_features_to_statistics(generated)
    fid_value = fid_statistics_to_metric(stats, {"mu": ref.mu, "sigma": ref.sigma}, False)
    kid = kid_features_to_metric(generated, ref.features, kid_subsets=kid_subsets,
                                 kid_subset_size=kid_subset_size, rng_seed=seed, verbose=False)
    if pr_max_samples is not None and max(generated.shape[0], ref.n) > pr_max_samples:
        # Both sides subsampled (deterministically): the reference's balls are then its own.
        gen_pr = _subsample(generated, pr_max_samples, seed)
        ref_pr = _subsample(ref.features, pr_max_samples, seed + 1)
        ref_radii = _knn_radii(ref_pr, k, device)
    else:
        gen_pr, ref_pr, ref_radii = generated, ref.features, ref.radii
    gen_radii = _knn_radii(gen_pr, k, device)
    return {
        K.FID: float(fid_value[KEY_METRIC_FID]),
        K.KID: float(kid[KEY_METRIC_KID_MEAN]),
        K.KID_STD: float(kid[KEY_METRIC_KID_STD]),
        # precision: generated points inside the reference's balls; recall: the reverse
        K.PRECISION: float(_share_inside(gen_pr, ref_pr, ref_radii, device)),
        K.RECALL: float(_share_inside(ref_pr, gen_pr, gen_radii, device)),
    }


def image_quality(generated: Tensor, reference: Tensor | ReferenceFeatures, *,
                  feature_net: FeatureNet, info: FeatureNetInfo, kid_subset_size: int = 1000,
                  kid_subsets: int = 100, pr_neighborhood: int = 3,
                  pr_max_samples: int | None = None, batch_size: int = 500,
                  seed: int = 2020) -> dict[str, float]:
    """FID, KID (mean and std over subsets) and improved precision/recall of generated images.

    Precision is the share of generated images inside the reference manifold, recall the share of
    reference images inside the generated one (k-NN balls, ``pr_neighborhood`` neighbours). All
    four are computed on the uint8-quantised images, as torch-fidelity does for image files.

    Args:
        generated: float ``(N, 1, 28, 28)`` in ``[0, 1]``, ``N > pr_neighborhood``.
        reference: float ``(M, 1, 28, 28)`` in ``[0, 1]`` (the test split),
            ``M > pr_neighborhood``; or its :func:`reference_features`, computed once and reused
            (then ``pr_neighborhood`` is the one they were computed with).
        feature_net: the data set's feature network.
        info: its description (checked for a matching feature width).
        kid_subset_size: images per KID subset; clamped to ``min(N, M)``.
        kid_subsets: number of KID subsets.
        pr_neighborhood: ``k`` of the k-NN balls of precision/recall.
        pr_max_samples: if set, precision/recall use a deterministic random subset (``seed``,
            ``seed + 1``) of at most this many features of each set; ``None`` uses all (10k vs
            10k takes a few seconds on one CPU thread, so the default needs no cap).
        batch_size: images per feature-extraction batch.
        seed: the KID subsets' ``rng_seed`` and the PR subsampling seed.

    Returns:
        ``{K.FID, K.KID, K.KID_STD, K.PRECISION, K.RECALL}`` as floats. Precision and recall lie
        in ``[0, 1]``; KID may be slightly negative for near-identical distributions.

    Raises:
        TypeError / ValueError: bad images or options.
    """
    check_images(generated, "generated", min_n=2)
    _check_net(feature_net, info)
    _check_positive_int(pr_neighborhood, "pr_neighborhood")
    _check_positive_int(batch_size, "batch_size")
    if not isinstance(reference, ReferenceFeatures):
        reference = reference_features(reference, feature_net=feature_net, info=info,
                                       pr_neighborhood=pr_neighborhood, batch_size=batch_size)
    elif reference.extractor != info.name:
        raise ValueError(f"reference features of {reference.extractor!r} given with the feature "
                         f"network {info.name!r}")
    feats = extract(generated, feature_net, batch_size=batch_size).features
    return quality_from_features(feats, reference, kid_subset_size=kid_subset_size,
                                 kid_subsets=kid_subsets, pr_max_samples=pr_max_samples, seed=seed)


def fid_from_features(generated: Tensor, ref: ReferenceFeatures) -> float:
    """FID alone of generated features ``(N, D)`` against ``ref``."""
    from torch_fidelity.metric_fid import (
        KEY_METRIC_FID,
        fid_features_to_statistics,
        fid_statistics_to_metric,
    )

    stats = fid_features_to_statistics(generated)
    return float(fid_statistics_to_metric(stats, {"mu": ref.mu, "sigma": ref.sigma},
                                          False)[KEY_METRIC_FID])


def fid(generated: Tensor, reference: Tensor | ReferenceFeatures, *, feature_net: FeatureNet,
        info: FeatureNetInfo | None = None, batch_size: int = 500,
        device: torch.device | None = None) -> float:
    """FID alone; images (and a reusable ``reference``) as in :func:`image_quality`; the network
    runs on ``device`` (``None``: the CPU)."""
    check_images(generated, "generated", min_n=2)
    _check_net(feature_net, info)
    _check_positive_int(batch_size, "batch_size")
    if not isinstance(reference, ReferenceFeatures):
        from torch_fidelity.metric_fid import fid_features_to_statistics

        check_images(reference, "reference", min_n=2)
        feats = extract(reference, feature_net, batch_size=batch_size, device=device).features
        stats = fid_features_to_statistics(feats)
        reference = ReferenceFeatures(feats, stats["mu"], stats["sigma"], torch.empty(0), 0,
                                      info.name if info else "")
    return fid_from_features(extract(generated, feature_net, batch_size=batch_size,
                                     device=device).features, reference)


def anchors(train: Tensor, test: Tensor | None = None, *, feature_net: FeatureNet,
            info: FeatureNetInfo, n: int, seed: int,
            reference: ReferenceFeatures | None = None,
            device: torch.device | None = None) -> dict[str, float]:
    """The two scale anchors printed in every table, under the same feature network.

    * ``K.FID_DATA_FLOOR``: FID of ``n`` real train images (a random subset drawn with ``seed``)
      vs the first ``n`` test images — what a perfect generator would score at this sample size.
    * ``K.FID_NOISE_CEILING``: FID of ``n`` Bernoulli-noise images vs the same test images. Every
      pixel is an independent Bernoulli draw with one probability ``p`` = the mean pixel intensity
      of the whole ``train`` split (so the noise has the data's average brightness), drawn from a
      generator seeded with ``seed + 1``.

    Args:
        train: float ``(N, 1, 28, 28)`` in ``[0, 1]``, ``N >= n``.
        test: float ``(M, 1, 28, 28)`` in ``[0, 1]``, ``M >= n``; may be ``None`` when
            ``reference`` is given.
        feature_net: the data set's feature network; ``info`` its description.
        n: images per side, ``>= 2``.
        seed: seed of the train subset and of the noise.
        reference: the :func:`reference_features` of the first ``n`` test images, if already
            computed (they are not computed again).
        device: where the network runs (``None``: the CPU); the images and their noise are
            drawn on the CPU either way.

    Returns:
        ``{K.FID_DATA_FLOOR: float, K.FID_NOISE_CEILING: float}``.
    """
    check_images(train, "train", min_n=2)
    _check_positive_int(n, "n", 2)
    _check_net(feature_net, info)
    if reference is not None:
        if reference.n != n:
            raise ValueError(f"reference features hold {reference.n} images, not n={n}")
        n_test = n
    else:
        if test is None:
            raise ValueError("anchors need the test images or their reference features")
        check_images(test, "test", min_n=2)
        n_test = test.shape[0]
    if n > min(train.shape[0], n_test):
        raise ValueError(f"n={n} exceeds the available images (train {train.shape[0]}, "
                         f"test {n_test})")
    ref = reference if reference is not None else test[:n]
    real = train[torch.randperm(train.shape[0], generator=make_generator(seed))[:n]]
    p = float(train.mean())
    noise = torch.bernoulli(torch.full((n, 1, 28, 28), p), generator=make_generator(seed + 1))
    return {
        K.FID_DATA_FLOOR: fid(real, ref, feature_net=feature_net, info=info, device=device),
        K.FID_NOISE_CEILING: fid(noise, ref, feature_net=feature_net, info=info, device=device),
    }


def inception_fid(generated: Tensor, reference: Tensor, *,
                  weights_path: str | os.PathLike[str] | None = None,
                  batch_size: int = 100, device: torch.device | None = None) -> float | None:
    """Standard FID with torch-fidelity's ``inception-v3-compat``, only from a local weights file.

    The weights file is ``weights_path`` or else ``$SPIKEGENBENCH_INCEPTION_WEIGHTS`` (a
    torch-fidelity ``pt_inception-2015-12-05-*.pth``). Images are repeated to 3 channels as uint8;
    torch-fidelity's extractor resizes them to 299 x 299 itself (TF1-compatible bilinear).
    Without a configured file nothing is downloaded: one log line says why it was skipped and the
    result is ``None``.

    Args:
        generated: float ``(N, 1, 28, 28)`` in ``[0, 1]``.
        reference: float ``(M, 1, 28, 28)`` in ``[0, 1]``.
        weights_path: path of the Inception weights; ``None`` falls back to the environment.
        batch_size: images per Inception batch.
        device: a CUDA device runs torch-fidelity with ``cuda=True`` on it; anything else (and
            ``None``) on the CPU.

    Returns:
        The Inception FID, or ``None`` when no weights file is configured.

    Raises:
        FileNotFoundError: a weights file is configured but does not exist.
    """
    check_images(generated, "generated", min_n=2)
    check_images(reference, "reference", min_n=2)
    source = "argument weights_path"
    if weights_path is None:
        weights_path = os.environ.get(ENV_INCEPTION_WEIGHTS) or None
        source = f"${ENV_INCEPTION_WEIGHTS}"
    if weights_path is None:
        # One line per process, not per cell: the reason is the same every time.
        log = logger.warning if not _SKIP_LOGGED else logger.debug
        log("Inception FID skipped: no local Inception weights configured (pass "
            "weights_path or set $%s); torch-fidelity would download them, which this "
            "suite never does", ENV_INCEPTION_WEIGHTS)
        _SKIP_LOGGED.append(True)
        return None
    path = Path(weights_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Inception weights file {str(path)!r} (from {source}) does not "
                                f"exist")
    from torch_fidelity import calculate_metrics
    from torch_fidelity.metric_fid import KEY_METRIC_FID

    cuda = device is not None and torch.device(device).type == "cuda"
    with torch.cuda.device(device) if cuda else contextlib.nullcontext():
        out = calculate_metrics(input1=_UInt8Images(generated, channels=3),
                                input2=_UInt8Images(reference, channels=3), fid=True,
                                feature_extractor="inception-v3-compat",
                                feature_extractor_weights_path=str(path), cuda=cuda,
                                verbose=False, cache=False, batch_size=batch_size,
                                save_cpu_ram=True)
    return float(out[KEY_METRIC_FID])
