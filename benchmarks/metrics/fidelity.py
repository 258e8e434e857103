"""FID, KID and precision/recall through torch-fidelity, on the data set's own feature network.

torch-fidelity's ``calculate_metrics`` does the computation; the :class:`FeatureNet` of
:mod:`benchmarks.metrics.features` is registered with torch-fidelity as the feature extractor
``"spikegenbench-featurenet"`` (its penultimate features, layer ``"features"``). torch-fidelity
builds the extractor from a name and keyword arguments, not from an instance, so the network of a
call is lent to it for the duration of that call only: it is put in a private table under a fresh
token, the token travels as ``feature_extractor_weights_path``, and the table entry is removed when
the call returns. The extractor works on a copy, so torch-fidelity's ``eval()`` /
``requires_grad_(False)`` never touch the caller's network.

Images go to torch-fidelity as it expects them: datasets yielding uint8 tensors ``(C, 28, 28)``
(``round(255 * x)``). Everything runs on the CPU, quietly (``verbose=False``: stdout is data), with
torch-fidelity's on-disk cache off and no DataLoader worker processes. No Inception weights are
ever downloaded: :func:`inception_fid` runs only with a local weights file.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from adapters.coding import make_generator
from benchmarks.metrics import keys as K
from benchmarks.metrics.features import FeatureNet, FeatureNetInfo, check_images

logger = logging.getLogger(__name__)

EXTRACTOR_NAME = "spikegenbench-featurenet"
FEATURE_LAYER = "features"
ENV_INCEPTION_WEIGHTS = "SPIKEGENBENCH_INCEPTION_WEIGHTS"
_TOKEN_PREFIX = "spikegenbench-lent-net:"

#: Networks lent to torch-fidelity for the duration of one call, by token (see module docstring).
_LENT: dict[str, FeatureNet] = {}
_TOKENS = itertools.count()
_SKIP_LOGGED: list[bool] = []  # non-empty once the "Inception FID skipped" line was logged


class _UInt8Images(Dataset):
    """A torch Dataset over images as torch-fidelity wants them: uint8 ``(C, H, W)`` tensors."""

    def __init__(self, images: Tensor, channels: int = 1) -> None:
        q = (images.detach().float() * 255.0).round().clamp_(0, 255).to(torch.uint8)
        self.images = q.expand(-1, channels, -1, -1).contiguous() if channels != 1 else q

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> Tensor:
        return self.images[i]


def _extractor_class() -> type:
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    class FeatureNetExtractor(FeatureExtractorBase):
        """torch-fidelity wrapper around a lent :class:`FeatureNet` (uint8 in, features out)."""

        def __init__(self, name: str, features_list: list[str],
                     feature_extractor_weights_path: str | None = None, **kwargs: Any) -> None:
            super().__init__(name, features_list)
            net = _LENT.get(feature_extractor_weights_path or "")
            if net is None:
                raise ValueError(
                    f"feature extractor {name!r} needs a network lent by "
                    f"benchmarks.metrics.fidelity; got token {feature_extractor_weights_path!r}")
            self.net = copy.deepcopy(net).eval()

        @staticmethod
        def get_provided_features_list() -> tuple[str, ...]:
            return (FEATURE_LAYER,)

        @staticmethod
        def get_default_feature_layer_for_metric(metric: str) -> str:
            return FEATURE_LAYER

        @staticmethod
        def can_be_compiled() -> bool:
            return False

        @staticmethod
        def get_dummy_input_for_compile() -> Tensor:
            return torch.zeros(1, 1, 28, 28, dtype=torch.uint8)

        def forward(self, x: Tensor) -> tuple[Tensor, ...]:
            if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 1:
                raise ValueError(f"expected uint8 (N, 1, H, W) images, got {x.dtype} "
                                 f"{tuple(x.shape)}")
            return (self.net.features(x.float() / 255.0),)

    return FeatureNetExtractor


def _ensure_registered() -> None:
    import torch_fidelity
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    if EXTRACTOR_NAME not in FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(EXTRACTOR_NAME, _extractor_class())


@contextlib.contextmanager
def _lend(net: FeatureNet) -> Iterator[str]:
    token = f"{_TOKEN_PREFIX}{next(_TOKENS)}"
    _LENT[token] = net
    try:
        yield token
    finally:
        del _LENT[token]


def _quiet_kwargs(batch_size: int) -> dict[str, Any]:
    return {"cuda": False, "verbose": False, "cache": False, "batch_size": batch_size,
            # save_cpu_ram: no DataLoader worker processes, and chunked k-NN for precision/recall.
            "save_cpu_ram": True}


def _check_positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value


def _subsample(images: Tensor, n: int, seed: int) -> Tensor:
    if images.shape[0] <= n:
        return images
    idx = torch.randperm(images.shape[0], generator=make_generator(seed))[:n]
    return images[idx.sort().values]


def image_quality(generated: Tensor, reference: Tensor, *, feature_net: FeatureNet,
                  info: FeatureNetInfo, kid_subset_size: int = 1000, kid_subsets: int = 100,
                  pr_neighborhood: int = 3, pr_max_samples: int | None = None,
                  batch_size: int = 500, seed: int = 2020) -> dict[str, float]:
    """FID, KID (mean and std over subsets) and improved precision/recall of generated images.

    All four come from one torch-fidelity ``calculate_metrics`` call with the feature network
    registered as its extractor (see the module docstring). Precision is the share of generated
    images inside the reference manifold, recall the share of reference images inside the
    generated one (k-NN balls, ``pr_neighborhood`` neighbours). FID/KID/PR are computed on the
    uint8-quantised images, as torch-fidelity does for image files.

    Args:
        generated: float ``(N, 1, 28, 28)`` in ``[0, 1]``, ``N > pr_neighborhood``.
        reference: float ``(M, 1, 28, 28)`` in ``[0, 1]`` (the test split), ``M > pr_neighborhood``.
        feature_net: the data set's feature network.
        info: its description (checked for a matching feature width).
        kid_subset_size: images per KID subset; clamped to ``min(N, M)``.
        kid_subsets: number of KID subsets.
        pr_neighborhood: ``k`` of the k-NN balls of precision/recall.
        pr_max_samples: if set, precision/recall use a deterministic random subset (``seed``) of
            at most this many images of each set, in a second torch-fidelity call; ``None`` uses
            all (10k vs 10k takes a few seconds on one CPU thread, so the default needs no cap).
        batch_size: images per feature-extraction batch.
        seed: torch-fidelity's ``rng_seed`` (KID subsets) and the PR subsampling seed.

    Returns:
        ``{K.FID, K.KID, K.KID_STD, K.PRECISION, K.RECALL}`` as floats. Precision and recall lie
        in ``[0, 1]``; KID may be slightly negative for near-identical distributions.

    Raises:
        TypeError / ValueError: bad images or options.
    """
    check_images(generated, "generated", min_n=2)
    check_images(reference, "reference", min_n=2)
    if not isinstance(feature_net, FeatureNet):
        raise TypeError(f"feature_net must be a FeatureNet, got {type(feature_net).__name__}")
    if info.feature_dim != feature_net.feature_dim:
        raise ValueError(f"info.feature_dim {info.feature_dim} does not match the network's "
                         f"{feature_net.feature_dim} ({info.name})")
    _check_positive_int(kid_subset_size, "kid_subset_size", 2)
    _check_positive_int(kid_subsets, "kid_subsets")
    _check_positive_int(pr_neighborhood, "pr_neighborhood")
    _check_positive_int(batch_size, "batch_size")
    if pr_max_samples is not None:
        _check_positive_int(pr_max_samples, "pr_max_samples", pr_neighborhood + 1)
    n_min = min(generated.shape[0], reference.shape[0])
    if n_min <= pr_neighborhood:
        raise ValueError(f"precision/recall with pr_neighborhood={pr_neighborhood} need more than "
                         f"{pr_neighborhood} images in each set, got {generated.shape[0]} "
                         f"generated and {reference.shape[0]} reference")
    if kid_subset_size > n_min:
        logger.info("KID subset size %d > %d images; using %d", kid_subset_size, n_min, n_min)
        kid_subset_size = n_min

    from torch_fidelity import calculate_metrics
    from torch_fidelity.metric_fid import KEY_METRIC_FID
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD
    from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL

    _ensure_registered()
    common = {**_quiet_kwargs(batch_size), "feature_extractor": EXTRACTOR_NAME,
              "rng_seed": seed, "prc_neighborhood": pr_neighborhood, "prc_batch_size": 1000}
    split_pr = pr_max_samples is not None and max(generated.shape[0],
                                                  reference.shape[0]) > pr_max_samples
    with _lend(feature_net) as token:
        out = calculate_metrics(input1=_UInt8Images(generated), input2=_UInt8Images(reference),
                                fid=True, kid=True, prc=not split_pr,
                                kid_subset_size=kid_subset_size, kid_subsets=kid_subsets,
                                feature_extractor_weights_path=token, **common)
        if split_pr:
            pr = calculate_metrics(
                input1=_UInt8Images(_subsample(generated, pr_max_samples, seed)),
                input2=_UInt8Images(_subsample(reference, pr_max_samples, seed + 1)),
                prc=True, feature_extractor_weights_path=token, **common)
            out.update(pr)
    return {
        K.FID: float(out[KEY_METRIC_FID]),
        K.KID: float(out[KEY_METRIC_KID_MEAN]),
        K.KID_STD: float(out[KEY_METRIC_KID_STD]),
        K.PRECISION: float(out[KEY_METRIC_PRECISION]),
        K.RECALL: float(out[KEY_METRIC_RECALL]),
    }


def fid(generated: Tensor, reference: Tensor, *, feature_net: FeatureNet,
        batch_size: int = 500) -> float:
    """FID alone (one torch-fidelity call, ``fid=True``); images as in :func:`image_quality`."""
    check_images(generated, "generated", min_n=2)
    check_images(reference, "reference", min_n=2)
    _check_positive_int(batch_size, "batch_size")
    from torch_fidelity import calculate_metrics
    from torch_fidelity.metric_fid import KEY_METRIC_FID

    _ensure_registered()
    with _lend(feature_net) as token:
        out = calculate_metrics(input1=_UInt8Images(generated), input2=_UInt8Images(reference),
                                fid=True, feature_extractor=EXTRACTOR_NAME,
                                feature_extractor_weights_path=token, **_quiet_kwargs(batch_size))
    return float(out[KEY_METRIC_FID])


def anchors(train: Tensor, test: Tensor, *, feature_net: FeatureNet, info: FeatureNetInfo,
            n: int, seed: int) -> dict[str, float]:
    """The two scale anchors printed in every table, under the same feature network.

    * ``K.FID_DATA_FLOOR``: FID of ``n`` real train images (a random subset drawn with ``seed``)
      vs the first ``n`` test images — what a perfect generator would score at this sample size.
    * ``K.FID_NOISE_CEILING``: FID of ``n`` Bernoulli-noise images vs the same test images. Every
      pixel is an independent Bernoulli draw with one probability ``p`` = the mean pixel intensity
      of the whole ``train`` split (so the noise has the data's average brightness), drawn from a
      generator seeded with ``seed + 1``.

    Args:
        train: float ``(N, 1, 28, 28)`` in ``[0, 1]``, ``N >= n``.
        test: float ``(M, 1, 28, 28)`` in ``[0, 1]``, ``M >= n``.
        feature_net: the data set's feature network; ``info`` its description.
        n: images per side, ``>= 2``.
        seed: seed of the train subset and of the noise.

    Returns:
        ``{K.FID_DATA_FLOOR: float, K.FID_NOISE_CEILING: float}``.
    """
    check_images(train, "train", min_n=2)
    check_images(test, "test", min_n=2)
    _check_positive_int(n, "n", 2)
    if n > min(train.shape[0], test.shape[0]):
        raise ValueError(f"n={n} exceeds the available images (train {train.shape[0]}, "
                         f"test {test.shape[0]})")
    if info.feature_dim != feature_net.feature_dim:
        raise ValueError(f"info.feature_dim {info.feature_dim} does not match the network's "
                         f"{feature_net.feature_dim} ({info.name})")
    ref = test[:n]
    real = train[torch.randperm(train.shape[0], generator=make_generator(seed))[:n]]
    p = float(train.mean())
    noise = torch.bernoulli(torch.full((n, 1, 28, 28), p), generator=make_generator(seed + 1))
    return {
        K.FID_DATA_FLOOR: fid(real, ref, feature_net=feature_net),
        K.FID_NOISE_CEILING: fid(noise, ref, feature_net=feature_net),
    }


def inception_fid(generated: Tensor, reference: Tensor, *,
                  weights_path: str | os.PathLike[str] | None = None,
                  batch_size: int = 100) -> float | None:
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

    out = calculate_metrics(input1=_UInt8Images(generated, channels=3),
                            input2=_UInt8Images(reference, channels=3), fid=True,
                            feature_extractor="inception-v3-compat",
                            feature_extractor_weights_path=str(path),
                            **_quiet_kwargs(batch_size))
    return float(out[KEY_METRIC_FID])
