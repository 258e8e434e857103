"""Diffusion models over 28×28 images, with Gaussian or with Bernoulli (bit-flip) noise: the
forward processes, the samplers and the denoiser shared by ``surrogate-ddpm`` (spiking) and
``ann-ddpm`` (its non-spiking twin).

Both noise kinds use one schedule ``ᾱ_k`` (``k = 0..K``, ``ᾱ_0 = 1``, decreasing to about 0 at
``K``): the cosine schedule of Nichol & Dhariwal (2021), ``ᾱ_k = f(k)/f(0)`` with
``f(k) = cos²(π/2 · (k/K + s)/(1 + s))``, ``s = 0.008``, and the one-step keep rate
``1 - β_k = ᾱ_k / ᾱ_{k-1}`` clipped to at least ``0.001``.

**Gaussian** (DDPM, Ho et al. 2020), on pixels scaled to ``x = 2v - 1 ∈ [-1, 1]``::

    q(x_k | x_{k-1}) = N(√(1-β_k) x_{k-1}, β_k I)
    q(x_k | x_0)     = N(√ᾱ_k x_0, (1 - ᾱ_k) I)

The denoiser predicts the clean image, ``x̂_0(x_k, k) = tanh(output) ∈ [-1, 1]``; the loss is
DDPM's objective written for ``x̂_0`` with its weight clipped (min-SNR-γ, Hang et al. 2023)::

    E_{k ~ U{1..K}, ε ~ N(0, I)} min(SNR_k, γ) ‖x̂_0(√ᾱ_k x_0 + √(1-ᾱ_k) ε, k) - x_0‖²

(mean over pixels), ``SNR_k = ᾱ_k/(1-ᾱ_k)``, ``γ = 5``. DDPM's ε-loss is the same expression
with the weight ``SNR_k`` unclipped, which on a short budget spends the training on the lowest
noise levels (docs/experiments/2026-12-05-spiking-diffusion.md). The sampler is DDIM's
deterministic update (Song et al. 2021, ``η = 0``) over ``S`` steps
``K = k_0 > k_1 > ... > k_S = 0``:
``ε̂ = (x_k - √ᾱ_k x̂_0)/√(1-ᾱ_k)``, ``x_s = √ᾱ_s x̂_0 + √(1-ᾱ_s) ε̂``; the image is
``(x_0 + 1)/2``. This is the noise of the published spiking diffusion models (SDDPM, FSDDIM): the
one place a Gaussian enters a spiking row, as the denoiser's input current, because the DDPM
objective and its samplers are defined for it.

**Bernoulli** (binary diffusion, a uniform-flip D3PM of Austin et al. 2021 on two states), on
spike-coded images: the clean image is a spike frame ``x_0 ~ Bernoulli(v)`` (each pixel fires with
its intensity), and each forward step keeps a bit with probability ``1 - β_k`` or replaces it by a
fair coin::

    q(x_k | x_{k-1}) = Bernoulli((1-β_k) x_{k-1} + β_k/2)
    q(x_k | x_s)     = Bernoulli(a x_s + (1-a)/2),   a = ᾱ_k/ᾱ_s   (s < k)
    q(x_k | x_0)     = Bernoulli(ᾱ_k x_0 + (1-ᾱ_k)/2)

so ``x_K`` is fair coin flips, and every ``x_k`` is a spike frame. The denoiser predicts the clean
image's Bernoulli probabilities ``v̂(x_k, k) = sigmoid(logits)``; the loss is
``E_k BCE(v̂(x_k, k), v)`` (mean over pixels), whose minimiser is ``E[v | x_k]``. The sampler draws
spike frames step by step from ``x_K ~ Bernoulli(1/2)``, with D3PM's ``x_0``-parameterised
reverse step: with ``m = ᾱ_s v̂ + (1-ᾱ_s)/2``, the predicted marginal of ``x_s``,

    p(x_s = 1 | x_k) = q(x_k | x_s=1) m / (q(x_k | x_s=1) m + q(x_k | x_s=0) (1 - m)),

``q(x_k | x_s=b) = a [x_k = b] + (1-a)/2``. The image is ``v̂`` of the last call (at ``k_{S-1}``):
the clean image's spike probabilities, i.e. its intensities, rather than one binary frame of it.

**Denoiser** (:class:`Denoiser`), a small U-Net sized for 28×28 on a CPU budget: the image is
folded into 2×2 patches (``pixel_unshuffle``: ``4×14×14``, no arithmetic), then
``conv3×3 → c1`` (14×14) ``→ conv3×3/2 → c2`` (7×7), then with three levels
``→ conv3×3/2 → c3`` (4×4) ``→ conv3×3 → c3 → convT3×3/2 → c2`` (7×7) plus a skip ``conv3×3``
from the 7×7 layer (with two: ``→ conv3×3 → c2``), ``→ convT4×4/2 → c1`` (14×14)
``→ conv3×3 → c1`` plus a skip ``conv3×3`` from the first layer, ``→ conv3×3 → 4`` and unfolded
to 28×28. The 4×4 level gives every output pixel the whole image in its receptive field. The step
``k`` enters as a bias current per channel of each hidden layer, a linear map of sinusoidal
features of ``k``. Spiking (:class:`SpikingBlock`): each hidden layer is LIF neurons simulated
over ``T`` steps; the first layer's input (``x_k``: real values, or the spike frame of the
Bernoulli kind) is a constant input current computed once per call, a skip connection's current
is added to the input current of the layer it joins, and the output is the mean membrane
potential of non-firing integrators. Non-spiking: the same synapses with ReLU.

Training: Adam with the gradient's norm clipped (DDPM's 1.0), and the samples are drawn with an
exponential moving average of the weights.

A generated image costs every denoiser call of the sampler: the counts of a sample are summed over
its ``S`` calls (per call: divide by ``sampler_steps``).
"""

