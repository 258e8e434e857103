"""Training throughput of the surrogate-gradient MLP VAE against plain PyTorch loops.

Three implementations of the same network, loss and time steps (one training step = rate coding,
encoder, Bernoulli spike-train latent, decoder, BCE + KL, Adam) are timed in images/s:

* ``snntorch``   — ``adapters.surrogate_vae.SurrogateVAE``'s own modules (the spiking kit's
  layers with ``snntorch.Leaky`` neurons, layer-by-layer over time);
* ``plain-layer`` — the kit's layers (:mod:`adapters.spiking`) with a hand-written LIF neuron and
  the same surrogate, same layer-by-layer schedule (isolates the cost of the snntorch neuron);
* ``plain-step`` — the textbook loop: every layer stepped once per time step (T small products),
  with the same hand-written neuron.

Usage::

    OMP_NUM_THREADS=2 nice python scripts/bench_surrogate_throughput.py --threads 2 --steps 20

Prints one line per implementation to stdout and the ratios (target: snntorch / plain >= 0.8).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adapters.coding import encode, make_generator
from adapters.spiking import PIXELS, Readout, SpikingLayer, bernoulli_spikes
from adapters.surrogate_vae import SurrogateVAE


class _ATanSpike(torch.autograd.Function):
    """Heaviside forward, arctan surrogate backward (the same as ``snntorch.surrogate.atan``)."""

    @staticmethod
    def forward(ctx, u: Tensor, alpha: float) -> Tensor:  # noqa: ANN001
        ctx.save_for_backward(u)
        ctx.alpha = alpha
        return (u > 0).float()

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN001, ANN205
        (u,) = ctx.saved_tensors
        return grad * ctx.alpha / 2 / (1 + (math.pi / 2 * ctx.alpha * u).pow(2)), None


class PlainLIF(nn.Module):
    """A hand-written LIF neuron with the kit's call signature ``(I[t], U[t-1]) -> (S[t], U[t])``:
    ``U[t] = β·U[t-1] + I[t] - S[t-1]``, ``S[t] = Θ(U[t] - 1)`` (arctan surrogate), with the
    previous spike read from ``U[t-1]`` as snntorch's reset by subtraction does."""

    def __init__(self, beta: float, alpha: float) -> None:
        super().__init__()
        self.register_buffer("beta", torch.tensor(beta))
        self.alpha = alpha

    def forward(self, cur: Tensor, mem: Tensor) -> tuple[Tensor, Tensor]:
        reset = (mem > 1.0).float()
        mem = self.beta * mem + cur - reset
        return _ATanSpike.apply(mem - 1.0, self.alpha), mem


class PlainVAE(nn.Module):
    """The same MLP VAE (``step`` posterior, membrane read-out) with :class:`PlainLIF` neurons."""

    def __init__(self, hidden: tuple[int, ...], latent: int, beta: float, alpha: float,
                 schedule: str) -> None:
        super().__init__()
        enc = [PIXELS, *hidden]
        dec = [latent, *reversed(hidden)]
        self.enc = nn.ModuleList(SpikingLayer(nn.Linear(a, b), PlainLIF(beta, alpha))
                                 for a, b in zip(enc[:-1], enc[1:], strict=True))
        self.enc_out = nn.Linear(enc[-1], latent)
        self.dec = nn.ModuleList(SpikingLayer(nn.Linear(a, b), PlainLIF(beta, alpha))
                                 for a, b in zip(dec[:-1], dec[1:], strict=True))
        self.readout = Readout(nn.Linear(dec[-1], PIXELS), "membrane", PlainLIF(beta, alpha))
        self.schedule = schedule

    def _stack(self, layers: nn.ModuleList, spikes: Tensor) -> Tensor:
        if self.schedule == "layer":
            for layer in layers:
                spikes = layer(spikes)
            return spikes
        mems: list[Tensor | None] = [None] * len(layers)
        out = []
        for t in range(spikes.shape[0]):
            s = spikes[t]
            for i, layer in enumerate(layers):
                cur = layer.synapse(s)
                s, mems[i] = layer.neuron(cur, torch.zeros_like(cur) if mems[i] is None else mems[i])
            out.append(s)
        return torch.stack(out)

    def encode(self, spikes: Tensor) -> Tensor:
        h = self._stack(self.enc, spikes.flatten(2))
        return torch.sigmoid(self.enc_out(h.flatten(0, 1))).view(*h.shape[:2], -1)

    def decode(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.readout(self._stack(self.dec, z))).view(-1, 1, 28, 28)


def _loss(x: Tensor, q: Tensor, x_hat: Tensor) -> Tensor:
    q = q.clamp(1e-4, 1 - 1e-4)
    kl = (q * (q.log() - math.log(0.5)) + (1 - q) * ((1 - q).log() - math.log(0.5))).sum((0, 2))
    bce = F.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), x, reduction="none").flatten(1).sum(1)
    return (bce + kl).mean()


def _time(encoder, decoder, params, x_all: Tensor, timesteps: int, batch: int,  # noqa: ANN001
          steps: int, warmup: int) -> float:
    opt = torch.optim.Adam(params, lr=1e-3)
    code_gen, noise_gen = make_generator(1), make_generator(2)
    t0 = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        x = x_all[(i * batch) % len(x_all):][:batch]
        q = encoder(encode(x, timesteps, "rate", generator=code_gen))
        loss = _loss(x, q, decoder(bernoulli_spikes(q, generator=noise_gen)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timesteps", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per implementation")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds; best is kept")
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    config = SurrogateVAE.Config(timesteps=args.timesteps, batch_size=args.batch_size,
                                 posterior="step")  # the posterior PlainVAE implements
    gen = make_generator(0)
    x_all = (torch.rand(1024, 1, 28, 28, generator=gen) < 0.2).float() * torch.rand(
        1024, 1, 28, 28, generator=gen)  # MNIST-like: ~20 % lit pixels

    model = SurrogateVAE(config)
    impls = {
        "snntorch": (model.encoder, model.decoder,
                     [*model.encoder.parameters(), *model.decoder.parameters()]),
    }
    for schedule in ("layer", "step"):
        plain = PlainVAE(config.hidden, config.latent, config.beta, config.slope, schedule)
        impls[f"plain-{schedule}"] = (plain.encode, plain.decode, list(plain.parameters()))
    for m in (model.encoder, model.decoder):
        m.train()

    best: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, (enc, dec, params) in impls.items():
            ips = _time(enc, dec, params, x_all, args.timesteps, args.batch_size, args.steps,
                        args.warmup)
            best[name] = max(best.get(name, 0.0), ips)
    result = {
        "threads": args.threads, "timesteps": args.timesteps, "batch_size": args.batch_size,
        "images_per_s": {k: round(v, 1) for k, v in best.items()},
        "ratio_vs_plain_layer": round(best["snntorch"] / best["plain-layer"], 3),
        "ratio_vs_plain_step": round(best["snntorch"] / best["plain-step"], 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for name, ips in result["images_per_s"].items():
            print(f"{name:12s} {ips:10.1f} images/s")
        print(f"snntorch / plain-layer = {result['ratio_vs_plain_layer']:.3f}   "
              f"snntorch / plain-step = {result['ratio_vs_plain_step']:.3f}   (target >= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
