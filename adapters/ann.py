"""Non-spiking baselines: an MLP VAE with a Bernoulli latent (and a Gaussian-latent variant) and
an MLP GAN fed Bernoulli noise.

They use the same layer sizes and the same discrete noise as the spiking models, so a spiking
row differs from its baseline by being spiking. Their operations are dense multiply-accumulates,
measured with hooks on the real forward pass (every weight is multiplied, zeros included).

They run on any torch device and can train in mixed precision (``amp``); see
:mod:`adapters.torch_adapter`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adapters.base import AdapterConfig, FitReport, OpCounts, ProgressFn, config_field
from adapters.coding import bernoulli, bernoulli_noise, make_generator, split_seed
from adapters.opcount import OpCounter, merge_counts
from adapters.torch_adapter import (
    TORCH_DEVICES,
    Amp,
    EpochHistory,
    TorchModuleAdapter,
    binary_cross_entropy,
    check_images,
    check_n,
    discriminator_loss,
    optimiser_step,
)

PIXELS = 28 * 28
_CHUNK = 1000  # inference batch: bounds memory for 10,000 samples


def build_mlp(sizes: list[int], *, out_activation: str | None = None,
              hidden_activation: str = "relu") -> nn.Sequential:
    """Linear layers of ``sizes`` with an activation between them (none after the last Linear).

    Args:
        sizes: ``[in, hidden..., out]``, at least two entries.
        out_activation: ``None`` or ``"sigmoid"``, appended after the last Linear.
        hidden_activation: ``"relu"`` or ``"leaky_relu"`` (slope 0.2).
    """
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must hold >= 2 positive ints, got {sizes}")
    acts = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2)}
    if hidden_activation not in acts:
        raise ValueError(f"unknown hidden_activation {hidden_activation!r}; allowed: {sorted(acts)}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(acts[hidden_activation]())
    if out_activation == "sigmoid":
        layers.append(nn.Sigmoid())
    elif out_activation is not None:
        raise ValueError(f"unknown out_activation {out_activation!r}; allowed: None, 'sigmoid'")
    return nn.Sequential(*layers)


def _dense_counts(counter: OpCounter, n: int) -> OpCounts:
    return counter.counts(n_samples=n, timesteps=1)


class _AnnBase(TorchModuleAdapter):
    backend: ClassVar[str] = "ann"
    device_types: ClassVar[frozenset[str]] = TORCH_DEVICES


class AnnVAE(_AnnBase):
    """MLP VAE with a Bernoulli latent ``z ∈ {0,1}^latent``.

    Encoder ``784 → hidden → hidden → latent`` gives posterior firing probabilities
    ``q = sigmoid(logits)``; ``z ~ Bernoulli(q)`` with a straight-through gradient
    (``z = b + q - stop_grad(q)``) or a relaxed (binary-concrete) sample at temperature ``tau``.
    Prior ``p(z) = Bernoulli(prior_p)`` per unit; loss = BCE(x, x̂) + ``kl_weight`` · KL(q ‖ p),
    both summed over pixels/units and averaged over the batch. Decoder ``latent → hidden → hidden
    → 784`` with a sigmoid. ``reconstruct`` uses the posterior mode ``z = [q > 0.5]``.
    """

    name: ClassVar[str] = "ann-vae"
    family: ClassVar[str] = "vae"
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample", "reconstruct"})

    @dataclass(frozen=True)
    class Config(AdapterConfig):
        """Attributes:
            hidden: width of both hidden layers. 256: the spiking models' widths.
            latent: Bernoulli latent units. 32: the spiking VAE's latent width.
            epochs: passes over the training set. 10: the suites set their own budgets.
            batch_size: images per Adam step. 128: a common MNIST batch (not tuned).
            lr: Adam learning rate. 1e-3: Adam's default.
            prior_p: prior firing probability per unit, in ``(0, 1)``. 0.5: the most uncertain
                Bernoulli.
            kl_weight: weight ``>= 0`` of the KL term. 1: the ELBO.
            estimator: ``"straight-through"`` or ``"relaxed"`` (binary concrete at ``tau``).
                Straight-through: its forward samples are exactly binary, as spikes are.
            tau: temperature ``> 0`` of the relaxed estimator. 0.5: a common choice (not
                tuned).
            amp: mixed precision of training, ``"off"`` or ``"bf16"``
                (:mod:`adapters.torch_adapter`). Off: float32, as every recorded result.
        """

        hidden: int = config_field(256, ge=1)
        latent: int = config_field(32, ge=1)
        epochs: int = config_field(10, ge=1)
        batch_size: int = config_field(128, ge=1)
        lr: float = config_field(1e-3, gt=0.0)
        prior_p: float = config_field(0.5, gt=0.0, lt=1.0)
        kl_weight: float = config_field(1.0, ge=0.0)
        estimator: Literal["straight-through", "relaxed"] = "straight-through"
        tau: float = config_field(0.5, gt=0.0)
        amp: Amp = config_field("off", quiet=True)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        self.encoder = build_mlp([PIXELS, c.hidden, c.hidden, c.latent])
        self.decoder = build_mlp([c.latent, c.hidden, c.hidden, PIXELS], out_activation="sigmoid")
        self.prior_p = c.prior_p

    def _modules(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def _latent(self, logits: Tensor, gen: torch.Generator) -> Tensor:
        q = torch.sigmoid(logits)
        if self.config.estimator == "relaxed":
            u = torch.rand(q.shape, generator=gen).to(q.device).clamp(1e-6, 1 - 1e-6)
            return torch.sigmoid((logits + torch.log(u) - torch.log1p(-u)) / self.config.tau)
        b = bernoulli(q.detach(), generator=gen)
        return b + q - q.detach()

    def _kl(self, logits: Tensor, z: Tensor) -> Tensor:
        """KL of the posterior (``logits``) from the prior per sample; ``z`` is the posterior's
        sample (a learned prior is evaluated on it)."""
        q = torch.sigmoid(logits)
        p = self.prior_p
        # KL(Bern(q) || Bern(p)) with log q = logsigmoid(logits), log(1-q) = logsigmoid(-logits).
        kl = q * (F.logsigmoid(logits) - math.log(p)) + (1 - q) * (F.logsigmoid(-logits) - math.log1p(-p))
        return kl.sum(dim=1)

    def fit(self, train: Tensor, *, seed: int, progress: ProgressFn | None = None) -> FitReport:
        c = self.config
        order_gen, noise_gen = self._begin_fit(train, seed, "data", "noise-train")
        opt = torch.optim.Adam(self._parameters(), lr=c.lr)
        x_all = self._to_device(train.reshape(len(train), -1))
        log = EpochHistory(("loss", "bce", "kl"), epochs=c.epochs, progress=progress,
                           shown=("loss",))
        self._set_eval(False)
        for idx in log.batches(len(train), c.batch_size, order_gen):
            x = x_all[self._to_device(idx)]
            with self._autocast():
                logits = self.encoder(x).float()
                z = self._latent(logits, noise_gen)
                x_hat = self.decoder(z).float().clamp(1e-6, 1 - 1e-6)
                bce = binary_cross_entropy(x_hat, x).sum(dim=1).mean()
                kl = self._kl(logits, z).float().mean()
                loss = bce + c.kl_weight * kl
            optimiser_step(opt, loss)
            log.add(len(idx), loss.item(), bce.item(), kl.item())
        self._set_eval(True)
        return log.report()

    @torch.no_grad()
    def _decode_counted(self, z: Tensor) -> Tensor:
        """Decode latents ``z`` (on any device) counting the decoder's operations; images on the
        CPU."""
        counter = OpCounter().watch_synapses(self.decoder, dense=True)
        with counter:
            out = torch.cat([self.decoder(chunk) for chunk in self._to_device(z).split(_CHUNK)])
        self._counts = _dense_counts(counter, len(z))
        return out.reshape(-1, 1, 28, 28).cpu()

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> Tensor:
        check_n(n)
        z = bernoulli_noise((n, self.config.latent), self.prior_p,
                            generator=make_generator(split_seed(seed, "noise")))
        return self._decode_counted(z)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Decode the posterior's mode (:meth:`_posterior_mode`); counts cover the encoder too."""
        check_images(x)
        counter = OpCounter().watch_synapses(self.encoder, dense=True)
        flat = self._to_device(x.reshape(len(x), -1))
        with counter:
            stats = torch.cat([self.encoder(chunk) for chunk in flat.split(_CHUNK)])
        out = self._decode_counted(self._posterior_mode(stats))
        self._counts = merge_counts(self._counts, counter.counts(n_samples=len(x), timesteps=1))
        return out

    def _posterior_mode(self, logits: Tensor) -> Tensor:
        """The most likely latent of the encoder's outputs: ``z = [q > 0.5]``."""
        return (logits > 0).float()