from __future__ import annotations

import copy
import math
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adapters.base import AdapterConfig, FitReport, ProgressFn, config_field
from adapters.coding import make_generator, split_seed
from adapters.opcount import OpCounter
from adapters.seeding import init_parameters_
from adapters.spiking import synaptic_currents
from adapters.torch_adapter import (
    TORCH_DEVICES,
    EpochHistory,
    check_images,
    check_n,
    optimiser_step,
)

Noise = Literal["gaussian", "bernoulli"]
NOISES: tuple[str, ...] = typing.get_args(Noise)
#: Inference batch of the sampler.
CHUNK = 500
_COSINE_OFFSET = 0.008
_MIN_KEEP = 0.001
_EMBED = 32  # sinusoidal features of the step k


# -- schedule and forward processes ------------------------------------------------------------
def cosine_alpha_bar(steps: int) -> Tensor:
    """``ᾱ_k`` for ``k = 0..steps`` (float64, ``ᾱ_0 = 1``), the cosine schedule with the
    one-step keep rate ``ᾱ_k/ᾱ_{k-1}`` clipped to ``>= 0.001`` (module doc)."""
    if steps < 1:
        raise ValueError(f"diffusion steps must be >= 1, got {steps}")
    k = torch.arange(steps + 1, dtype=torch.float64)
    f = torch.cos((k / steps + _COSINE_OFFSET) / (1 + _COSINE_OFFSET) * math.pi / 2) ** 2
    keep = (f[1:] / f[:-1]).clamp(min=_MIN_KEEP, max=1.0)
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(keep, 0)])


def gaussian_q_sample(x0: Tensor, alpha_bar: Tensor, noise: Tensor) -> Tensor:
    """``x_k = √ᾱ_k x_0 + √(1-ᾱ_k) ε``: a draw of ``q(x_k | x_0)`` from the noise ``ε``.

    Args:
        x0: clean images in ``[-1, 1]``, ``(N, ...)``.
        alpha_bar: ``ᾱ_k`` per image, ``(N,)``.
        noise: ``ε``, the shape of ``x0``.
    """
    a = alpha_bar.to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def bernoulli_q_probs(x0: Tensor, alpha_bar: Tensor) -> Tensor:
    """``P(x_k = 1 | x_0) = ᾱ_k x_0 + (1-ᾱ_k)/2`` per pixel, for spike frames ``x0`` and ``ᾱ_k``
    per image ``(N,)``."""
    a = alpha_bar.to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    return a * x0 + (1 - a) / 2


