"""``surrogate-gan``: a fully spiking GAN fed Bernoulli noise spike trains, trained with surrogate
gradients (snntorch), built from the spiking kit (:mod:`adapters.spiking`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adapters import spiking as kit
from adapters.base import FitReport, ProgressFn, config_field
from adapters.coding import bernoulli_noise, encode, make_generator, split_seed
from adapters.torch_adapter import (
    TORCH_DEVICES,
    EpochHistory,
    check_n,
    discriminator_loss,
    optimiser_step,
)

logger = logging.getLogger(__name__)

NoiseProcess = Literal["frozen", "iid"]
#: Pooling windows of the coverage distance: the divisors of 28.
CoveragePool = Literal[1, 2, 4, 7, 14, 28]


class SpikingDiscriminator(nn.Module):
    """Image spikes ``(T, N, 1, 28, 28)`` -> real/fake logit ``(N, 1)`` (membrane read-out), with
    spectral normalisation on every synaptic layer.

    With ``minibatch_std`` the logit also sees how varied the batch is: ``s``, the mean over units
    of the across-batch std of the last spiking layer's firing rates, enters the logit through a
    learned weight (``logit + w·s``). A generator that collapses to a few images makes ``s`` small
    and is told apart by that alone, so collapse stops paying (Karras et al. 2018's minibatch
    standard deviation, on spike rates).
    """

    def __init__(self, c: Any) -> None:
        super().__init__()
        self.pack = c.pack
        parts = kit.image_to_spiking(c, 1, spectral=c.spectral_norm, in_channels=c.pack)
        self.layers = nn.ModuleList(parts[:-1])
        self.readout = kit.Readout(parts[-1], "membrane", kit.neuron_factory(c)())
        self.batch_std_weight = nn.Parameter(torch.zeros(1)) if c.minibatch_std else None

    def forward(self, spikes: Tensor) -> Tensor:
        """``(T, N, 1, 28, 28)`` -> ``(N // pack, 1)`` logits, one per pack of images."""
        steps, batch = spikes.shape[:2]
        keep = batch - batch % self.pack
        spikes = spikes[:, :keep].reshape(steps, keep // self.pack, self.pack, 28, 28)
        for layer in self.layers:
            spikes = layer(spikes)
        logit = self.readout(spikes)
        if self.batch_std_weight is not None and spikes.shape[1] > 1:
            spread = spikes.mean(0).flatten(1).std(dim=0).mean()
            logit = logit + self.batch_std_weight * spread
        return logit



def _mode_seeking(images: Tensor, noise: Tensor) -> Tensor:
    """Mode-seeking term (Mao et al. 2019): mean over pairs (first half of the batch against the
    second) of ``mean|G(z1) - G(z2)| / mean|z1 - z2|``; the generator maximises it, so different
    noise must give different images."""
    half = images.shape[0] // 2
    d_img = (images[:half] - images[half:2 * half]).abs().flatten(1).mean(1)
    d_z = (noise[:, :half] - noise[:, half:2 * half]).abs().mean(dim=(0, 2))
    return (d_img / (d_z + 1e-5)).mean()


def _coverage(images: Tensor, real: Tensor, pool: int) -> Tensor:
    """Coverage term (implicit maximum likelihood, Li & Malik 2018): for every real image, the
    mean squared distance to its nearest generated image in the batch, averaged over the reals.

    The generator minimises it, so every real image, trousers included, must have a generated
    image near it: a mode the generator drops costs it directly, which the adversarial loss alone
    does not. Distances are taken between ``pool``×``pool``-average-pooled images (``pool = 1``:
    pixels), so shape counts more than pixel-level speckle.

    Args:
        images: generated images ``(N, 1, 28, 28)``.
        real: the batch's real images ``(M, 1, 28, 28)``.
        pool: side of the average-pooling window (1 = none).
    """
    if pool > 1:
        images, real = F.avg_pool2d(images, pool), F.avg_pool2d(real, pool)
    d2 = torch.cdist(real.flatten(1), images.flatten(1)).pow(2) / images[0].numel()
    return d2.min(dim=1).values.mean()



@dataclass(frozen=True)
class _GanConfig(kit.SpikingNetConfig):
    """The GAN's own config fields (see :class:`SurrogateGAN.Config`)."""

    noise_dim: int = config_field(32, ge=1)
    noise_p: float = config_field(0.5, gt=0.0, lt=1.0)
    noise_process: NoiseProcess = "frozen"
    smooth: float = config_field(0.9, gt=0.5, le=1.0)
    spectral_norm: bool = True
    minibatch_std: bool = False
    mode_seeking: float = config_field(20.0, ge=0.0)
    coverage: float = config_field(200.0, ge=0.0)
    coverage_pool: CoveragePool = 1
    init_gain: float = config_field(3.0, gt=0.0)
    pack: int = config_field(2, ge=1)
    d_lr_scale: float = config_field(1.0, gt=0.0)


class SurrogateGAN(kit.SurrogateAdapter):
    """Fully spiking GAN: a spiking generator fed Bernoulli noise spike trains and a spiking
    discriminator fed images as spikes, both trained with surrogate gradients.

    Generator: noise ``z[t] ~ Bernoulli(noise_p)`` ``(T, N, noise_dim)`` -> spiking layers ->
    pixels (``readout``). Discriminator: image -> spikes (``coding``; for generated images with a
    surrogate derivative of the coding, :func:`~adapters.spiking.encode_st`) -> spiking layers
    with spectral normalisation -> membrane read-out logit. Neurons (``snntorch.Leaky``)::

        U[t] = β·U[t-1] + W·S_in[t] + b - S[t-1]·θ,   S[t] = Θ(U[t] - θ)   (IF: β = 1)

    Loss: non-saturating, ``L_D = BCE(D(x), smooth) + softplus(D(G(z)))``,
    ``L_G = softplus(-D(G(z))) - mode_seeking·MS + coverage·C``, one-sided label smoothing,
    Adam(β₁ = 0.5); ``MS`` is the mode-seeking term (:func:`_mode_seeking`), ``C`` the coverage
    term (:func:`_coverage`: each real image of the batch pulls its nearest generated image
    towards it).

    The defaults that fight mode collapse (``init_gain``, ``pack``, ``mode_seeking``,
    ``coverage``) were chosen by measurement:
    ``docs/experiments/2026-11-25-surrogate-gan-mode-collapse.md`` and
    ``docs/experiments/2026-12-03-surrogate-gan-coverage.md``.
    """

    name: ClassVar[str] = "surrogate-gan"
    family: ClassVar[str] = "gan"
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample"})
    device_types: ClassVar[frozenset[str]] = TORCH_DEVICES

    @dataclass(frozen=True)
    class Config(kit.TrainingConfig, _GanConfig):
        """Fields in record order: :class:`~adapters.spiking.SpikingNetConfig`'s, then these,
        then :class:`~adapters.spiking.TrainingConfig`'s (``epochs``, ``batch_size``, ``lr``).

        Attributes:
            noise_dim: noise spike-train units. 32: the ANN GAN's noise width.
            noise_p: noise firing probability per step, in ``(0, 1)``. 0.5: the most uncertain
                Bernoulli, as the ANN GAN's noise.
            noise_process: ``"frozen"`` (one Bernoulli draw per sample, repeated at every step)
                or ``"iid"`` (drawn afresh every step). Frozen: i.i.d. steps averaged the noise
                away and collapsed to one class (measured).
            smooth: real-label target of the discriminator, in ``(0.5, 1]``. 0.9: one-sided label
                smoothing as in the ANN GAN.
            spectral_norm: spectral normalisation of the discriminator's synapses. On: in the
                ANN GAN it was what kept the generator from collapsing (measured there).
            minibatch_std: add the batch's spread of last-layer firing rates to the logit. Off:
                it changed nothing against collapse (measured).
            mode_seeking: weight ``>= 0`` of the mode-seeking term in the generator's loss. 20:
                10 covered ten MNIST classes for seed 0 but not seed 1, 20 for both (measured).
            coverage: weight ``>= 0`` of the coverage term (:func:`_coverage`; 0 = off). 200:
                Fashion-MNIST seed 0 from 7 to 9 classes at 3 epochs (measured); the quick and
                full suites use 50 over 6 epochs.
            coverage_pool: pooling window of the coverage distance, a divisor of 28. 1 (pixels):
                pooling 2x2 gave no more classes (measured).
            init_gain: factor ``> 0`` on the generator's initial weights, so its layers fire at
                init. 3: the second layer fired at 1.7 % at PyTorch's init, at 27 % with 3.
            pack: images the discriminator scores together (PacGAN); 1 = one at a time. 2: with
                the mode-seeking term, what covered all ten MNIST classes (measured).
            d_lr_scale: the discriminator's learning rate is ``lr · d_lr_scale``. 1: halving it
                collapsed too (measured).
            lr: Adam learning rate. 2e-4: the ANN GAN's (DCGAN's) rate.
        """

        lr: float = config_field(2e-4, gt=0.0)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        self.generator = kit.SpikingDecoder(c, c.noise_dim)
        self.discriminator = SpikingDiscriminator(c)
        self._set_eval(True)

    def _modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def fit(self, train: Tensor, *, seed: int, progress: ProgressFn | None = None) -> FitReport:
        c = self.config
        order_gen, code_gen, noise_gen = self._begin_fit(train, seed, "data", "coding-train",
                                                         "noise-train")
        with torch.no_grad():  # see Config.init_gain
            for pname, param in self.generator.named_parameters():
                if pname.endswith("weight"):
                    param.mul_(c.init_gain)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=c.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=c.lr * c.d_lr_scale,
                                 betas=(0.5, 0.999))
        log = EpochHistory(("loss_d", "loss_g"), epochs=c.epochs, progress=progress, name=self.name)
        images = self._to_device(train)
        self._set_eval(False)
        for idx in log.batches(len(train), c.batch_size, order_gen):
            x = images[self._to_device(idx)]
            z = self._noise(len(idx), noise_gen)
            with self._autocast():
                fake = self.generator(z).float()
                fake_spikes = kit.encode_st(fake, c.timesteps, c.coding, generator=code_gen)
                d_real = self.discriminator(encode(x, c.timesteps, c.coding,
                                                   generator=code_gen)).float()
                d_fake = self.discriminator(fake_spikes.detach()).float()
                loss_d = discriminator_loss(d_real, d_fake, c.smooth)
            optimiser_step(opt_d, loss_d)
            with self._autocast():
                loss_g = F.softplus(-self.discriminator(fake_spikes).float()).mean()
                if c.mode_seeking > 0 and len(idx) > 1:
                    loss_g = loss_g - c.mode_seeking * _mode_seeking(fake, z)
                if c.coverage > 0:
                    loss_g = loss_g + c.coverage * _coverage(fake, x, c.coverage_pool)
            optimiser_step(opt_g, loss_g)
            log.add(len(idx), loss_d.item(), loss_g.item())
        self._set_eval(True)
        return log.report()

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> Tensor:
        """``n`` images generated from noise spike trains ``z[t] ~ Bernoulli(noise_p)``.

        Returns:
            float32 ``(n, 1, 28, 28)`` in ``[0, 1]``; the same ``seed`` gives the same images.
        """
        check_n(n)
        z = self._noise(n, make_generator(split_seed(seed, "noise")))
        return self._decode_counted(self.generator, "noise", z)

    def _noise(self, n: int, gen: torch.Generator) -> Tensor:
        """``(T, n, noise_dim)`` Bernoulli noise spikes (``noise_process``), drawn on the CPU
        and moved to this model's device."""
        c = self.config
        if c.noise_process == "iid":
            return self._to_device(bernoulli_noise((c.timesteps, n, c.noise_dim), c.noise_p,
                                                   generator=gen))
        draw = bernoulli_noise((n, c.noise_dim), c.noise_p, generator=gen)
        return self._to_device(draw.unsqueeze(0).expand(c.timesteps, n, c.noise_dim).contiguous())