class AnnGaussianVAE(AnnVAE):
    """The textbook VAE for reference: Gaussian latent ``z = μ + σ·ε``, prior N(0, I).

    Same sizes as :class:`AnnVAE`; the encoder outputs ``2·latent`` values (μ, log σ²). Its noise is
    Gaussian, which a spiking network cannot take as it is; it is a second, non-spiking row.
    ``reconstruct`` decodes ``z = μ``.
    """

    name: ClassVar[str] = "ann-vae-gaussian"

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        self.encoder = build_mlp([PIXELS, c.hidden, c.hidden, 2 * c.latent])

    def _latent(self, stats: Tensor, gen: torch.Generator) -> Tensor:
        mu, logvar = stats.chunk(2, dim=1)
        return mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen).to(mu.device)

    def _kl(self, stats: Tensor, z: Tensor) -> Tensor:
        mu, logvar = stats.chunk(2, dim=1)
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> Tensor:
        check_n(n)
        z = torch.randn((n, self.config.latent), generator=make_generator(split_seed(seed, "noise")))
        return self._decode_counted(z)

    def _posterior_mode(self, stats: Tensor) -> Tensor:
        """``z = μ``."""
        return stats.chunk(2, dim=1)[0]


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 ``mask`` (MADE's masked layers)."""

    def __init__(self, in_features: int, out_features: int, mask: Tensor) -> None:
        super().__init__(in_features, out_features)
        if mask.shape != self.weight.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} != weight shape "
                             f"{tuple(self.weight.shape)}")
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)

    def connections(self) -> float:
        """The connections that really exist (unmasked weights): one MAC each per input row."""
        return float(self.mask.sum())