def bernoulli_reverse_probs(x_k: Tensor, v_hat: Tensor, alpha_bar_k: float,
                            alpha_bar_s: float) -> Tensor:
    """``p(x_s = 1 | x_k)`` of the Bernoulli sampler's step ``k -> s`` (module doc), from the
    current spike frame ``x_k`` and the predicted clean probabilities ``v̂``."""
    a = alpha_bar_k / alpha_bar_s
    m = alpha_bar_s * v_hat + (1 - alpha_bar_s) / 2
    lik1 = a * x_k + (1 - a) / 2          # q(x_k | x_s = 1)
    lik0 = a * (1 - x_k) + (1 - a) / 2    # q(x_k | x_s = 0)
    return lik1 * m / (lik1 * m + lik0 * (1 - m))


def ddim_step(x_k: Tensor, x0_hat: Tensor, alpha_bar_k: float, alpha_bar_s: float) -> Tensor:
    """DDIM's deterministic step ``k -> s`` (module doc) from the predicted clean image: ``x_s``."""
    eps = (x_k - math.sqrt(alpha_bar_k) * x0_hat) / math.sqrt(max(1 - alpha_bar_k, 1e-12))
    return math.sqrt(alpha_bar_s) * x0_hat + math.sqrt(1 - alpha_bar_s) * eps


def min_snr_weight(alpha_bar: Tensor, gamma: float = 5.0) -> Tensor:
    """``min(SNR_k, γ)``, ``SNR_k = ᾱ_k/(1-ᾱ_k)``: the clipped weight of the x̂_0 loss."""
    return (alpha_bar / (1 - alpha_bar).clamp(min=1e-12)).clamp(max=gamma)


def sampler_schedule(diffusion_steps: int, sampler_steps: int) -> list[int]:
    """``[k_0 = K, k_1, ..., k_S = 0]``: ``S + 1`` evenly spaced, strictly decreasing steps."""
    if not 1 <= sampler_steps <= diffusion_steps:
        raise ValueError(f"sampler_steps must be in [1, diffusion_steps={diffusion_steps}], "
                         f"got {sampler_steps}")
    ks = torch.linspace(diffusion_steps, 0, sampler_steps + 1).round().long().tolist()
    return [int(k) for k in ks]


# -- the denoiser --------------------------------------------------------------------------------
def step_features(k: Tensor, steps: int) -> Tensor:
    """Sinusoidal features ``(N, 32)`` of the diffusion step ``k`` ``(N,)`` (of ``steps``)."""
    half = _EMBED // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32,
                                                        device=k.device) / half)
    angle = (k.to(torch.float32) / steps * 1000.0).unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([angle.sin(), angle.cos()], dim=1)


class SpikingBlock(nn.Module):
    """LIF neurons fed by ``synapse`` over ``T`` steps (the spiking kit's neuron equations).

    ``forward(inp, bias, extra)``: ``inp`` is ``(T, N, ...)`` spikes, or ``(N, ...)`` values
    taken as a constant input (its current computed once and held for the ``T`` steps); ``bias``
    is a per-channel current ``(N, C)`` added at every step, ``extra`` an optional current
    ``(T, N, C, H, W)`` from other synapses (the skip connection). Returns ``(T, N, C, H, W)``
    spikes.
    """

    def __init__(self, synapse: nn.Module, neuron: nn.Module, timesteps: int) -> None:
        super().__init__()
        self.synapse, self.neuron, self.timesteps = synapse, neuron, timesteps

    def forward(self, inp: Tensor, bias: Tensor, extra: Tensor | None = None) -> Tensor:
        if inp.dim() == 4:  # constant input: one current for every step
            cur = self.synapse(inp).unsqueeze(0).expand(self.timesteps, -1, -1, -1, -1)
        else:
            cur = synaptic_currents(self.synapse, inp)
        cur = cur + bias[None, :, :, None, None]
        if extra is not None:
            cur = cur + extra
        mem = torch.zeros_like(cur[0])
        out = []
        for cur_t in cur.unbind(0):
            spk, mem = self.neuron(cur_t, mem)
            out.append(spk)
        return torch.stack(out)


