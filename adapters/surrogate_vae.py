"""``surrogate-vae``: a fully spiking VAE with a Bernoulli spike-train latent, trained with
surrogate gradients (snntorch), built from the spiking kit (:mod:`adapters.spiking`)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from adapters.base import FitReport, ProgressFn, config_field
from adapters.coding import bernoulli_noise, encode, make_generator, split_seed
from adapters.opcount import OpCounter
from adapters.spiking import (
    CHUNK,
    SpikingDecoder,
    SpikingLayer,
    SpikingNetConfig,
    SurrogateAdapter,
    TrainingConfig,
    bernoulli_spikes,
    image_to_spiking,
    neuron_factory,
    spiking_modules,
)
from adapters.torch_adapter import (
    TORCH_DEVICES,
    EpochHistory,
    binary_cross_entropy,
    check_images,
    check_n,
    optimiser_step,
)

logger = logging.getLogger(__name__)

Posterior = Literal["step", "rate"]
LatentLoss = Literal["kl", "mmd"]
Prior = Literal["fixed", "learned"]
#: Fixed seed of ``reconstruct`` (it takes none): the same images give the same reconstructions.
_RECONSTRUCT_SEED = 0


class SpikingEncoder(nn.Module):
    """Image spikes ``(T, N, 1, 28, 28)`` -> per-step latent firing probabilities ``(T, N, L)``.

    ``posterior="step"``: the latent units are stochastic neurons (escape noise) with no memory;
    their firing probability at step ``t`` is ``q[t] = sigmoid(I[t])``, ``I[t] = W·S[t] + b`` the
    synaptic current from the last hidden layer's spikes. ``posterior="rate"``: the latent units
    are ``Leaky`` neurons and ``q[t] = (1/T)·Σ_s S[s]``, their firing rate, the same at every step
    (ESVAE).
    """

    def __init__(self, c: Any) -> None:
        super().__init__()
        parts = image_to_spiking(c, c.latent)
        self.posterior = c.posterior
        if c.posterior == "rate":
            self.layers = nn.ModuleList([*parts[:-1], SpikingLayer(parts[-1], neuron_factory(c)())])
        else:
            self.layers = nn.ModuleList(parts[:-1])
            self.latent = parts[-1]

    def forward(self, spikes: Tensor) -> Tensor:
        for layer in self.layers:
            spikes = layer(spikes)
        if self.posterior == "rate":
            return spikes.mean(0, keepdim=True).expand_as(spikes)
        steps, batch = spikes.shape[:2]
        return torch.sigmoid(self.latent(spikes.flatten(0, 1))).view(steps, batch, -1)



class SpikingPrior(nn.Module):
    """Learned autoregressive prior over latent spike trains, ``p(z[t] | z[<t])`` (FSVAE's idea).

    A layer of spiking neurons is fed the latent spikes one step late (``z[t-1]``, zeros at
    ``t = 0``); its membranes integrate the history. The latent units are memoryless stochastic
    neurons (as in the ``step`` posterior): ``p[t] = sigmoid(W·H[t] + b)``, ``H[t]`` the hidden
    spikes, and ``z[t] ~ Bernoulli(p[t])``. Because the input is delayed, ``p[t]`` depends only on
    ``z[0..t-1]``: training evaluates all steps in one pass on the posterior's spikes, and
    :meth:`sample` draws ``z[0], z[1], ...`` in turn.
    """

    def __init__(self, c: Any) -> None:
        super().__init__()
        self.hidden = SpikingLayer(nn.Linear(c.latent, c.prior_hidden), neuron_factory(c)())
        self.out = nn.Linear(c.prior_hidden, c.latent)

    def forward(self, z: Tensor) -> Tensor:
        """``(T, N, L)`` spikes -> ``(T, N, L)`` firing probabilities, ``p[t]`` from ``z[<t]``."""
        delayed = torch.cat([torch.zeros_like(z[:1]), z[:-1]])
        h = self.hidden(delayed)
        return torch.sigmoid(self.out(h.flatten(0, 1))).view_as(z)

    @torch.no_grad()
    def sample(self, timesteps: int, n: int, *, generator: torch.Generator) -> Tensor:
        """``(T, n, L)`` spike trains drawn step by step from the prior, on this module's device
        (the uniforms are drawn on the generator's, the CPU).

        Step ``t`` re-runs the network on ``z[0..t]`` (the neurons restart from rest each pass),
        which gives exactly the state a step-by-step simulation has; the last pass over all ``T``
        steps is the one a chip would run, and is the one counted (see ``SurrogateVAE.sample``).
        """
        uniform = torch.rand((timesteps, n, self.out.out_features),
                             generator=generator).to(self.out.weight.device)
        z = torch.zeros_like(uniform)
        for t in range(timesteps):
            p = self.forward(z[:t + 1])[t]
            z[t] = (uniform[t] < p).to(z.dtype)
        return z



def _mmd(a: Tensor, b: Tensor) -> Tensor:
    """Squared MMD between samples ``a`` and ``b`` (``(N, D)`` each), a sum of Gaussian kernels
    with bandwidths spread around the dimension ``D`` (rates lie in ``[0, 1]^D``)."""
    both = torch.cat([a, b])
    d2 = torch.cdist(both, both).pow(2)
    scale = a.shape[1] / 6.0  # E|r - r'|² of independent uniform rates is D/6
    k = sum(torch.exp(-d2 / (scale * w)) for w in (0.25, 0.5, 1.0, 2.0, 4.0))
    n = a.shape[0]
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()



@dataclass(frozen=True)
class _LatentConfig(SpikingNetConfig):
    """The VAE's own config fields (see :class:`SurrogateVAE.Config`)."""

    latent: int = config_field(32, ge=1)
    posterior: Posterior = "rate"
    prior_p: float = config_field(0.5, gt=0.0, lt=1.0)
    latent_loss: LatentLoss = "kl"
    kl_weight: float = config_field(1.0, ge=0.0)
    prior: Prior = "learned"
    prior_hidden: int = config_field(256, ge=1)


class SurrogateVAE(SurrogateAdapter):
    """Fully spiking VAE with a Bernoulli spike-train latent, trained with surrogate gradients.

    ``x`` -> spikes ``(T, N, 1, 28, 28)`` (``coding``) -> spiking encoder -> latent-layer spikes
    ``(T, N, L)`` whose firing rates are the posterior probabilities ``q ∈ [0, 1]^L`` ->
    latent spike train ``z[t] ~ Bernoulli(q)`` i.i.d. over steps, straight-through to ``q``
    (ESVAE-style rate-parameterised sampling) -> spiking decoder -> pixels (``readout``).
    ``posterior="step"`` instead gives per-step probabilities ``q[t] = sigmoid(I[t])`` from
    memoryless stochastic latent neurons (see :class:`SpikingEncoder`).

    Neurons (``snntorch.Leaky``, threshold ``θ = 1``, reset by subtraction)::

        U[t] = β·U[t-1] + W·S_in[t] + b - S[t-1]·θ,   S[t] = Θ(U[t] - θ)   (IF: β = 1)

    Prior (``prior="learned"``, default): a spiking autoregressive prior ``p(z[t] | z[<t])``
    (:class:`SpikingPrior`, FSVAE's idea) trained with the model; ``sample`` draws the latent step
    by step from it and runs the decoder, and the prior network's operations are counted with the
    decoder's. Loss: ``BCE(x, x̂)`` (summed over pixels) ``+ kl_weight · R``, with
    ``R = Σ_t Σ_j KL(Bern(q_tj) ‖ Bern(p_tj))`` and ``p`` computed from the posterior's own spikes
    (the ELBO at ``kl_weight = 1``). ``prior="fixed"``: ``z[t] ~ Bernoulli(prior_p)`` per unit and
    step, and ``R`` either ``"kl"`` — ``Σ_t Σ_j KL(Bern(q_tj) ‖ Bern(prior_p))`` — or ``"mmd"`` —
    ``latent·``MMD² between the batch's posterior rates and the rates of prior spike trains
    (ESVAE). ``reconstruct`` codes and samples with a fixed internal seed, so it is deterministic.

    Defaults: a learned prior (a fixed one, not the decoder, limits sample FID) and a rate
    posterior (one feed-forward pass per layer); how they were chosen is in
    ``docs/experiments/2026-12-04-surrogate-vae-learned-prior.md`` and
    ``docs/experiments/2026-11-25-surrogate-vae-posterior.md``.
    """

    name: ClassVar[str] = "surrogate-vae"
    family: ClassVar[str] = "vae"
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample", "reconstruct"})
    device_types: ClassVar[frozenset[str]] = TORCH_DEVICES

    @dataclass(frozen=True)
    class Config(TrainingConfig, _LatentConfig):
        """Fields in record order: :class:`~adapters.spiking.SpikingNetConfig`'s, then these,
        then :class:`~adapters.spiking.TrainingConfig`'s (``epochs``, ``batch_size``, ``lr``).

        Attributes:
            latent: latent spiking units ``L``. 32: the ANN baselines' latent width.
            posterior: ``"rate"`` (latent rates, the same ``q`` at every step) or ``"step"``
                (per-step ``q[t]``). Rate: measured better (see the class doc).
            prior_p: the fixed prior's firing probability per step, in ``(0, 1)``. 0.5: the
                most uncertain Bernoulli, as the ANN baselines' prior.
            latent_loss: ``"kl"`` or ``"mmd"``; ``kl_weight`` scales it. KL: the ELBO's, and the
                only one the learned prior supports.
            kl_weight: weight ``>= 0`` of the latent loss. 1: the ELBO (not tuned for the
                learned prior).
            prior: ``"fixed"`` (i.i.d. ``Bernoulli(prior_p)``) or ``"learned"`` (a spiking
                autoregressive prior of ``prior_hidden`` neurons; needs ``latent_loss="kl"``).
                Learned: measured better sample FID (see the class doc).
            prior_hidden: neurons of the learned prior's hidden layer. 256: the width of the
                other hidden layers (not tuned).
        """

        def check(self) -> None:
            if self.prior == "learned" and self.latent_loss != "kl":
                raise ValueError(f"latent_loss={self.latent_loss!r} needs prior='fixed' (the MMD "
                                 "compares with samples of the fixed prior); prior='learned' "
                                 "needs latent_loss='kl'")

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        self.encoder = SpikingEncoder(c)
        self.decoder = SpikingDecoder(c, c.latent)
        self.prior = SpikingPrior(c) if c.prior == "learned" else None
        self._set_eval(True)

    def _modules(self) -> dict[str, nn.Module]:
        modules = {"encoder": self.encoder, "decoder": self.decoder}
        if self.prior is not None:
            modules["prior"] = self.prior
        return modules

    def _latent_loss(self, q: Tensor, z: Tensor, gen: torch.Generator) -> Tensor:
        """The latent regulariser of posterior probabilities ``q`` ``(T, N, L)`` and the latent
        spikes ``z`` drawn from them, batch mean."""
        c = self.config
        if c.latent_loss == "kl":
            q = q.clamp(1e-4, 1 - 1e-4)
            if self.prior is None:
                log_p, log_1mp = math.log(c.prior_p), math.log1p(-c.prior_p)
            else:
                p = self.prior(z.detach()).float().clamp(1e-4, 1 - 1e-4)
                log_p, log_1mp = p.log(), (1 - p).log()
            kl = q * (q.log() - log_p) + (1 - q) * ((1 - q).log() - log_1mp)
            return kl.sum(dim=(0, 2)).mean()
        rates = q.mean(0)
        prior_rates = bernoulli_noise(q.shape, c.prior_p, generator=gen).to(q.device).mean(0)
        return c.latent * _mmd(rates, prior_rates)

    def fit(self, train: Tensor, *, seed: int, progress: ProgressFn | None = None) -> FitReport:
        c = self.config
        order_gen, code_gen, noise_gen = self._begin_fit(train, seed, "data", "coding-train",
                                                         "noise-train")
        opt = torch.optim.Adam(self._parameters(), lr=c.lr)
        log = EpochHistory(("loss", "bce", "latent_loss", "latent_rate"), epochs=c.epochs,
                           progress=progress, shown=("loss", "bce"), name=self.name)
        images = self._to_device(train)
        self._set_eval(False)
        for idx in log.batches(len(train), c.batch_size, order_gen):
            x = images[self._to_device(idx)]
            with self._autocast():
                q = self.encoder(encode(x, c.timesteps, c.coding, generator=code_gen)).float()
                z = bernoulli_spikes(q, generator=noise_gen)
                x_hat = self.decoder(z).float().clamp(1e-6, 1 - 1e-6)
                bce = binary_cross_entropy(x_hat, x).flatten(1).sum(1).mean()
                reg = self._latent_loss(q, z, noise_gen)
                loss = bce + c.kl_weight * reg
            optimiser_step(opt, loss)
            log.add(len(idx), loss.item(), bce.item(), reg.item(), q.mean().item())
        self._set_eval(True)
        return log.report()

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> Tensor:
        """``n`` images decoded from prior spike trains: ``z[t] ~ Bernoulli(prior_p)``, or drawn
        step by step from the learned prior (whose network's operations are counted too).

        Returns:
            float32 ``(n, 1, 28, 28)`` in ``[0, 1]``; the same ``seed`` gives the same images.
        """
        check_n(n)
        c = self.config
        gen = make_generator(split_seed(seed, "noise"))
        if self.prior is None:
            z = bernoulli_noise((c.timesteps, n, c.latent), c.prior_p, generator=gen)
            return self._decode_counted(self.decoder, "latent", z)  # moved to the device there
        z = torch.cat([self.prior.sample(c.timesteps, min(CHUNK, n - start), generator=gen)
                       for start in range(0, n, CHUNK)], dim=1)
        counter = OpCounter().watch_synapses(self.prior)
        counter.watch_spikes(spiking_modules("prior", self.prior))
        with counter:
            for chunk in z.split(CHUNK, dim=1):
                self.prior(chunk)
        return self._decode_counted(self.decoder, "latent", z, counter)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Code ``x`` to spikes, encode, sample the latent spike train and decode.

        Counts cover the whole pass: input spikes, encoder, latent and decoder.
        """
        check_images(x)
        c = self.config
        code_gen = make_generator(split_seed(_RECONSTRUCT_SEED, "coding"))
        noise_gen = make_generator(split_seed(_RECONSTRUCT_SEED, "latent"))
        # "enc." keeps the step posterior's latent synapses apart from the latent spike train
        counter = OpCounter().watch_synapses(self.encoder, prefix="enc.")
        counter.watch_spikes(spiking_modules("enc", self.encoder))
        latents = []
        with counter:
            for chunk in x.split(CHUNK):
                spikes = encode(self._to_device(chunk), c.timesteps, c.coding, generator=code_gen)
                counter.add_spikes("input", spikes, batch_dim=1)
                latents.append(bernoulli_spikes(self.encoder(spikes), generator=noise_gen))
        return self._decode_counted(self.decoder, "latent", torch.cat(latents, dim=1), counter)

