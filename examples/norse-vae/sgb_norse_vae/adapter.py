"""``norse-vae``: a spiking VAE whose neurons are norse's LIF cells.

Encoder and decoder are ``Linear -> LIF -> Linear`` networks stepped over ``timesteps`` steps;
the neurons are norse ``LIFBoxCell``s (leaky integrate-and-fire without a synaptic current,
reset to zero, trained through norse's SuperSpike surrogate derivative). Images enter as Bernoulli
rate-coded spike trains. The latent is a Bernoulli spike train drawn each step from the encoder's
posterior firing probabilities ``q`` (straight-through derivative); its prior is i.i.d.
``Bernoulli(prior_p)`` spikes, so ``sample`` decodes Bernoulli noise spike trains, as the suite's
rows do. The output layer is read out as its time-averaged value through a sigmoid. Loss: BCE +
``kl_weight`` x KL(Bern(q) || Bern(prior_p)), summed over pixels / latent units.

Neuron: with ``dt`` = 1 ms and ``tau_mem_inv = (1 - beta) / dt`` norse's Euler step is
``v <- beta v + (1 - beta) I``; a threshold of ``1 - beta`` makes it the suite's LIF (``v <- beta v
+ I``, threshold 1) up to the scale of ``v``.

Everything this adapter needs of SpikeGenBench is public: the interface (``adapters.base``), the
seeded training plumbing of the torch adapters (``adapters.torch_adapter``), the spike coding
(``adapters.coding``) and the op counting every built-in row uses
(:func:`adapters.opcount.measure_ops`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from norse.torch import LIFBoxCell, LIFBoxParameters
from torch import Tensor, nn

from adapters.base import AdapterConfig, FitReport, ProgressFn, config_field
from adapters.coding import bernoulli_noise, make_generator, rate_encode, split_seed
from adapters.opcount import measure_ops
from adapters.torch_adapter import (
    EpochHistory,
    TorchModuleAdapter,
    check_images,
    check_n,
    optimiser_step,
)

PIXELS = 28 * 28
_CHUNK = 1000  # images per forward pass when sampling or reconstructing


class SpikingMLP(nn.Module):
    """``Linear -> LIF (norse) -> Linear`` over time: input spikes ``(T, N, n_in)`` -> the output
    layer's time average ``(N, n_out)``."""

    def __init__(self, n_in: int, hidden: int, n_out: int, beta: float) -> None:
        super().__init__()
        self.fc_in = nn.Linear(n_in, hidden)
        self.lif = LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.tensor((1.0 - beta) / 1e-3),
                                               v_th=torch.tensor(1.0 - beta)), dt=1e-3)
        self.fc_out = nn.Linear(hidden, n_out)

    def forward(self, spikes: Tensor) -> Tensor:
        state = None
        total = torch.zeros(spikes.shape[1], self.fc_out.out_features)
        for x_t in spikes:
            z, state = self.lif(self.fc_in(x_t), state)
            total = total + self.fc_out(z)
        return total / spikes.shape[0]