class Denoiser(nn.Module):
    """The U-Net-like denoiser (module doc): ``(x_k (N, 1, 28, 28), k (N,)) -> (N, 1, 28, 28)``.

    Args:
        channels: ``(c1, c2)`` or ``(c1, c2, c3)``, the channels at 14×14, 7×7 and 4×4 (two or
            three levels, module doc).
        steps: the diffusion's ``K`` (scales the step features).
        neuron: ``None`` for the non-spiking denoiser (ReLU), else a function building one layer
            of spiking neurons (:func:`adapters.spiking.neuron_factory`).
        timesteps: ``T``, spike steps per call (spiking only).
        beta: the read-out integrators' decay per step (spiking only).
    """

    def __init__(self, channels: tuple[int, ...], steps: int, *,
                 neuron: Any = None, timesteps: int = 1, beta: float = 1.0) -> None:
        super().__init__()
        if len(channels) not in (2, 3):
            raise ValueError(f"channels must be (c1, c2) or (c1, c2, c3), got {channels}")
        c1, c2 = channels[:2]
        self.steps, self.timesteps, self.beta = steps, timesteps, beta
        self.spiking = neuron is not None
        self.deep = len(channels) == 3
        synapses = {
            "inp": nn.Conv2d(4, c1, 3, padding=1),
            "down": nn.Conv2d(c1, c2, 3, stride=2, padding=1),
        }
        if self.deep:
            c3 = channels[2]
            synapses["down2"] = nn.Conv2d(c2, c3, 3, stride=2, padding=1)      # 7×7 -> 4×4
            synapses["bottom"] = nn.Conv2d(c3, c3, 3, padding=1)
            synapses["mid"] = nn.ConvTranspose2d(c3, c2, 3, stride=2, padding=1)  # 4×4 -> 7×7
        else:
            synapses["mid"] = nn.Conv2d(c2, c2, 3, padding=1)
        synapses["up"] = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)
        synapses["merge"] = nn.Conv2d(c1, c1, 3, padding=1)
        self.splits = tuple(syn.out_channels for syn in synapses.values())
        # registration order = the order init_parameters_ draws the initial weights in
        self.embed = nn.Linear(_EMBED, sum(self.splits))
        self.skip = nn.Conv2d(c1, c1, 3, padding=1)
        self.skip2 = nn.Conv2d(c2, c2, 3, padding=1) if self.deep else None
        self.out = nn.Conv2d(c1, 4, 3, padding=1)
        if self.spiking:
            self.blocks = nn.ModuleDict({name: SpikingBlock(syn, neuron(), timesteps)
                                         for name, syn in synapses.items()})
        else:
            self.blocks = nn.ModuleDict(synapses)

    def neurons(self) -> dict[str, nn.Module]:
        """The spiking neuron layers by name (empty for the non-spiking denoiser)."""
        return {name: block.neuron for name, block in self.blocks.items()} if self.spiking else {}

    def forward(self, x: Tensor, k: Tensor) -> Tensor:
        currents = self.embed(step_features(k, self.steps)).split(self.splits, dim=1)
        bias = dict(zip(self.blocks, currents, strict=True))
        folded = F.pixel_unshuffle(x, 2)  # (N, 4, 14, 14)
        if not self.spiking:
            def layer(name: str, inp: Tensor, extra: Tensor | None = None) -> Tensor:
                cur = self.blocks[name](inp)
                if extra is not None:
                    cur = cur + extra
                return F.relu(cur + bias[name][:, :, None, None])

            def skip(name: str, inp: Tensor) -> Tensor:
                return getattr(self, name)(inp)
        else:
            def layer(name: str, inp: Tensor, extra: Tensor | None = None) -> Tensor:
                return self.blocks[name](inp, bias[name], extra)

            def skip(name: str, inp: Tensor) -> Tensor:
                return synaptic_currents(getattr(self, name), inp)
        h1 = layer("inp", folded)
        h2 = layer("down", h1)
        if self.deep:
            h3 = layer("mid", layer("bottom", layer("down2", h2)), skip("skip2", h2))
        else:
            h3 = layer("mid", h2)
        h5 = layer("merge", layer("up", h3), skip("skip", h1))
        if not self.spiking:
            return F.pixel_shuffle(self.out(h5), 2)
        return F.pixel_shuffle(self._readout(h5), 2)

    def _readout(self, spikes: Tensor) -> Tensor:
        """Mean membrane potential of non-firing integrators ``U[t] = β U[t-1] + I[t]``."""
        cur = synaptic_currents(self.out, spikes)
        mem = torch.zeros_like(cur[0])
        total = torch.zeros_like(cur[0])
        for cur_t in cur.unbind(0):
            mem = self.beta * mem + cur_t
            total = total + mem
        return total / cur.shape[0]