class AutoregressivePrior(nn.Module):
    """``p(z) = Π_j Bernoulli(z_j | z_<j)`` over ``latent`` bits, a MADE (Germain et al. 2015)
    with one hidden ReLU layer: hidden unit ``k`` sees bits ``1..m_k`` (``m_k = 1 + k mod (L-1)``),
    output ``j`` sees the hidden units with ``m_k < j``, so logit ``j`` depends on ``z_<j`` only.
    """

    def __init__(self, latent: int, hidden: int) -> None:
        super().__init__()
        degree_in = torch.arange(1, latent + 1)
        degree_hidden = 1 + torch.arange(hidden) % max(latent - 1, 1)
        self.hidden = MaskedLinear(latent, hidden,
                                   (degree_hidden[:, None] >= degree_in[None, :]).float())
        self.out = MaskedLinear(hidden, latent,
                                (degree_in[:, None] > degree_hidden[None, :]).float())

    def forward(self, z: Tensor) -> Tensor:
        """``(N, L)`` bits -> ``(N, L)`` logits, logit ``j`` a function of ``z_<j``."""
        return self.out(F.relu(self.hidden(z)))

    def macs(self) -> float:
        """MACs of one pass per sample. Sampling bit by bit costs the same when each new bit's
        column is added to the hidden pre-activations as it is drawn."""
        return self.hidden.connections() + self.out.connections()

    def op_counts(self, n: int) -> OpCounts:
        """Per-sample counts of one pass (:meth:`macs`), over ``n`` samples. Its real connections
        are counted as MACs, dense and effective alike (a bit's column is added whether it is 0
        or 1); each masked layer reads its inputs and writes its outputs once."""
        layers = {}
        for name, layer in (("prior.hidden", self.hidden), ("prior.out", self.out)):
            macs = layer.connections()
            layers[name] = {"kind": "synapse", "type": "MaskedLinear",
                            "params": int(macs + layer.out_features),  # real weights + biases
                            "in_size": layer.in_features, "out_size": layer.out_features,
                            "dense_macs": macs, "macs": macs, "effective_macs": macs,
                            "synaptic_ops": 0.0, "mac_inputs": float(layer.in_features),
                            "mac_nonzero_inputs": float(layer.in_features),
                            "mac_outputs": float(layer.out_features), "spike_inputs": 0.0}
        macs = self.macs()
        io = sum(e["mac_inputs"] for e in layers.values())
        return OpCounts(timesteps=1, spikes=0.0, spikes_per_layer={}, neurons_per_layer={},
                        firing_rate=0.0, synaptic_ops=0.0, macs=macs, neuron_updates=0.0,
                        n_samples=n, dense_macs=macs, effective_macs=macs, source_spikes=0.0,
                        source_updates=0.0, neuron_spikes=0.0, membrane_updates=0.0,
                        params=float(sum(e["params"] for e in layers.values())),
                        weight_reads=macs, membrane_reads=0.0, membrane_writes=0.0,
                        activation_reads=io,
                        activation_writes=sum(e["mac_outputs"] for e in layers.values()),
                        layers=layers)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator) -> Tensor:
        """``(n, L)`` bits drawn one after another, ``z_j ~ Bernoulli(sigmoid(logit_j(z_<j)))``,
        on this module's device (the uniforms are drawn on the generator's, the CPU)."""
        latent = self.out.out_features
        uniform = torch.rand((n, latent), generator=generator).to(self.out.weight.device)
        z = torch.zeros_like(uniform)
        for j in range(latent):
            z[:, j] = (uniform[:, j] < torch.sigmoid(self.forward(z)[:, j])).to(z.dtype)
        return z


