"""The spiking kit: the parts every surrogate-gradient model (and the scripts that time or probe
them) is built from, written once.

* :func:`make_neuron` — an ``snntorch.Leaky`` LIF (or IF) neuron with a chosen surrogate;
* :class:`SpikingLayer` — synapses then spiking neurons, simulated over ``T`` steps;
* :class:`Readout` — the output layer, read as mean membrane potential or spike rate;
* :func:`bernoulli_spikes` / :func:`encode_st` — spike sources with a straight-through (or
  surrogate) derivative: a Bernoulli latent, and image coding a generator can be trained through;
* :class:`SpikingNetConfig` / :class:`TrainingConfig` — the config fields every surrogate model
  has; :func:`image_to_spiking`, :func:`vector_to_image` and :class:`SpikingDecoder` — the MLP and
  conv stacks built from them; :class:`SurrogateAdapter` — the counted, chunked decoding pass.

Neurons (``snntorch.Leaky``, threshold ``θ = 1``, reset by subtraction), per layer and step ``t``::

    I[t] = synapse(S_in[t])
    U[t] = β·U[t-1] + I[t] - S[t-1]·θ          (β = 1 for IF neurons)
    S[t] = Θ(U[t] - θ),        U[-1] = 0, S[-1] = 0

``Θ`` is the Heaviside step forward and the surrogate derivative backward.

Execution is *layer by layer*: a layer's synapses are applied to all ``T`` input steps in one
batched call (``(T·N, ...)``), then its neurons are stepped through time. For a feed-forward SNN
this is exactly the step-by-step simulation (no layer feeds back), and it turns ``T`` small matrix
products into one large one, which is what makes CPU training affordable.

snntorch is imported inside :func:`make_neuron` only, so this module (and the surrogate models'
modules, and their ``Config``) import without it.

The surrogate models run on any torch device and can train in mixed precision (``amp`` in
:class:`TrainingConfig`); see :mod:`adapters.torch_adapter`. The spike sources here draw their
randomness from CPU generators and return spikes on their inputs' device.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from adapters.base import AdapterConfig, config_field
from adapters.coding import Coding, encode
from adapters.opcount import OpCounter
from adapters.torch_adapter import Amp, TorchModuleAdapter

if TYPE_CHECKING:
    import snntorch

Neuron = Literal["lif", "if"]
Surrogate = Literal["fast_sigmoid", "atan"]
ReadoutMode = Literal["membrane", "rate"]
Architecture = Literal["mlp", "conv"]
NEURONS: tuple[str, ...] = typing.get_args(Neuron)
SURROGATES: tuple[str, ...] = typing.get_args(Surrogate)
READOUTS: tuple[str, ...] = typing.get_args(ReadoutMode)
ARCHITECTURES: tuple[str, ...] = typing.get_args(Architecture)
PIXELS = 28 * 28
#: Inference batch: 10,000 samples never sit in memory as ``(T, N, ...)`` at once.
CHUNK = 500


# -- neurons and layers ------------------------------------------------------------------------
def make_neuron(neuron: str, beta: float, surrogate: str, slope: float) -> snntorch.Leaky:
    """An ``snntorch.Leaky`` layer: LIF with decay ``beta``, or IF (``beta = 1``, no leak).

    Threshold 1, reset by subtraction. ``surrogate`` picks the spike's backward pass:
    ``"fast_sigmoid"`` (``∂S/∂U = 1 / (slope·|U - θ| + 1)²``) or ``"atan"``
    (``∂S/∂U = (α/2) / (1 + (π/2·α·(U - θ))²)`` with ``α = slope``).

    Raises:
        ValueError: an unknown ``neuron`` or ``surrogate``.
        ModuleNotFoundError: snntorch is not installed (names how to install it).
    """
    if neuron not in NEURONS:
        raise ValueError(f"unknown neuron {neuron!r}; allowed: {list(NEURONS)}")
    if surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}; allowed: {list(SURROGATES)}")
    try:
        import snntorch as snn
        from snntorch import surrogate as snn_surrogate
    except ModuleNotFoundError as err:  # keep err.name: the registry adds the install hint
        from adapters import INSTALL_HINTS

        raise ModuleNotFoundError(f"spiking neurons need the optional library 'snntorch'; "
                                  f"install it with: {INSTALL_HINTS['snntorch']}",
                                  name="snntorch") from err
    if surrogate == "fast_sigmoid":
        spike_grad = snn_surrogate.fast_sigmoid(slope=slope)
    else:
        spike_grad = snn_surrogate.atan(alpha=slope)
    layer = snn.Leaky(beta=1.0 if neuron == "if" else beta, threshold=1.0, spike_grad=spike_grad,
                      reset_mechanism="subtract")
    # snntorch keeps every neuron ever built in a class-level list (for its init_hidden mode, which
    # this kit does not use); dropping ours lets a finished model be garbage-collected.
    instances = snn.SpikingNeuron.instances
    if instances and instances[-1] is layer:
        instances.pop()
    return layer


def synaptic_currents(synapse: nn.Module, spikes: Tensor) -> Tensor:
    """``synapse`` applied to all ``T`` steps of ``(T, N, *in)`` spikes in one batched call:
    ``(T, N, *out)`` currents ``I[t]``."""
    steps, batch = spikes.shape[:2]
    cur = synapse(spikes.flatten(0, 1))
    return cur.view(steps, batch, *cur.shape[1:])


class SpikingLayer(nn.Module):
    """Synapses followed by spiking neurons, simulated over ``T`` steps (equations: module doc).

    The state is reset to zero at the start of every forward pass.

    Args:
        synapse: module mapping ``(B, *in)`` to ``(B, *out)`` (a Linear/Conv, maybe with a
            Flatten/Unflatten around it).
        neuron: the neurons of this layer, called as ``neuron(I[t], U[t-1]) -> (S[t], U[t])``
            (an ``snntorch.Leaky`` from :func:`make_neuron`).
    """

    def __init__(self, synapse: nn.Module, neuron: nn.Module) -> None:
        super().__init__()
        self.synapse = synapse
        self.neuron = neuron

    def forward(self, spikes: Tensor) -> Tensor:
        """``(T, N, *in)`` binary float32 spikes -> ``(T, N, *out)`` binary float32 spikes."""
        cur = synaptic_currents(self.synapse, spikes)
        mem = torch.zeros_like(cur[0])
        out = []
        for cur_t in cur.unbind(0):  # views; their backward is one stack, not T scatters
            spk, mem = self.neuron(cur_t, mem)
            out.append(spk)
        return torch.stack(out)


class Readout(nn.Module):
    """The output layer: synapses fed spikes, read out as membrane potential or spike rate.

    ``"membrane"``: non-firing leaky integrators ``U[t] = β·U[t-1] + I[t]`` (``U[-1] = 0``); the
    output is the time-averaged potential ``(1/T)·Σ_t U[t]``, a real value (a logit).
    ``"rate"``: spiking neurons as in :class:`SpikingLayer`; the output is the firing rate
    ``(1/T)·Σ_t S[t]`` in ``[0, 1]`` (multiples of ``1/T``).

    Args:
        synapse: the output synapses.
        mode: ``"membrane"`` or ``"rate"``.
        neuron: the neurons (their ``beta`` tensor is used by the membrane read-out too).
    """

    def __init__(self, synapse: nn.Module, mode: str, neuron: nn.Module) -> None:
        super().__init__()
        if mode not in READOUTS:
            raise ValueError(f"unknown readout {mode!r}; allowed: {list(READOUTS)}")
        self.mode = mode
        self.synapse = synapse
        self.neuron = neuron

    def forward(self, spikes: Tensor) -> Tensor:
        """``(T, N, *in)`` spikes -> ``(N, *out)`` float32 (logits, or rates in ``[0, 1]``)."""
        cur = synaptic_currents(self.synapse, spikes)
        steps = cur.shape[0]
        mem = torch.zeros_like(cur[0])
        total = torch.zeros_like(cur[0])
        if self.mode == "membrane":
            beta = float(self.neuron.beta.clamp(0, 1))
            for cur_t in cur.unbind(0):
                mem = beta * mem + cur_t
                total = total + mem
        else:
            for cur_t in cur.unbind(0):
                spk, mem = self.neuron(cur_t, mem)
                total = total + spk
        return total / steps


def spiking_modules(prefix: str, model: nn.Module) -> dict[str, nn.Module]:
    """The spiking neuron layers of ``model`` by name (the read-out only when it spikes), for
    :meth:`adapters.opcount.OpCounter.watch_spikes`."""
    out: dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        if isinstance(module, SpikingLayer):
            out[f"{prefix}.{name}"] = module.neuron
        elif isinstance(module, Readout) and module.mode == "rate":
            out[f"{prefix}.{name}"] = module.neuron
    return out


# -- spike sources with a derivative ----------------------------------------------------------
class _BernoulliST(torch.autograd.Function):
    """Bernoulli spikes with a straight-through derivative: forward ``z ~ Bern(q)`` (exactly 0/1),
    backward ``∂z/∂q = 1`` (the derivative of the expectation ``E[z] = q``)."""

    @staticmethod
    def forward(ctx: Any, probs: Tensor, uniform: Tensor) -> Tensor:
        return (uniform < probs).to(probs.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


def bernoulli_spikes(probs: Tensor, *, generator: torch.Generator) -> Tensor:
    """A Bernoulli spike train with a gradient path to its firing probabilities.

    Args:
        probs: firing probability per step and unit, ``(T, N, D)`` float32 in ``[0, 1]``.
        generator: RNG of the draws (one uniform per element, drawn in one call on the
            generator's device and moved to ``probs``'s).

    Returns:
        ``(T, N, D)`` float32 spikes in ``{0, 1}`` on ``probs``'s device, independent,
        ``P(z=1) = probs``; backward is straight through (``∂z/∂probs = 1``).
    """
    uniform = torch.rand(probs.shape, generator=generator).to(probs.device)
    return _BernoulliST.apply(probs, uniform)


class _EncodeST(torch.autograd.Function):
    """Spike coding of real intensities with a surrogate derivative, so a generator can be trained
    through the discriminator's input coding.

    Forward: exactly :func:`adapters.coding.encode`. Backward, per pixel ``v``:
    rate — ``∂S[t]/∂v = 1`` (``E[S[t]] = v``);
    latency — the spike at ``t_f = (1 - v)(T - 1)`` seen as a unit triangle
    ``max(0, 1 - |t - t_f|)``, so ``∂S[t]/∂v = -sign(t - t_f)·(T - 1)`` where ``|t - t_f| < 1``
    (brighter pixels move the spike earlier).
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, timesteps: int, coding: str,
                generator: torch.Generator) -> Tensor:
        ctx.timesteps, ctx.coding = timesteps, coding
        ctx.save_for_backward(x)
        return encode(x.detach(), timesteps, coding, generator=generator)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None, None, None]:
        (x,) = ctx.saved_tensors
        if ctx.coding == "rate":
            return grad.sum(dim=0), None, None, None
        steps = ctx.timesteps
        t_fire = (1.0 - x) * (steps - 1)
        dist = torch.arange(steps, dtype=x.dtype, device=x.device).view(
            steps, *([1] * x.dim())) - t_fire
        slope = -torch.sign(dist) * (dist.abs() < 1).to(x.dtype) * (steps - 1)
        return (grad * slope).sum(dim=0), None, None, None


