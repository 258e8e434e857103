"""STDP backend: the STDP-learned spike code of :mod:`adapters.stdp_features`, a local-rule decoder
and a Bernoulli-mixture prior over the code (no backpropagation anywhere).

On top of the feature learner (DoG, rank code, STDP conv IF layers -> a binary code
``c ∈ {0,1}^D`` per image):

5. a linear **decoder** ``x̂ = clamp(b + Wᵀc, 0, 1)`` trained with the delta rule (or its batch
   limit, ridge least squares) — each weight learns from its own pre-synaptic spike and its
   post-synaptic pixel error;
6. a **mixture of multivariate Bernoullis** over codes, fitted by EM; ``sample`` draws spike codes
   from it and decodes them (the encoder is not run).

Importing this module imports spyker (through :mod:`adapters.stdp_features`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from adapters.base import FitReport, GenerativeAdapter, OpCounts, ProgressFn, config_field
from adapters.coding import make_generator, split_seed
from adapters.io import atomic_torch_save, load_weights
from adapters.opcount import OpCounter
from adapters.stdp_features import (
    StdpFeatureConfig,
    StdpFeatures,
    spike_events,
    spyker,
    stdp_convergence,
)
from adapters.torch_adapter import check_images, check_n

logger = logging.getLogger(__name__)

PIXELS = 28 * 28
Decoder = Literal["ridge", "delta"]
DECODERS: tuple[str, ...] = ("ridge", "delta")


@torch.no_grad()
def fit_bernoulli_mixture(
    codes: Tensor, n_components: int, *, iters: int, generator: torch.Generator,
    smoothing: float = 1e-2, tol: float = 1e-5,
) -> tuple[Tensor, Tensor, list[float]]:
    """Mixture of multivariate Bernoullis fitted by EM (log-domain responsibilities).

    ``p(c) = Σ_k π_k Π_d μ_kd^c_d (1 - μ_kd)^(1 - c_d)``. Initialisation: ``K`` distinct data
    points drawn with ``generator``, each blended half-and-half with the data mean. M-step with a
    symmetric Beta(1 + s, 1 + s) prior on every ``μ_kd`` (``s = smoothing``), which keeps ``μ`` in
    ``(0, 1)`` and the log-likelihood finite.

    Args:
        codes: ``(N, D)`` binary codes (any float/int dtype, values in ``{0, 1}``).
        n_components: ``K >= 1``.
        iters: maximum EM iterations (stops earlier when the mean log-likelihood gains < ``tol``).
        generator: seeds the initialisation.
        smoothing: Beta-prior pseudo-count ``s > 0``.
        tol: stopping tolerance on the per-sample log-likelihood (nats).

    Returns:
        ``(log_pi (K,), mu (K, D), history)``: float32 log mixing weights, float32 Bernoulli means in
        ``(0, 1)``, and the mean log-likelihood per sample after each E-step.
    """
    if codes.dim() != 2 or len(codes) == 0:
        raise ValueError(f"codes must be a non-empty (N, D) tensor, got shape {tuple(codes.shape)}")
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}")
    z = codes.to(torch.float64)
    n, d = z.shape
    k = min(n_components, n)
    pick = torch.randperm(n, generator=generator)[:k]
    mean = z.mean(0, keepdim=True)
    mu = (0.5 * z[pick] + 0.5 * mean).clamp(1e-3, 1 - 1e-3)
    if k < n_components:  # fewer points than components: repeat, keeping K rows
        mu = mu[torch.arange(n_components) % k]
    log_pi = torch.full((n_components,), -math.log(n_components), dtype=torch.float64)
    history: list[float] = []
    for _ in range(iters):
        log_mu, log_1mu = torch.log(mu), torch.log1p(-mu)
        joint = z @ (log_mu - log_1mu).T + log_1mu.sum(1) + log_pi  # (N, K)
        log_norm = torch.logsumexp(joint, dim=1, keepdim=True)
        history.append(float(log_norm.mean()))
        resp = torch.exp(joint - log_norm)
        nk = resp.sum(0)
        log_pi = torch.log((nk + 1e-10) / (n + 1e-10 * n_components))
        mu = (resp.T @ z + smoothing) / (nk[:, None] + 2.0 * smoothing)
        if len(history) > 1 and abs(history[-1] - history[-2]) < tol:
            break
    return log_pi.float(), mu.float(), history


@torch.no_grad()
def fit_linear_decoder(
    codes: Tensor, targets: Tensor, *, method: str = "ridge", ridge: float = 1.0,
    lr: float = 0.05, epochs: int = 5, batch_size: int = 256,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Fit ``y ≈ b + c W`` with a local rule: ridge least squares or the delta rule.

    Delta (Widrow-Hoff) rule with weight decay, per weight ``w_ji`` from input spike ``c_j`` to
    output ``i``: ``Δw_ji = η (c_j e_i - λ' w_ji)``, ``Δb_i = η e_i``, ``e_i = y_i - ŷ_i`` — a
    pre-synaptic spike times a post-synaptic error, nothing else. Its fixed point over the whole
    batch is the ridge solution ``W = (C̃ᵀC̃ + λI)⁻¹ C̃ᵀỸ`` on centred data (``b`` then absorbs the
    means), which ``method="ridge"`` computes in closed form: the same local rule run to
    convergence, in one exact step instead of many noisy ones.

    Args:
        codes: ``(N, D)`` inputs (binary spikes for the decoder).
        targets: ``(N, P)`` targets.
        method: ``"ridge"`` or ``"delta"``.
        ridge: ``λ >= 0`` (ridge); the delta rule uses ``λ' = λ / N`` per sample.
        lr: delta-rule learning rate ``η > 0`` (scaled by ``1 / mean spikes per input``).
        epochs, batch_size: delta-rule passes and mini-batch size.
        generator: delta-rule data order.

    Returns:
        ``(W (D, P), b (P,))`` float32.
    """
    if method not in DECODERS:
        raise ValueError(f"unknown decoder method {method!r}; allowed: {list(DECODERS)}")
    c = codes.to(torch.float64)
    y = targets.to(torch.float64)
    n, d = c.shape
    if method == "ridge":
        c_mean, y_mean = c.mean(0), y.mean(0)
        cc = c - c_mean
        gram = cc.T @ cc
        gram.diagonal().add_(ridge)
        w = torch.linalg.solve(gram, cc.T @ (y - y_mean))
        b = y_mean - c_mean @ w
        return w.float(), b.float()
    gen = generator if generator is not None else make_generator(0)
    w = torch.zeros(d, y.shape[1], dtype=torch.float64)
    b = y.mean(0).clone()
    # Normalise the step by the input's mean squared norm so one lr fits any code width.
    eta = lr / max(float((c * c).sum(1).mean()), 1.0)
    decay = ridge / max(n, 1)
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=gen).split(batch_size):
            err = y[idx] - (b + c[idx] @ w)
            w += eta * (c[idx].T @ err / len(idx) - decay * w)
            b += eta * err.mean(0)
    return w.float(), b.float()