class AnnVAELearnedPrior(AnnVAE):
    """:class:`AnnVAE` with a learned autoregressive prior over its Bernoulli latent
    (:class:`AutoregressivePrior`) instead of ``Bernoulli(prior_p)``: the non-spiking counterpart
    of ``surrogate-vae``'s learned spike-train prior. Loss: BCE + ``kl_weight`` ·
    ``Σ_j KL(Bern(q_j) ‖ Bern(p_j(z_<j)))``, ``p`` evaluated on the posterior's own sample
    (``prior_p`` is not used). ``sample`` draws ``z`` bit by bit from the prior; its MACs count one
    pass of the prior's real (unmasked) connections on top of the decoder's.
    """

    name: ClassVar[str] = "ann-vae-learned-prior"

    @dataclass(frozen=True)
    class Config(AnnVAE.Config):
        """:class:`AnnVAE.Config`'s fields, plus ``prior_hidden``: the MADE prior's hidden
        units (256: the width of the other hidden layers, not tuned)."""

        prior_hidden: int = config_field(256, ge=1)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.prior = AutoregressivePrior(self.config.latent, self.config.prior_hidden)

    def _modules(self) -> dict[str, nn.Module]:
        return {**super()._modules(), "prior": self.prior}

    def _kl(self, logits: Tensor, z: Tensor) -> Tensor:
        q = torch.sigmoid(logits)
        p_logits = self.prior(z.detach()).float()
        kl = (q * (F.logsigmoid(logits) - F.logsigmoid(p_logits))
              + (1 - q) * (F.logsigmoid(-logits) - F.logsigmoid(-p_logits)))
        return kl.sum(dim=1)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> Tensor:
        check_n(n)
        z = self.prior.sample(n, generator=make_generator(split_seed(seed, "noise")))
        out = self._decode_counted(z)
        self._counts = merge_counts(self._counts, self.prior.op_counts(n))
        return out