def encode_st(x: Tensor, timesteps: int, coding: str, *, generator: torch.Generator) -> Tensor:
    """:func:`adapters.coding.encode` with a surrogate gradient to ``x`` (see :class:`_EncodeST`).

    Args:
        x: intensities in ``[0, 1]``, ``(N, ...)`` float32.

    Returns:
        ``(T, N, ...)`` float32 spikes in ``{0, 1}``, on ``x``'s device.
    """
    return _EncodeST.apply(x, timesteps, coding, generator)


# -- the config fields every surrogate model has -------------------------------------------------
@dataclass(frozen=True)
class SpikingNetConfig(AdapterConfig):
    """The network fields of a surrogate model's config (they come first in its field order).

    A model's ``Config`` lists its bases in reverse field order,
    ``class Config(TrainingConfig, <its own fields>, SpikingNetConfig)``: dataclasses collect base
    fields from the last base to the first, so ``dataclasses.asdict`` (and every record's config)
    reads network fields, the model's own, then the training fields.

    Attributes:
        neuron: ``"lif"`` or ``"if"`` (no leak; ``beta`` ignored). LIF: the paper's neuron with a
            leak, which bounds the membrane over long trains.
        beta: LIF membrane decay per step, in ``(0, 1]``. 0.9: snntorch's tutorials' value, a
            memory of about 10 steps, longer than the default ``T = 8`` (not tuned here).
        surrogate: ``"fast_sigmoid"`` or ``"atan"``; ``slope`` is its sharpness. atan with
            slope 2 is snntorch's ``Leaky`` default (not tuned here).
        slope: surrogate sharpness ``> 0`` (see :func:`make_neuron`).
        timesteps: ``T >= 1``. 8: the suites' T sweep (4 to 32) measured quality that does not
            rise with T for the fixed-prior VAE, at cost linear in T.
        coding: input coding, ``"rate"`` or ``"latency"``. Rate: images are intensities, and
            rate coding passes them on unbiased (``E[S[t]] = v``).
        readout: ``"membrane"`` (sigmoid of the mean output potential) or ``"rate"``. Membrane:
            pixels need grey levels finer than the ``1/T`` steps of a rate.
        architecture: ``"mlp"`` (layer widths ``hidden``) or ``"conv"`` (two stride-2 conv
            layers of ``channels``, mirrored by transposed convs). MLP: the ANN baselines' shape,
            so a spiking row differs from its baseline by being spiking.
        hidden: MLP layer widths, ``>= 1`` each. (256, 256): the ANN baselines' widths.
        channels: conv channels of the two conv layers. (16, 32): small enough for CPU
            training (not tuned).
    """

    neuron: Neuron = "lif"
    beta: float = config_field(0.9, gt=0.0, le=1.0)
    surrogate: Surrogate = "atan"
    slope: float = config_field(2.0, gt=0.0)
    timesteps: int = config_field(8, ge=1)
    coding: Coding = "rate"
    readout: ReadoutMode = "membrane"
    architecture: Architecture = "mlp"
    hidden: tuple[int, ...] = config_field((256, 256), ge=1, nonempty=True)
    channels: tuple[int, int] = config_field((16, 32), ge=1)


