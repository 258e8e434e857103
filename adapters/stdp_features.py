"""The STDP feature learner of the ``stdp`` backend: a spiking convolutional encoder learned with
STDP on the ``spyker`` engine, without labels and without backpropagation.

Pipeline (Kheradpisheh et al. 2018; Mozafari et al. 2019, SpykeTorch):

1. **DoG** on/off-centre filtering of the pixels (real-valued: counted as MACs);
2. **rank-order (latency) coding** over ``T`` steps: every positive DoG response spikes once,
   stronger responses earlier;
3. one or two **convolutional IF layers**, each trained layer by layer with STDP under k-winner-
   take-all, with lateral inhibition and max pooling (first spike wins) between them;
4. the **code** of an image is the binary map ``c ∈ {0,1}^D`` of which last-layer neurons (after
   pooling) fired within ``T`` steps, flattened.

Neurons (non-leaky integrate-and-fire, one spike at most per neuron per image, as in
Kheradpisheh 2018): for layer ``l`` with input spikes ``s_j(t) ∈ {0,1}``::

    V_i(t) = V_i(t-1) + Σ_j w_ij s_j(t),   V_i(0) = 0,
    neuron i fires at t_i = min{t : V_i(t) >= θ_l}, and never again within the T steps.

Lateral inhibition: at each position only the earliest-firing feature map keeps its spike
(ties: larger potential). Pooling: max over the window (the first spike passes).

STDP (multiplicative, on k winners per image picked by k-WTA with inhibition radius r):
``Δw_ij = a⁺ w_ij (1 - w_ij)`` if ``t_j <= t_i`` else ``a⁻ w_ij (1 - w_ij)`` (``a⁻ < 0``);
``a⁺`` and ``a⁻`` are multiplied by ``stdp_lr_growth`` every ``stdp_lr_every`` images until
``a⁺`` reaches ``stdp_lr_max``. Weights start at ``N(init_mean, init_std)``, stay in [0, 1].

spyker (BSD-3) is a C++ engine that takes and returns torch tensors; this module is the only one
that imports it. Its spike tensors are batch-first and *cumulative* (``S[n, t] = 1`` from a
neuron's first spike onward); at the boundary to the op counter they are turned into time-first
``(T, N, ...)`` spike events (1 only at the step a neuron fires).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from adapters.base import AdapterConfig, ProgressFn, config_field
from adapters.opcount import OpCounter, connection_count

try:
    import spyker
except ModuleNotFoundError as _err:  # keep err.name so the registry adds the install hint
    raise ModuleNotFoundError(
        "the STDP backend (adapters.stdp) needs the optional library 'spyker'; install it with: "
        "pip install -e '.[stdp]' (or run it through tox -e tests / tox -e quick)",
        name="spyker",
    ) from _err


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


@dataclass(frozen=True)
class StdpFeatureConfig(AdapterConfig):
    """The feature learner's hyper-parameters; the per-layer tuples have one entry per conv layer
    (1 or 2). The defaults were set once, not tuned: DoG sigmas, STDP rates, their doubling up to
    a cap and the weight init as in SpykeTorch's MNIST examples, the rest sized for one layer that
    trains in seconds on a CPU. With them a linear probe on the codes reaches 97.81 % MNIST test
    accuracy (``scripts/stdp_linear_probe.py``), so the features carry the digits.

    Attributes:
        timesteps: rank-code length ``T >= 2`` (rank coding needs two steps). 15.
        dog_size: DoG half window (kernel ``2·size + 1``); padding keeps 28x28. 3: a 7x7 kernel.
        dog_sigmas: ``(σ_centre, σ_surround)``, positive and different; gives on (σc, σs) and off
            (σs, σc) channels. (1, 2).
        channels: feature maps per conv layer. (32,).
        kernels: odd kernel size per conv layer ("same" padding). (5,).
        thresholds: firing threshold ``θ_l > 0`` per layer. (12,).
        pools: max-pooling window (= stride) after each layer. (4,): a 7x7 code map.
        wta_k: STDP winners per image per layer. (5,).
        wta_radius: k-WTA inhibition radius per layer, ``>= 0``. (2,).
        stdp_lr: ``(a⁺, a⁻)`` initial STDP rates, ``a⁺ > 0 > a⁻``. (0.004, -0.003).
        stdp_lr_max: cap on ``a⁺`` during the growth schedule, ``>= a⁺``. 0.15.
        stdp_lr_growth: factor ``>= 1`` applied every ``stdp_lr_every`` images (1 = constant). 2.
        stdp_lr_every: images between growth steps. 200.
        stdp_images: training images used for STDP, per layer. (3000,).
        stdp_epochs: passes over those images per layer. 1.
        stdp_batch: images per STDP update. 16.
        init_mean: initial weight mean, in ``(0, 1)``. 0.8.
        init_std: initial weight std, ``>= 0``. 0.05.
    """

    timesteps: int = config_field(15, ge=2)
    dog_size: int = config_field(3, ge=1)
    dog_sigmas: tuple[float, float] = config_field((1.0, 2.0), gt=0.0)
    channels: tuple[int, ...] = config_field((32,), ge=1, nonempty=True)
    kernels: tuple[int, ...] = config_field((5,), ge=1)
    thresholds: tuple[float, ...] = config_field((12.0,), gt=0.0)
    pools: tuple[int, ...] = config_field((4,), ge=1)
    wta_k: tuple[int, ...] = config_field((5,), ge=1)
    wta_radius: tuple[int, ...] = config_field((2,), ge=0)
    stdp_lr: tuple[float, float] = (0.004, -0.003)
    stdp_lr_max: float = 0.15
    stdp_lr_growth: float = config_field(2.0, ge=1.0)
    stdp_lr_every: int = config_field(200, ge=1)
    stdp_images: tuple[int, ...] = config_field((3000,), ge=1)
    stdp_epochs: int = config_field(1, ge=1)
    stdp_batch: int = config_field(16, ge=1)
    init_mean: float = config_field(0.8, gt=0.0, lt=1.0)
    init_std: float = config_field(0.05, ge=0.0)

    def check(self) -> None:
        if self.dog_sigmas[0] == self.dog_sigmas[1]:
            raise self.bad("dog_sigmas", "two different positive numbers (centre, surround)")
        n_layers = len(self.channels)
        if n_layers not in (1, 2):
            raise self.bad("channels", "a tuple of 1 or 2 positive ints (one per conv layer)")
        for name in ("kernels", "thresholds", "pools", "wta_k", "wta_radius", "stdp_images"):
            if len(getattr(self, name)) != n_layers:
                raise self.bad(name, f"a tuple with one entry per conv layer ({n_layers})")
        if not all(v % 2 == 1 for v in self.kernels):
            raise self.bad("kernels", "odd positive ints")
        size = 28
        for pool in self.pools:
            size //= pool
            if size < 1:
                raise self.bad("pools", "windows that leave at least a 1x1 map of the 28x28 input")
        if not self.stdp_lr[0] > 0 > self.stdp_lr[1]:
            raise self.bad("stdp_lr", "(a_plus, a_minus) with a_plus > 0 > a_minus")
        if not self.stdp_lr_max >= self.stdp_lr[0]:
            raise self.bad("stdp_lr_max", f"a number >= a_plus = {self.stdp_lr[0]}")


class StdpFeatures:
    """The DoG filter, rank coding and STDP-trained conv IF layers of :class:`StdpFeatureConfig`,
    on spyker. Not an ``nn.Module``: its weights are spyker kernels (:meth:`kernel`).

    Attributes:
        code_dim: length ``D`` of an image's binary code.
    """

    def __init__(self, c: StdpFeatureConfig) -> None:
        self.config = c
        sizes = [28]
        for pool in c.pools:
            sizes.append(sizes[-1] // pool)
        self.sizes = sizes  # input side of each layer, then the code's side
        self.code_dim = c.channels[-1] * sizes[-1] ** 2
        self._dog = spyker.DoG(c.dog_size, [spyker.DoGFilter(*c.dog_sigmas),
                                            spyker.DoGFilter(*reversed(c.dog_sigmas))],
                               pad=c.dog_size)
        in_ch = [2, *c.channels[:-1]]
        self._convs = [spyker.Conv(i, o, k, pad=k // 2)
                       for i, o, k in zip(in_ch, c.channels, c.kernels, strict=True)]
        # nn.Conv2d twins: only their shapes are used, to count exact connections.
        self._dog_twin = nn.Conv2d(1, 2, 2 * c.dog_size + 1, padding=c.dog_size, bias=False)
        self._conv_twins = [nn.Conv2d(i, o, k, padding=k // 2, bias=False)
                            for i, o, k in zip(in_ch, c.channels, c.kernels, strict=True)]

    @property
    def n_layers(self) -> int:
        return len(self._convs)

    @staticmethod
    def set_threads() -> None:
        """Give spyker's own thread pool torch's thread count (the harness pins it)."""
        spyker.set_max_threads(max(torch.get_num_threads(), 1))

    def set_kernel(self, layer: int, weights: Tensor) -> None:
        """Copy ``weights`` (the layer's kernel shape, in ``[0, 1]``) into conv layer ``layer``."""
        spyker.copy_array(weights.to(torch.float32).contiguous(), self._convs[layer].kernel)

    def kernel(self, layer: int) -> Tensor:
        """A copy of conv layer ``layer``'s weights: float32 ``(C_out, C_in, k, k)`` in [0, 1]."""
        return spyker.to_torch(self._convs[layer].kernel).clone()

    def init_kernels(self, generator: torch.Generator) -> None:
        """Draw every layer's weights from ``N(init_mean, init_std)``, clamped to ``[0, 1]``."""
        c = self.config
        for layer, conv in enumerate(self._convs):
            shape = tuple(spyker.to_torch(conv.kernel).shape)
            w = torch.empty(shape).normal_(c.init_mean, c.init_std, generator=generator)
            self.set_kernel(layer, w.clamp(0.0, 1.0))

    def spikes_in(self, x: Tensor, counter: OpCounter | None) -> Tensor:
        """DoG + rank code: ``(N, 1, 28, 28)`` pixels -> cumulative ``(N, T, 2, 28, 28)`` uint8."""
        dog = self._dog(x.contiguous())
        spikes = spyker.code(dog, self.config.timesteps, code="rank")
        if counter is not None:
            counter.macs += connection_count(self._dog_twin, torch.ones(x.shape,
                                                                        dtype=torch.float32))
            counter.add_spikes("input", spike_events(spikes), batch_dim=1)
        return spikes

    def layer(self, layer: int, spikes: Tensor, counter: OpCounter | None) -> Tensor:
        """IF conv layer + lateral inhibition + pooling on cumulative spikes ``(N, T, C, H, W)``."""
        c = self.config
        if counter is not None:  # each input spike reaches its real fan-out once
            fired = (spikes[:, -1] != 0).to(torch.float32)
            counter.add_synaptic_ops(connection_count(self._conv_twins[layer], fired))
        potentials = self._convs[layer](spikes)
        spyker.inhibit(potentials, c.thresholds[layer])
        fired = spyker.fire(potentials, c.thresholds[layer])
        if counter is not None:
            counter.add_spikes(f"conv{layer + 1}", spike_events(fired), batch_dim=1)
        return spyker.pool(fired, c.pools[layer])

    def _encode_batch(self, x: Tensor, counter: OpCounter | None) -> Tensor:
        spikes = self.spikes_in(x, counter)
        for layer in range(self.n_layers):
            spikes = self.layer(layer, spikes, counter)
        return spikes[:, -1].reshape(len(x), -1).to(torch.float32)

    @torch.no_grad()
    def encode(self, x: Tensor, *, batch: int, counter: OpCounter | None = None,
               show_progress: bool = False) -> Tensor:
        """Spike codes of images ``x`` (float32 ``(N, 1, 28, 28)`` in ``[0, 1]``), ``batch``
        images per spyker call; the measured operations go to ``counter`` if given.

        Returns:
            float32 ``(N, code_dim)`` in ``{0, 1}``: which last-layer neurons (after pooling)
            fired within ``T`` steps.
        """
        self.set_threads()
        out = [self._encode_batch(chunk, counter)
               for chunk in tqdm(x.split(batch), desc="stdp encode", disable=not show_progress,
                                 leave=False)]
        return torch.cat(out) if out else torch.zeros(0, self.code_dim)

    def train_layer(self, layer: int, images: Tensor, gen: torch.Generator,
                    progress: ProgressFn | None, done: int, total: int) -> tuple[int, list[float]]:
        """STDP on conv layer ``layer`` (the layers below it fixed) over ``images`` in an order
        drawn from ``gen``.

        Returns:
            ``(done, curve)``: the progress count after this layer's batches, and ``C_l`` after
            each epoch (:func:`stdp_convergence`).
        """
        c = self.config
        conv = self._convs[layer]
        a_plus, a_minus = c.stdp_lr
        seen, next_growth = 0, c.stdp_lr_every
        conv.stdpconfig = [spyker.STDPConfig(a_plus, a_minus)]
        curve: list[float] = []
        for _epoch in range(c.stdp_epochs):
            for idx in torch.randperm(len(images), generator=gen).split(c.stdp_batch):
                spikes = self.spikes_in(images[idx], None)
                for below in range(layer):
                    spikes = self.layer(below, spikes, None)
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
                    progress(done, total, {f"C_l{layer + 1}": stdp_convergence(self.kernel(layer))})
            curve.append(stdp_convergence(self.kernel(layer)))
        return done, curve