class AnnGAN(_AnnBase):
    """MLP GAN whose generator is fed Bernoulli noise ``z ∈ {0,1}^noise_dim``.

    Generator ``noise_dim → hidden → hidden → 784`` (ReLU, sigmoid out: ReLU so that the
    conversion backend can turn the same network into IF neurons); discriminator
    ``784 → hidden → hidden → 1`` (LeakyReLU 0.2) with spectral normalisation of every layer,
    which in measurement here was what kept the generator from collapsing onto one digit
    (plain and dropout discriminators both collapsed within 8 epochs on MNIST). Non-saturating loss
    ``L_D = softplus(-D(x)) + softplus(D(G(z)))``, ``L_G = softplus(-D(G(z)))``, with one-sided
    label smoothing (real target ``smooth``) and Adam(β₁ = 0.5).
    """

    name: ClassVar[str] = "ann-gan"
    family: ClassVar[str] = "gan"
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample"})

    @dataclass(frozen=True)
    class Config(AdapterConfig):
        """Attributes:
            hidden: width of both hidden layers. 256: the spiking models' widths.
            noise_dim: Bernoulli noise units. 32: the spiking GAN's noise width.
            epochs: passes over the training set. 20: the suites set their own budgets.
            batch_size: images per step. 128: a common MNIST batch (not tuned).
            lr: Adam learning rate. 2e-4: DCGAN's rate, with β₁ = 0.5.
            noise_p: noise firing probability, in ``(0, 1)``. 0.5: the most uncertain Bernoulli.
            smooth: real-label target, in ``(0.5, 1]``. 0.9: one-sided label smoothing.
            spectral_norm: spectral normalisation of the discriminator. On: without it the
                generator collapsed (see the class doc).
            amp: mixed precision of training, ``"off"`` or ``"bf16"``
                (:mod:`adapters.torch_adapter`). Off: float32, as every recorded result.
        """

        hidden: int = config_field(256, ge=1)
        noise_dim: int = config_field(32, ge=1)
        epochs: int = config_field(20, ge=1)
        batch_size: int = config_field(128, ge=1)
        lr: float = config_field(2e-4, gt=0.0)
        noise_p: float = config_field(0.5, gt=0.0, lt=1.0)
        smooth: float = config_field(0.9, gt=0.5, le=1.0)
        spectral_norm: bool = True
        amp: Amp = config_field("off", quiet=True)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        self.generator = build_mlp([c.noise_dim, c.hidden, c.hidden, PIXELS], out_activation="sigmoid")
        self.discriminator = build_mlp([PIXELS, c.hidden, c.hidden, 1], hidden_activation="leaky_relu")
        if c.spectral_norm:
            for layer in self.discriminator:
                if isinstance(layer, nn.Linear):
                    nn.utils.parametrizations.spectral_norm(layer)
        self.prior_p = c.noise_p

    def _modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def fit(self, train: Tensor, *, seed: int, progress: ProgressFn | None = None) -> FitReport:
        c = self.config
        order_gen, noise_gen = self._begin_fit(train, seed, "data", "noise-train")
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=c.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=c.lr, betas=(0.5, 0.999))
        x_all = self._to_device(train.reshape(len(train), -1))
        log = EpochHistory(("loss_d", "loss_g"), epochs=c.epochs, progress=progress)
        for idx in log.batches(len(train), c.batch_size, order_gen):
            x = x_all[self._to_device(idx)]
            z = self._to_device(bernoulli_noise((len(idx), c.noise_dim), c.noise_p,
                                                generator=noise_gen))
            with self._autocast():
                fake = self.generator(z).float()
                d_real = self.discriminator(x).float()
                d_fake = self.discriminator(fake.detach()).float()
                loss_d = discriminator_loss(d_real, d_fake, c.smooth)
            optimiser_step(opt_d, loss_d)
            with self._autocast():
                loss_g = F.softplus(-self.discriminator(fake).float()).mean()
            optimiser_step(opt_g, loss_g)
            log.add(len(idx), loss_d.item(), loss_g.item())
        return log.report()

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> Tensor:
        check_n(n)
        z = self._to_device(bernoulli_noise((n, self.config.noise_dim), self.prior_p,
                                            generator=make_generator(split_seed(seed, "noise"))))
        counter = OpCounter().watch_synapses(self.generator, dense=True)
        with counter:
            out = torch.cat([self.generator(chunk) for chunk in z.split(_CHUNK)])
        self._counts = _dense_counts(counter, n)
        return out.reshape(-1, 1, 28, 28).cpu()