# --------------------------------------------------------------------------------------------
# The adapter
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ReadoutConfig(StdpFeatureConfig):
    """The read-out fits' config fields (see :class:`StdpAE.Config`)."""

    n_encode: int = config_field(10000, ge=0)
    encode_batch: int = config_field(128, ge=1)
    decoder: Decoder = "ridge"
    decoder_ridge: float = config_field(10.0, ge=0.0)
    decoder_lr: float = config_field(0.5, gt=0.0)
    decoder_epochs: int = config_field(5, ge=1)
    n_components: int = config_field(20, ge=1)
    em_iters: int = config_field(50, ge=1)
    em_smoothing: float = config_field(1e-2, gt=0.0)


class StdpAE(GenerativeAdapter):
    """STDP-trained convolutional spiking encoder + delta-rule decoder + Bernoulli-mixture prior.

    Encoder: :class:`~adapters.stdp_features.StdpFeatures` (non-leaky IF neurons, one spike at most
    per neuron per image; equations and STDP rule in :mod:`adapters.stdp_features`)::

        V_i(t) = V_i(t-1) + Σ_j w_ij s_j(t),   fires once at t_i = min{t : V_i(t) >= θ_l}

    Decoder: ``x̂ = clamp(b + Wᵀc, 0, 1)`` from the code ``c ∈ {0,1}^D`` (accumulates only: every
    code spike adds its 784 weights); ``b`` is the output units' resting value. Prior: mixture of
    ``n_components`` multivariate Bernoullis fitted by EM on training codes.

    Runs on the CPU whatever device a run asks for (:meth:`device_unsupported` says why in the
    record): the encoder is spyker's, fed and counted through CPU tensors.
    """

    name: ClassVar[str] = "stdp-ae"
    backend: ClassVar[str] = "stdp"
    family: ClassVar[str] = "autoencoder"
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample", "reconstruct"})

    @dataclass(frozen=True)
    class Config(_ReadoutConfig):
        """:class:`~adapters.stdp_features.StdpFeatureConfig`'s fields, then these (not tuned;
        set once with the encoder's defaults):

        Attributes:
            n_encode: training images encoded to fit the decoder and the prior (0 = all).
                10,000: enough codes for a 20-component mixture, at a tenth of the encoding time.
            encode_batch: images per encoder call (bounds memory). 128.
            decoder: ``"ridge"`` (closed-form batch limit of the delta rule) or ``"delta"``.
                Ridge: the delta rule's fixed point in one exact step.
            decoder_ridge: ``λ >= 0`` of the ridge / weight decay of the delta rule. 10.
            decoder_lr: delta-rule learning rate ``> 0``. 0.5.
            decoder_epochs: delta-rule passes. 5.
            n_components: mixture components ``K``. 20.
            em_iters: maximum EM iterations. 50.
            em_smoothing: Beta-prior pseudo-count ``> 0`` on the Bernoulli means. 0.01: keeps
                ``μ`` off 0 and 1, so every code keeps a finite likelihood.
        """

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        self.features = StdpFeatures(c)
        self.code_dim = self.features.code_dim
        self.decoder = nn.Linear(self.code_dim, PIXELS)
        self.prior_log_pi = torch.full((c.n_components,), -math.log(c.n_components))
        self.prior_mu = torch.full((c.n_components, self.code_dim), 0.5)
        self._fitted = False
        self._counts: OpCounts | None = None

    @torch.no_grad()
    def encode(self, x: Tensor, *, counter: OpCounter | None = None,
               show_progress: bool = False) -> Tensor:
        """Spike codes of images: float32 ``(N, code_dim)`` in ``{0, 1}`` (see
        :meth:`adapters.stdp_features.StdpFeatures.encode`).

        Args:
            x: float32 ``(N, 1, 28, 28)`` in ``[0, 1]``.
            counter: if given, the encoder's measured operations are added to it.
            show_progress: tqdm bar on stderr.
        """
        check_images(x)
        return self.features.encode(x, batch=self.config.encode_batch, counter=counter,
                                    show_progress=show_progress)

    # -- training -------------------------------------------------------------------------------
    def fit(self, train: Tensor, *, seed: int, progress: ProgressFn | None = None) -> FitReport:
        check_images(train)
        if len(train) < 2:
            raise ValueError(f"fit needs at least 2 training images, got {len(train)}")
        c = self.config
        t0 = time.perf_counter()
        self.features.set_threads()
        # spyker's own RNG (used nowhere we rely on, but seeded so nothing depends on history).
        spyker.random_seed(int(split_seed(seed, "spyker") % (2**31 - 1)))
        self.features.init_kernels(make_generator(split_seed(seed, "init")))
        data_gen = make_generator(split_seed(seed, "data"))
        stdp_batches = [c.stdp_epochs * math.ceil(min(n, len(train)) / c.stdp_batch)
                        for n in c.stdp_images]
        total = sum(stdp_batches) + 3
        history: dict[str, list[float]] = {}
        extra: dict[str, float] = {}
        done = 0
        for layer in range(self.features.n_layers):
            pick = torch.randperm(len(train), generator=data_gen)[:c.stdp_images[layer]]
            t_layer = time.perf_counter()
            done, curve = self.features.train_layer(layer, train[pick], data_gen, progress, done,
                                                    total)
            history[f"stdp_convergence_l{layer + 1}"] = curve
            extra[f"stdp_convergence_l{layer + 1}"] = curve[-1]
            extra[f"stdp_seconds_l{layer + 1}"] = time.perf_counter() - t_layer
            logger.info("STDP layer %d: C_l = %.4f after %d images", layer + 1, curve[-1],
                        c.stdp_epochs * len(pick))

        n_enc = len(train) if c.n_encode == 0 else min(c.n_encode, len(train))
        pick = torch.randperm(len(train), generator=data_gen)[:n_enc]
        t_enc = time.perf_counter()
        codes = self.encode(train[pick])
        extra["encode_seconds"] = time.perf_counter() - t_enc
        done += 1
        if progress is not None:
            progress(done, total, {"code_rate": float(codes.mean())})

        t_dec = time.perf_counter()
        targets = train[pick].reshape(n_enc, -1)
        w, b = fit_linear_decoder(codes, targets, method=c.decoder, ridge=c.decoder_ridge,
                                  lr=c.decoder_lr, epochs=c.decoder_epochs,
                                  generator=make_generator(split_seed(seed, "decoder")))
        with torch.no_grad():
            self.decoder.weight.copy_(w.T)
            self.decoder.bias.copy_(b)
            train_mse = float(((self.decoder(codes).clamp(0, 1) - targets) ** 2).mean())
        extra["decoder_seconds"] = time.perf_counter() - t_dec
        done += 1
        if progress is not None:
            progress(done, total, {"decoder_mse": train_mse})

        t_em = time.perf_counter()
        log_pi, mu, em_curve = fit_bernoulli_mixture(
            codes, c.n_components, iters=c.em_iters, smoothing=c.em_smoothing,
            generator=make_generator(split_seed(seed, "em-init")))
        self.prior_log_pi, self.prior_mu = log_pi, mu
        extra["em_seconds"] = time.perf_counter() - t_em
        done += 1
        if progress is not None:
            progress(done, total, {"em_loglik": em_curve[-1]})
        self._fitted = True

        history["em_loglik"] = em_curve
        extra.update({
            "code_dim": float(self.code_dim),
            "code_rate": float(codes.mean()),          # fraction of code units that spike
            "code_sparsity": float(1.0 - codes.mean()),
            "code_spikes_per_image": float(codes.sum(1).mean()),
            "decoder_train_mse": train_mse,
            "em_loglik_per_sample": em_curve[-1],
            "em_iterations": float(len(em_curve)),
            "n_encoded": float(n_enc),
        })
        return FitReport(epochs=c.stdp_epochs, steps=max(done, 1),
                         train_seconds=time.perf_counter() - t0, history=history, extra=extra)

    def device_unsupported(self, device: torch.device) -> str:
        """Why the STDP backend stays on the CPU: spyker's build here, or its CUDA path."""
        if device.type == "cuda" and not spyker.cuda_available():
            return ("the STDP backend runs spyker on the CPU: the spyker installed here has no "
                    "CUDA (spyker.cuda_available() is False)")
        return (f"the STDP backend runs spyker on the CPU: its encoder, STDP updates and op "
                f"counts take CPU tensors; spyker's own {device.type} path is not used")

    # -- queries --------------------------------------------------------------------------------
    def _require_fit(self) -> None:
        if not self._fitted:
            raise RuntimeError(f"{self.name}: call fit() or load() first")

    def op_counts(self) -> OpCounts:
        if self._counts is None:
            raise RuntimeError(f"{self.name}: op_counts() needs a sample() or reconstruct() first")
        return self._counts

    @torch.no_grad()
    def _decode(self, codes: Tensor, counter: OpCounter) -> Tensor:
        counter.add_layer_input(self.decoder, codes, name="decoder")  # spikes x 784 accumulates
        return self.decoder(codes).clamp(0.0, 1.0).reshape(-1, 1, 28, 28)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> Tensor:
        """Draw ``n`` spike codes from the Bernoulli mixture and decode them.

        The code is one Bernoulli draw per unit (one time step); the encoder does not run, so the
        counts hold the prior's spikes and the decoder's accumulates only.

        Returns:
            float32 ``(n, 1, 28, 28)`` in ``[0, 1]``.
        """
        check_n(n)
        self._require_fit()
        gen = make_generator(split_seed(seed, "noise"))
        comp = torch.multinomial(self.prior_log_pi.exp(), n, replacement=True, generator=gen)
        codes = torch.bernoulli(self.prior_mu[comp], generator=gen)
        counter = OpCounter()
        counter.add_spikes("prior", codes.unsqueeze(0), batch_dim=1, source=True)
        out = self._decode(codes, counter)
        self._counts = counter.counts(n_samples=n, timesteps=1)
        return out

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Encode (DoG, rank code, STDP layers) and decode; counts cover both.

        Returns:
            float32, same shape as ``x``, in ``[0, 1]``.
        """
        check_images(x)
        self._require_fit()
        counter = OpCounter()
        codes = self.encode(x, counter=counter)
        out = self._decode(codes, counter)
        self._counts = counter.counts(n_samples=len(x), timesteps=self.config.timesteps)
        return out

    def filters(self) -> Tensor:
        """Learned first-layer weights: float32 ``(C1, 2, k, k)`` in ``[0, 1]`` (on, off)."""
        return self.features.kernel(0)

    def learned_filters(self) -> Tensor:
        """First-layer filters as on-minus-off weights: float32 ``(C1, k, k)`` in ``[-1, 1]``."""
        w = self.filters()
        return (w[:, 0] - w[:, 1]).to(torch.float32)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        self._require_fit()
        atomic_torch_save({
            "config": dataclasses.asdict(self.config),
            "kernels": [self.features.kernel(i) for i in range(self.features.n_layers)],
            "decoder": self.decoder.state_dict(),
            "prior_log_pi": self.prior_log_pi.clone(),
            "prior_mu": self.prior_mu.clone(),
        }, path)

    def load(self, path: str | Path) -> None:
        blob = load_weights(path)
        saved = {k: list(v) if isinstance(v, (tuple, list)) else v
                 for k, v in dict(blob["config"]).items()}
        current = {k: list(v) if isinstance(v, tuple) else v
                   for k, v in dataclasses.asdict(self.config).items()}
        if saved != current:
            raise ValueError(f"{path} was saved with config {saved}, not {current}")
        for layer, kernel in enumerate(blob["kernels"]):
            self.features.set_kernel(layer, kernel)
        self.decoder.load_state_dict(blob["decoder"])
        self.prior_log_pi = blob["prior_log_pi"]
        self.prior_mu = blob["prior_mu"]
        self._fitted = True


__all__ = ["StdpAE", "fit_bernoulli_mixture", "fit_linear_decoder", "spike_events",
           "stdp_convergence"]
