"""STDP backend: a spiking convolutional encoder learned with STDP, a local-rule decoder and a
Bernoulli-mixture prior over the spike code (no backpropagation anywhere).

Pipeline (Kheradpisheh et al. 2018; Mozafari et al. 2019, SpykeTorch), run on the ``spyker`` engine:

1. **DoG** on/off-centre filtering of the pixels (real-valued: counted as MACs);
2. **rank-order (latency) coding** over ``T`` steps: every positive DoG response spikes once,
   stronger responses earlier;
3. one or two **convolutional IF layers**, each trained layer by layer with STDP under k-winner-
   take-all, with lateral inhibition and max pooling (first spike wins) between them;
4. the **code** of an image is the binary map ``c ∈ {0,1}^D`` of which last-layer neurons (after
   pooling) fired within ``T`` steps, flattened;
5. a linear **decoder** ``x̂ = clamp(b + Wᵀc, 0, 1)`` trained with the delta rule (or its batch
   limit, ridge least squares) — each weight learns from its own pre-synaptic spike and its
   post-synaptic pixel error;
6. a **mixture of multivariate Bernoullis** over codes, fitted by EM; ``sample`` draws spike codes
   from it and decodes them (the encoder is not run).

spyker (BSD-3) is a C++ engine that takes and returns torch tensors; this module is the only one
that imports it. Its spike tensors are batch-first and *cumulative* (``S[n, t] = 1`` from a
neuron's first spike onward); at the boundary to the op counter they are turned into time-first
``(T, N, ...)`` spike events (1 only at the step a neuron fires).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from adapters.base import FitReport, GenerativeAdapter, OpCounts, ProgressFn
from adapters.coding import make_generator, split_seed
from adapters.io import atomic_torch_save, load_weights
from adapters.opcount import OpCounter, connection_count
from adapters.torch_adapter import check_images

try:
    import spyker
except ModuleNotFoundError as _err:  # keep err.name so the registry adds the install hint
    raise ModuleNotFoundError(
        "the STDP backend (adapters.stdp) needs the optional library 'spyker'; install it with: "
        "pip install -e '.[stdp]' (or run it through tox -e tests / tox -e quick)",
        name="spyker",
    ) from _err

logger = logging.getLogger(__name__)

PIXELS = 28 * 28
DECODERS = ("ridge", "delta")


# --------------------------------------------------------------------------------------------
# Small pieces (pure torch, usable and tested without a fitted model)
# --------------------------------------------------------------------------------------------

def stdp_convergence(weights: Tensor) -> float:
    """SpykeTorch's convergence measure ``C_l = Σ w(1 - w) / n_w`` of weights in ``[0, 1]``.

    0 when every weight sits at 0 or 1 (a converged STDP layer); 0.25 at most (all at 0.5).
    """
    w = weights.detach().double()
    return float((w * (1.0 - w)).mean().item())


def spike_events(cumulative: Tensor) -> Tensor:
    """Turn a cumulative spike tensor into time-first spike events.

    Args:
        cumulative: ``(N, T, ...)`` uint8/bool/float in ``{0, 1}``, non-decreasing along ``T``
            (spyker's layout: 1 from a neuron's first spike onward).

    Returns:
        ``(T, N, ...)`` uint8, 1 exactly at the step each neuron first fires.
    """
    c = cumulative.to(torch.uint8).transpose(0, 1)
    events = c.clone()
    events[1:] -= c[:-1]
    return events


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

class StdpAE(GenerativeAdapter):
    """STDP-trained convolutional spiking encoder + delta-rule decoder + Bernoulli-mixture prior.

    Neurons (non-leaky integrate-and-fire, one spike at most per neuron per image, as in
    Kheradpisheh 2018): for layer ``l`` with input spikes ``s_j(t) ∈ {0,1}``,

        V_i(t) = V_i(t-1) + Σ_j w_ij s_j(t),   V_i(0) = 0,
        neuron i fires at t_i = min{t : V_i(t) >= θ_l}, and never again within the T steps.

    Lateral inhibition: at each position only the earliest-firing feature map keeps its spike
    (ties: larger potential). Pooling: max over the window (the first spike passes).

    STDP (multiplicative, on k winners per image picked by k-WTA with inhibition radius r):
    ``Δw_ij = a⁺ w_ij (1 - w_ij)`` if ``t_j <= t_i`` else ``a⁻ w_ij (1 - w_ij)`` (``a⁻ < 0``);
    ``a⁺`` and ``a⁻`` are multiplied by ``stdp_lr_growth`` every ``stdp_lr_every`` images until
    ``a⁺`` reaches ``stdp_lr_max``. Weights start at ``N(init_mean, init_std)``, stay in [0, 1].

    Decoder: ``x̂ = clamp(b + Wᵀc, 0, 1)`` from the code ``c ∈ {0,1}^D`` (accumulates only: every
    code spike adds its 784 weights); ``b`` is the output units' resting value. Prior: mixture of
    ``n_components`` multivariate Bernoullis fitted by EM on training codes.
    """

    name: ClassVar[str] = "stdp-ae"
    backend: ClassVar[str] = "stdp"
    family: ClassVar[str] = "autoencoder"
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample", "reconstruct"})

    @dataclass(frozen=True)
    class Config:
        """Hyper-parameters; the per-layer tuples all have one entry per conv layer (1 or 2).

        Attributes:
            timesteps: rank-code length ``T``.
            dog_size: DoG half window (kernel ``2·size + 1``); padding keeps 28x28.
            dog_sigmas: ``(σ_centre, σ_surround)``; gives on (σc, σs) and off (σs, σc) channels.
            channels: feature maps per conv layer.
            kernels: odd kernel size per conv layer ("same" padding).
            thresholds: firing threshold ``θ_l`` per layer.
            pools: max-pooling window (= stride) after each layer.
            wta_k: STDP winners per image per layer.
            wta_radius: k-WTA inhibition radius per layer.
            stdp_lr: ``(a⁺, a⁻)`` initial STDP rates, ``a⁺ > 0 > a⁻``.
            stdp_lr_max: cap on ``a⁺`` during the growth schedule.
            stdp_lr_growth: factor applied every ``stdp_lr_every`` images (1 = constant).
            stdp_lr_every: images between growth steps.
            stdp_images: training images used for STDP, per layer.
            stdp_epochs: passes over those images per layer.
            stdp_batch: images per STDP update.
            init_mean, init_std: initial weight distribution.
            n_encode: training images encoded to fit the decoder and the prior (0 = all).
            encode_batch: images per encoder call (bounds memory).
            decoder: ``"ridge"`` (closed-form batch limit of the delta rule) or ``"delta"``.
            decoder_ridge: ``λ`` of the ridge / weight decay of the delta rule.
            decoder_lr: delta-rule learning rate.
            decoder_epochs: delta-rule passes.
            n_components: mixture components ``K``.
            em_iters: maximum EM iterations.
            em_smoothing: Beta-prior pseudo-count on the Bernoulli means.
        """

        timesteps: int = 15
        dog_size: int = 3
        dog_sigmas: tuple[float, float] = (1.0, 2.0)
        channels: tuple[int, ...] = (32,)
        kernels: tuple[int, ...] = (5,)
        thresholds: tuple[float, ...] = (12.0,)
        pools: tuple[int, ...] = (4,)
        wta_k: tuple[int, ...] = (5,)
        wta_radius: tuple[int, ...] = (2,)
        stdp_lr: tuple[float, float] = (0.004, -0.003)
        stdp_lr_max: float = 0.15
        stdp_lr_growth: float = 2.0
        stdp_lr_every: int = 200
        stdp_images: tuple[int, ...] = (3000,)
        stdp_epochs: int = 1
        stdp_batch: int = 16
        init_mean: float = 0.8
        init_std: float = 0.05
        n_encode: int = 10000
        encode_batch: int = 128
        decoder: str = "ridge"
        decoder_ridge: float = 10.0
        decoder_lr: float = 0.5
        decoder_epochs: int = 5
        n_components: int = 20
        em_iters: int = 50
        em_smoothing: float = 1e-2

        def __post_init__(self) -> None:
            def bad(field: str, allowed: str) -> ValueError:
                return ValueError(f"StdpAE.Config.{field} = {getattr(self, field)!r} is invalid; "
                                  f"allowed: {allowed}")

            for name in ("timesteps", "dog_size", "stdp_lr_every", "stdp_epochs", "stdp_batch",
                         "encode_batch", "decoder_epochs", "n_components", "em_iters"):
                value = getattr(self, name)
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise bad(name, "an int >= 1")
            if self.timesteps < 2:
                raise bad("timesteps", "an int >= 2 (rank coding needs at least 2 steps)")
            if isinstance(self.n_encode, bool) or not isinstance(self.n_encode, int) \
                    or self.n_encode < 0:
                raise bad("n_encode", "an int >= 0 (0 = every training image)")
            if len(self.dog_sigmas) != 2 or not all(s > 0 for s in self.dog_sigmas) \
                    or self.dog_sigmas[0] == self.dog_sigmas[1]:
                raise bad("dog_sigmas", "two different positive floats (centre, surround)")
            n_layers = len(self.channels)
            if n_layers not in (1, 2):
                raise bad("channels", "a tuple of 1 or 2 positive ints (one per conv layer)")
            for name in ("channels", "kernels", "thresholds", "pools", "wta_k", "wta_radius",
                         "stdp_images"):
                value = getattr(self, name)
                if len(value) != n_layers:
                    raise bad(name, f"a tuple with one entry per conv layer ({n_layers})")
            for name in ("channels", "pools", "wta_k", "stdp_images"):
                if not all(isinstance(v, int) and v >= 1 for v in getattr(self, name)):
                    raise bad(name, "positive ints")
            if not all(isinstance(v, int) and v >= 1 and v % 2 == 1 for v in self.kernels):
                raise bad("kernels", "odd positive ints")
            if not all(isinstance(v, int) and v >= 0 for v in self.wta_radius):
                raise bad("wta_radius", "ints >= 0")
            if not all(v > 0 for v in self.thresholds):
                raise bad("thresholds", "positive floats")
            size = 28
            for pool in self.pools:
                size //= pool
                if size < 1:
                    raise bad("pools", "windows that leave at least a 1x1 map of the 28x28 input")
            if len(self.stdp_lr) != 2 or not (self.stdp_lr[0] > 0 > self.stdp_lr[1]):
                raise bad("stdp_lr", "(a_plus, a_minus) with a_plus > 0 > a_minus")
            if not self.stdp_lr_max >= self.stdp_lr[0]:
                raise bad("stdp_lr_max", f"a float >= a_plus = {self.stdp_lr[0]}")
            if not self.stdp_lr_growth >= 1.0:
                raise bad("stdp_lr_growth", "a float >= 1")
            if not 0.0 < self.init_mean < 1.0:
                raise bad("init_mean", "a float in (0, 1)")
            if not self.init_std >= 0.0:
                raise bad("init_std", "a float >= 0")
            if self.decoder not in DECODERS:
                raise bad("decoder", str(list(DECODERS)))
            if not self.decoder_ridge >= 0.0:
                raise bad("decoder_ridge", "a float >= 0")
            if not self.decoder_lr > 0.0:
                raise bad("decoder_lr", "a float > 0")
            if not self.em_smoothing > 0.0:
                raise bad("em_smoothing", "a float > 0")

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        sizes = [28]
        for pool in c.pools:
            sizes.append(sizes[-1] // pool)
        self._sizes = sizes  # input side of each layer, then the code's side
        self.code_dim = c.channels[-1] * sizes[-1] ** 2
        self._dog = spyker.DoG(c.dog_size, [spyker.DoGFilter(*c.dog_sigmas),
                                            spyker.DoGFilter(*reversed(c.dog_sigmas))],
                               pad=c.dog_size)
        in_ch = [2, *c.channels[:-1]]
        self._convs = [spyker.Conv(i, o, k, pad=k // 2)
                       for i, o, k in zip(in_ch, c.channels, c.kernels, strict=True)]
        # nn.Conv2d / nn.Linear twins: only their shapes are used, to count exact connections.
        self._dog_twin = nn.Conv2d(1, 2, 2 * c.dog_size + 1, padding=c.dog_size, bias=False)
        self._conv_twins = [nn.Conv2d(i, o, k, padding=k // 2, bias=False)
                            for i, o, k in zip(in_ch, c.channels, c.kernels, strict=True)]
        self.decoder = nn.Linear(self.code_dim, PIXELS)
        self.prior_log_pi = torch.full((c.n_components,), -math.log(c.n_components))
        self.prior_mu = torch.full((c.n_components, self.code_dim), 0.5)
        self._fitted = False
        self._counts: OpCounts | None = None

    # -- spyker plumbing ------------------------------------------------------------------------
    @staticmethod
    def _threads() -> None:
        # spyker keeps its own thread pool; follow torch's setting (the harness pins it).
        spyker.set_max_threads(max(torch.get_num_threads(), 1))

    def _set_kernel(self, layer: int, weights: Tensor) -> None:
        spyker.copy_array(weights.to(torch.float32).contiguous(), self._convs[layer].kernel)

    def _kernel(self, layer: int) -> Tensor:
        return spyker.to_torch(self._convs[layer].kernel).clone()

    def _spikes_in(self, x: Tensor, counter: OpCounter | None) -> Tensor:
        """DoG + rank code: ``(N, 1, 28, 28)`` pixels -> cumulative ``(N, T, 2, 28, 28)`` uint8."""
        dog = self._dog(x.contiguous())
        spikes = spyker.code(dog, self.config.timesteps, code="rank")
        if counter is not None:
            counter.macs += _dense_connections(self._dog_twin, x)
            counter.add_spikes("input", spike_events(spikes), batch_dim=1)
        return spikes

    def _layer(self, layer: int, spikes: Tensor, counter: OpCounter | None) -> Tensor:
        """IF conv layer + lateral inhibition + pooling on cumulative spikes ``(N, T, C, H, W)``."""
        c = self.config
        if counter is not None:  # each input spike reaches its real fan-out once
            counter.add_synaptic_ops(_reach(self._conv_twins[layer], spikes[:, -1]))
        potentials = self._convs[layer](spikes)
        spyker.inhibit(potentials, c.thresholds[layer])
        fired = spyker.fire(potentials, c.thresholds[layer])
        if counter is not None:
            counter.add_spikes(f"conv{layer + 1}", spike_events(fired), batch_dim=1)
        return spyker.pool(fired, c.pools[layer])

    def _encode_batch(self, x: Tensor, counter: OpCounter | None = None) -> Tensor:
        spikes = self._spikes_in(x, counter)
        for layer in range(len(self._convs)):
            spikes = self._layer(layer, spikes, counter)
        return spikes[:, -1].reshape(len(x), -1).to(torch.float32)

    @torch.no_grad()
    def encode(self, x: Tensor, *, counter: OpCounter | None = None,
               show_progress: bool = False) -> Tensor:
        """Spike codes of images.

        Args:
            x: float32 ``(N, 1, 28, 28)`` in ``[0, 1]``.
            counter: if given, the encoder's measured operations are added to it.
            show_progress: tqdm bar on stderr.

        Returns:
            float32 ``(N, code_dim)`` in ``{0, 1}``: which last-layer neurons (after pooling)
            fired within ``T`` steps.
        """
        check_images(x)
        self._threads()
        chunks = x.split(self.config.encode_batch)
        out = [self._encode_batch(chunk, counter)
               for chunk in tqdm(chunks, desc="stdp encode", disable=not show_progress,
                                 leave=False)]
        return torch.cat(out) if out else torch.zeros(0, self.code_dim)

    # -- training -------------------------------------------------------------------------------
    def _train_layer(self, layer: int, images: Tensor, gen: torch.Generator,
                     progress: ProgressFn | None, done: int, total: int) -> tuple[int, list[float]]:
        c = self.config
        conv = self._convs[layer]
        a_plus, a_minus = c.stdp_lr
        seen, next_growth = 0, c.stdp_lr_every
        conv.stdpconfig = [spyker.STDPConfig(a_plus, a_minus)]
        curve: list[float] = []
        for _epoch in range(c.stdp_epochs):
            for idx in torch.randperm(len(images), generator=gen).split(c.stdp_batch):
                spikes = self._spikes_in(images[idx], None)
                for below in range(layer):
                    spikes = self._layer(below, spikes, None)
                potentials = conv(spikes)
                winners = spyker.convwta(potentials, c.wta_radius[layer], c.wta_k[layer],
                                         c.thresholds[layer])
                fired = spyker.fire(potentials, c.thresholds[layer])
                conv.stdp(spikes, winners, fired)
                seen += len(idx)
                done += 1
                if seen >= next_growth and a_plus < c.stdp_lr_max and c.stdp_lr_growth > 1:
                    factor = min(c.stdp_lr_growth, c.stdp_lr_max / a_plus)
                    a_plus, a_minus = a_plus * factor, a_minus * factor
                    conv.stdpconfig = [spyker.STDPConfig(a_plus, a_minus)]
                    next_growth += c.stdp_lr_every
                if progress is not None:
                    progress(done, total, {f"C_l{layer + 1}": stdp_convergence(self._kernel(layer))})
            curve.append(stdp_convergence(self._kernel(layer)))
        return done, curve

    def fit(self, train: Tensor, *, seed: int, progress: ProgressFn | None = None) -> FitReport:
        check_images(train)
        if len(train) < 2:
            raise ValueError(f"fit needs at least 2 training images, got {len(train)}")
        c = self.config
        t0 = time.perf_counter()
        self._threads()
        # spyker's own RNG (used nowhere we rely on, but seeded so nothing depends on history).
        spyker.random_seed(int(split_seed(seed, "spyker") % (2**31 - 1)))
        init_gen = make_generator(split_seed(seed, "init"))
        for layer, conv in enumerate(self._convs):
            shape = tuple(spyker.to_torch(conv.kernel).shape)
            w = torch.empty(shape).normal_(c.init_mean, c.init_std, generator=init_gen)
            self._set_kernel(layer, w.clamp(0.0, 1.0))
        data_gen = make_generator(split_seed(seed, "data"))
        stdp_batches = [c.stdp_epochs * math.ceil(min(n, len(train)) / c.stdp_batch)
                        for n in c.stdp_images]
        total = sum(stdp_batches) + 3
        history: dict[str, list[float]] = {}
        extra: dict[str, float] = {}
        done = 0
        for layer in range(len(self._convs)):
            pick = torch.randperm(len(train), generator=data_gen)[:c.stdp_images[layer]]
            t_layer = time.perf_counter()
            done, curve = self._train_layer(layer, train[pick], data_gen, progress, done, total)
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
        counter.add_layer_input(self.decoder, codes)  # binary -> accumulates, per spike x 784
        return self.decoder(codes).clamp(0.0, 1.0).reshape(-1, 1, 28, 28)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> Tensor:
        """Draw ``n`` spike codes from the Bernoulli mixture and decode them.

        The code is one Bernoulli draw per unit (one time step); the encoder does not run, so the
        counts hold the prior's spikes and the decoder's accumulates only.

        Returns:
            float32 ``(n, 1, 28, 28)`` in ``[0, 1]``.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        self._require_fit()
        gen = make_generator(split_seed(seed, "noise"))
        comp = torch.multinomial(self.prior_log_pi.exp(), n, replacement=True, generator=gen)
        codes = torch.bernoulli(self.prior_mu[comp], generator=gen)
        counter = OpCounter()
        counter.add_spikes("prior", codes.unsqueeze(0), batch_dim=1)
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
        return self._kernel(0)

    def save_filter_grid(self, path: str | Path, *, ncols: int = 8) -> None:
        """Save a PNG grid of the first-layer filters (on minus off channel, gray, atomically)."""
        import os
        import tempfile

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        w = self.filters()
        img = (w[:, 0] - w[:, 1]).numpy()
        rows = math.ceil(len(img) / ncols)
        fig, axes = plt.subplots(rows, ncols, figsize=(ncols * 0.9, rows * 0.9), squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i < len(img):
                ax.imshow(img[i], cmap="gray", vmin=-1, vmax=1)
        fig.suptitle("STDP layer-1 filters (on - off)", fontsize=8)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
        os.close(fd)
        try:
            fig.savefig(tmp, dpi=120)
            os.replace(tmp, path)
        finally:
            plt.close(fig)
            Path(tmp).unlink(missing_ok=True)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        self._require_fit()
        atomic_torch_save({
            "config": dataclasses.asdict(self.config),
            "kernels": [self._kernel(i) for i in range(len(self._convs))],
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
            self._set_kernel(layer, kernel)
        self.decoder.load_state_dict(blob["decoder"])
        self.prior_log_pi = blob["prior_log_pi"]
        self.prior_mu = blob["prior_mu"]
        self._fitted = True


def _dense_connections(layer: nn.Module, x: Tensor) -> float:
    """Multiply-accumulates of ``layer`` on a real-valued input shaped like ``x`` (every weight)."""
    return connection_count(layer, torch.ones(x.shape, dtype=torch.float32))


def _reach(layer: nn.Module, fired: Tensor) -> float:
    """Accumulates caused by the neurons in ``fired`` (``(N, C, H, W)``, 1 = spiked once)."""
    return connection_count(layer, (fired != 0).to(torch.float32))


__all__ = ["StdpAE", "fit_bernoulli_mixture", "fit_linear_decoder", "spike_events",
           "stdp_convergence"]