@dataclass(frozen=True)
class TrainingConfig(AdapterConfig):
    """The training fields of a surrogate model's config (last in its field order).

    Attributes:
        epochs: passes over the training set, ``>= 1``. 3: the ci budget; the suites set their own.
        batch_size: images per Adam step, ``>= 1``. 128: the ANN baselines' batch.
        lr: Adam learning rate ``> 0``. 1e-3: Adam's default (the GAN overrides it).
        amp: mixed precision of training, ``"off"`` or ``"bf16"`` (:mod:`adapters.torch_adapter`).
            Off: float32, as every recorded result.
    """

    epochs: int = config_field(3, ge=1)
    batch_size: int = config_field(128, ge=1)
    lr: float = config_field(1e-3, gt=0.0)
    amp: Amp = config_field("off", quiet=True)


# -- network builders --------------------------------------------------------------------------
def neuron_factory(c: SpikingNetConfig) -> Callable[[], nn.Module]:
    """A function that builds one more neuron layer as ``c`` asks for."""
    return lambda: make_neuron(c.neuron, c.beta, c.surrogate, c.slope)


def image_to_spiking(c: SpikingNetConfig, out_dim: int, *, spectral: bool = False,
                     in_channels: int = 1) -> list[nn.Module]:
    """Layers from image spikes ``(T, N, in_channels, 28, 28)`` towards ``(T, N, out_dim)``.

    The last entry is the final synapse (to ``out_dim``), not wrapped in neurons: the caller
    decides what reads it. ``spectral`` puts spectral normalisation on every synapse.
    """
    sn = nn.utils.parametrizations.spectral_norm if spectral else (lambda m: m)
    neuron = neuron_factory(c)
    layers: list[nn.Module] = []
    if c.architecture == "mlp":
        sizes = [in_channels * PIXELS, *c.hidden]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            syn = nn.Sequential(nn.Flatten(), sn(nn.Linear(a, b))) if i == 0 else sn(nn.Linear(a, b))
            layers.append(SpikingLayer(syn, neuron()))
        layers.append(sn(nn.Linear(sizes[-1], out_dim)))
    else:
        c1, c2 = c.channels
        layers.append(SpikingLayer(sn(nn.Conv2d(in_channels, c1, 3, stride=2, padding=1)),
                                   neuron()))  # 14
        layers.append(SpikingLayer(sn(nn.Conv2d(c1, c2, 3, stride=2, padding=1)), neuron()))  # 7
        layers.append(nn.Sequential(nn.Flatten(), sn(nn.Linear(c2 * 49, out_dim))))
    return layers