# -- the adapters' shared part -------------------------------------------------------------------
@dataclass(frozen=True)
class DiffusionConfig(AdapterConfig):
    """The fields of both diffusion adapters (the spiking one adds its neuron fields).

    Attributes:
        noise: ``"gaussian"`` or ``"bernoulli"`` (module doc). Gaussian: the published spiking
            diffusion models' noise.
        channels: ``(c1, c2)`` or ``(c1, c2, c3)``, the denoiser's channels at 14×14, 7×7 and
            4×4 (two or three levels). (16, 32, 64): three levels, small enough for a spiking
            cell of the diffusion suite to fit the quick protocol's ten minutes of one CPU
            thread.
        diffusion_steps: ``K >= 1``, the forward process's steps. 1000: DDPM's.
        sampler_steps: ``S``, denoiser calls per generated image, in ``[1, K]``. 10: few enough
            for 10,000 samples on a CPU; the sweep suite varies it.
        epochs: passes over the training set, ``>= 1``. 4: the diffusion suite's CPU budget.
        batch_size: images per Adam step, ``>= 1``. 128: the other rows' batch.
        lr: Adam learning rate ``> 0``. 4e-3: four times Adam's default, for a training of
            under 2,000 steps (the gradient is clipped).
        ema: decay of the exponential moving average of the weights that generate, in
            ``[0, 1)`` (0: the last weights). 0.995: an average over about 200 steps, a short
            training's horizon.
        grad_clip: the gradient's norm is clipped to this before each step, ``>= 0`` (0: not
            clipped). 1.0: DDPM's.
    """

    noise: Noise = "gaussian"
    channels: tuple[int, ...] = config_field((16, 32, 64), ge=1)
    diffusion_steps: int = config_field(1000, ge=1)
    sampler_steps: int = config_field(10, ge=1)
    epochs: int = config_field(4, ge=1)
    batch_size: int = config_field(128, ge=1)
    lr: float = config_field(4e-3, gt=0.0)
    ema: float = config_field(0.995, ge=0.0, lt=1.0)
    grad_clip: float = config_field(1.0, ge=0.0)

    def check(self) -> None:
        if len(self.channels) not in (2, 3):
            raise self.bad("channels", "(c1, c2) or (c1, c2, c3): 2 or 3 ints >= 1")
        if self.sampler_steps > self.diffusion_steps:
            raise self.bad("sampler_steps", f"an int in [1, diffusion_steps="
                                            f"{self.diffusion_steps}]")