class NorseVAE(TorchModuleAdapter):
    """Spiking VAE on norse LIF neurons (see the module docstring)."""

    name: ClassVar[str] = "norse-vae"
    #: trained through time with surrogate gradients, like the suite's snntorch rows
    backend: ClassVar[str] = "surrogate"
    family: ClassVar[str] = "vae"
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample", "reconstruct"})

    @dataclass(frozen=True)
    class Config(AdapterConfig):
        """Attributes:
            hidden: LIF neurons of the encoder's and of the decoder's hidden layer.
            latent: Bernoulli latent units (spike trains).
            timesteps: simulation steps T.
            beta: membrane decay per step, in (0, 1).
            epochs: passes over the training set.
            batch_size: images per Adam step.
            lr: Adam learning rate.
            prior_p: the prior's firing probability per unit and step, in (0, 1).
            kl_weight: weight of the KL term (>= 0).
        """

        hidden: int = config_field(256, ge=1)
        latent: int = config_field(32, ge=1)
        timesteps: int = config_field(8, ge=1)
        beta: float = config_field(0.9, gt=0.0, lt=1.0)
        epochs: int = config_field(10, ge=1)
        batch_size: int = config_field(128, ge=1)
        lr: float = config_field(1e-3, gt=0.0)
        prior_p: float = config_field(0.5, gt=0.0, lt=1.0)
        kl_weight: float = config_field(1.0, ge=0.0)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        self.encoder = SpikingMLP(PIXELS, c.hidden, c.latent, c.beta)
        self.decoder = SpikingMLP(c.latent, c.hidden, PIXELS, c.beta)

    def _modules(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def _posterior(self, x: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """Posterior logits of images ``x`` (N, 784) and a latent spike train (T, N, latent)
        drawn from them (straight-through)."""
        T = self.config.timesteps
        logits = self.encoder(rate_encode(x, T, generator=gen))
        q = torch.sigmoid(logits).expand(T, -1, -1)
        z = torch.bernoulli(q.detach(), generator=gen)
        return logits, z + q - q.detach()

    def fit(self, train: Tensor, *, seed: int, progress: ProgressFn | None = None) -> FitReport:
        c = self.config
        order_gen, noise_gen = self._begin_fit(train, seed, "data", "noise-train")
        opt = torch.optim.Adam(self._parameters(), lr=c.lr)
        x_all = train.reshape(len(train), -1)
        p = torch.tensor(c.prior_p)
        history = EpochHistory(("loss", "bce", "kl"), epochs=c.epochs, progress=progress,
                               shown=("loss",), name=self.name)
        self._set_eval(False)
        for idx in history.batches(len(train), c.batch_size, order_gen):
            x = x_all[idx]
            logits, z = self._posterior(x, noise_gen)
            x_logits = self.decoder(z)
            bce = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").sum(1).mean()
            q = torch.sigmoid(logits)
            kl = (q * (F.logsigmoid(logits) - p.log())
                  + (1 - q) * (F.logsigmoid(-logits) - (1 - p).log())).sum(1).mean()
            loss = bce + c.kl_weight * kl
            optimiser_step(opt, loss)
            history.add(len(idx), loss.item(), bce.item(), kl.item())
        self._set_eval(True)
        return history.report()

    @torch.no_grad()
    def _decode(self, z: Tensor) -> Tensor:
        """Decode latent spike trains (T, N, latent) into images (N, 1, 28, 28)."""
        out = torch.cat([torch.sigmoid(self.decoder(chunk)) for chunk in z.split(_CHUNK, dim=1)])
        return out.reshape(-1, 1, 28, 28)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> Tensor:
        check_n(n)
        c = self.config
        z = bernoulli_noise((c.timesteps, n, c.latent), c.prior_p,
                            generator=make_generator(split_seed(seed, "noise")))
        images: list[Tensor] = []
        self._counts = measure_ops(self.decoder, lambda: images.append(self._decode(z)),
                                   n_samples=n, timesteps=c.timesteps, spiking=(LIFBoxCell,))
        return images[0]

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Encode ``x`` into a latent spike train drawn from the posterior (a fixed seed, so the
        same images give the same reconstructions) and decode it; counts cover both halves."""
        check_images(x)
        flat = x.reshape(len(x), -1)
        gen = make_generator(split_seed(0, "reconstruct"))
        images: list[Tensor] = []

        def run() -> None:
            for chunk in flat.split(_CHUNK):
                images.append(self._decode(self._posterior(chunk, gen)[1]))

        both = nn.ModuleDict({"encoder": self.encoder, "decoder": self.decoder})
        self._counts = measure_ops(both, run, n_samples=len(x),
                                   timesteps=self.config.timesteps, spiking=(LIFBoxCell,))
        return torch.cat(images)