def vector_to_image(c: SpikingNetConfig, in_dim: int) -> tuple[list[SpikingLayer], nn.Module]:
    """Spiking layers from ``(T, N, in_dim)`` spikes towards the image, and the output synapse
    (to ``(N, 1, 28, 28)`` after the read-out)."""
    neuron = neuron_factory(c)
    layers: list[SpikingLayer] = []
    if c.architecture == "mlp":
        sizes = [in_dim, *reversed(c.hidden)]
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers.append(SpikingLayer(nn.Linear(a, b), neuron()))
        out = nn.Sequential(nn.Linear(sizes[-1], PIXELS), nn.Unflatten(1, (1, 28, 28)))
    else:
        c1, c2 = c.channels
        layers.append(SpikingLayer(nn.Sequential(nn.Linear(in_dim, c2 * 49),
                                                 nn.Unflatten(1, (c2, 7, 7))), neuron()))
        layers.append(SpikingLayer(nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), neuron()))
        out = nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1)
    return layers, out


class SpikingDecoder(nn.Module):
    """Spikes ``(T, N, in_dim)`` -> images ``(N, 1, 28, 28)`` float32 in ``[0, 1]``.

    Membrane read-out: ``sigmoid`` of the time-averaged output potential. Rate read-out: the output
    neurons' firing rate.
    """

    def __init__(self, c: SpikingNetConfig, in_dim: int) -> None:
        super().__init__()
        layers, out = vector_to_image(c, in_dim)
        self.layers = nn.ModuleList(layers)
        self.readout = Readout(out, c.readout, neuron_factory(c)())

    def forward(self, spikes: Tensor) -> Tensor:
        for layer in self.layers:
            spikes = layer(spikes)
        out = self.readout(spikes)
        return torch.sigmoid(out) if self.readout.mode == "membrane" else out