class DiffusionAdapter:
    """``fit`` and ``sample`` of a diffusion model whose network is ``self.denoiser``: the
    training objective and the sampler of the configured noise (module doc), counted.

    Mixed into a :class:`~adapters.torch_adapter.TorchModuleAdapter`; the subclass builds
    ``self.denoiser`` and says how its synapses are counted (:meth:`_counter`). It follows the
    device rules of :mod:`adapters.torch_adapter`: every random draw (data order, steps, noise,
    spike frames) comes from a CPU generator and is moved, so one seed gives the same draws on
    every device; samples come back on the CPU.
    """

    family: ClassVar[str] = "diffusion"
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample"})
    device_types: ClassVar[frozenset[str]] = TORCH_DEVICES
    denoiser: Denoiser
    config: Any
    device: torch.device

    def _modules(self) -> dict[str, nn.Module]:
        return {"denoiser": self.denoiser}

    def _init_parameters(self, seed: int) -> None:
        """Initial weights drawn on the CPU from the seed's own stream, then moved."""
        self.denoiser.to("cpu")
        init_parameters_(self.denoiser, make_generator(split_seed(seed, "init-denoiser")))
        self.denoiser.to(self.device)

    def _counter(self) -> OpCounter:
        raise NotImplementedError

    def _alpha_bar(self) -> Tensor:
        return cosine_alpha_bar(self.config.diffusion_steps)

    def fit(self, train: Tensor, *, seed: int, progress: ProgressFn | None = None) -> FitReport:
        c = self.config
        check_images(train)
        self._init_parameters(seed)
        order_gen, step_gen, noise_gen = (make_generator(split_seed(seed, s))
                                          for s in ("data", "diffusion-step", "noise-train"))
        alpha_bar = self._to_device(self._alpha_bar().to(torch.float32))
        images = self._to_device(train)
        ema = copy.deepcopy(self.denoiser).requires_grad_(False)
        opt = torch.optim.Adam(self.denoiser.parameters(), lr=c.lr)
        log = EpochHistory(("loss",), epochs=c.epochs, progress=progress, name=self.name)
        self.denoiser.train()
        for idx in log.batches(len(train), c.batch_size, order_gen):
            v = images[self._to_device(idx)]
            k = self._to_device(torch.randint(1, c.diffusion_steps + 1, (len(idx),),
                                              generator=step_gen))
            if c.noise == "gaussian":
                eps = self._to_device(torch.randn(v.shape, generator=noise_gen))
                x0 = 2 * v - 1
                x0_hat = torch.tanh(self.denoiser(gaussian_q_sample(x0, alpha_bar[k], eps), k))
                weight = min_snr_weight(alpha_bar[k]).view(-1, 1, 1, 1)
                loss = (weight * (x0_hat - x0) ** 2).mean()
            else:
                x0 = self._bernoulli(v, noise_gen)
                x_k = self._bernoulli(bernoulli_q_probs(x0, alpha_bar[k]), noise_gen)
                loss = F.binary_cross_entropy_with_logits(self.denoiser(x_k, k), v)
            optimiser_step(opt, loss, clip=c.grad_clip)
            with torch.no_grad():
                for p_ema, p in zip(ema.parameters(), self.denoiser.parameters(), strict=True):
                    p_ema.lerp_(p, 1.0 - c.ema)
            log.add(len(idx), loss.item())
        self.denoiser.load_state_dict(ema.state_dict())
        self.denoiser.eval()
        return log.report()

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> Tensor:
        """``n`` images from ``S`` denoiser calls each (module doc), counted over every call.

        Returns:
            float32 ``(n, 1, 28, 28)`` in ``[0, 1]``; the same ``seed`` gives the same images.
        """
        check_n(n)
        c = self.config
        gen = make_generator(split_seed(seed, "noise"))
        alpha_bar = self._alpha_bar().tolist()
        ks = sampler_schedule(c.diffusion_steps, c.sampler_steps)
        counter = self._counter()
        out = []
        with counter:
            for start in range(0, n, CHUNK):
                m = min(CHUNK, n - start)
                out.append(self._sample_chunk(m, ks, alpha_bar, gen))
        self._counts = counter.counts(n_samples=n, timesteps=self._timesteps())
        return torch.cat(out).clamp(0.0, 1.0).to(torch.float32).cpu()

    def _timesteps(self) -> int:
        return 1

    def _bernoulli(self, probs: Tensor, gen: torch.Generator) -> Tensor:
        """Spikes with probabilities ``probs`` (on the device), from uniforms drawn on the CPU."""
        return (self._to_device(torch.rand(probs.shape, generator=gen)) < probs).to(probs.dtype)

    def _sample_chunk(self, m: int, ks: list[int], alpha_bar: list[float],
                      gen: torch.Generator) -> Tensor:
        shape = (m, 1, 28, 28)
        if self.config.noise == "gaussian":
            x = self._to_device(torch.randn(shape, generator=gen))
            for k, s in zip(ks[:-1], ks[1:], strict=True):
                x0_hat = torch.tanh(self.denoiser(x, torch.full((m,), k, device=x.device)))
                x = ddim_step(x, x0_hat, alpha_bar[k], alpha_bar[s])
            return (x + 1) / 2
        x = self._bernoulli(self._to_device(torch.full(shape, 0.5)), gen)
        v_hat = x
        for k, s in zip(ks[:-1], ks[1:], strict=True):
            v_hat = torch.sigmoid(self.denoiser(x, torch.full((m,), k, device=x.device)))
            if s > 0:
                x = self._bernoulli(bernoulli_reverse_probs(x, v_hat, alpha_bar[k], alpha_bar[s]),
                                    gen)
        return v_hat

    def reconstruct(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{self.name} generates; it has no encoder to reconstruct with")