# -- the adapter base --------------------------------------------------------------------------
class SurrogateAdapter(TorchModuleAdapter):
    """Base of the surrogate-gradient adapters: the chunked, counted pass of a spiking decoder."""

    backend: ClassVar[str] = "surrogate"

    @torch.no_grad()
    def _decode_counted(self, decoder: nn.Module, source: str, noise: Tensor,
                        counter: OpCounter | None = None) -> Tensor:
        """Run ``decoder`` on ``(T, n, D)`` source spikes (on any device) in chunks of
        :data:`CHUNK`, counting into ``counter`` (a fresh one if ``None``); the counts become this
        model's op counts.

        Returns:
            float32 ``(n, 1, 28, 28)`` in ``[0, 1]``, on the CPU.
        """
        noise = self._to_device(noise)
        counter = counter or OpCounter()
        counter.watch_synapses(decoder, prefix="dec.").watch_spikes(spiking_modules("dec", decoder))
        counter.add_spikes(source, noise, batch_dim=1, source=True)
        with counter:
            out = torch.cat([decoder(chunk) for chunk in noise.split(CHUNK, dim=1)])
        self._counts = counter.counts(n_samples=noise.shape[1], timesteps=noise.shape[0])
        return out.clamp(0.0, 1.0).to(torch.float32).cpu()
