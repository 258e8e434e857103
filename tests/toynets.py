"""Two toy networks whose operation counts are worked out by hand (tests of op counting and of
the energy models share them).

``spiking_mlp``: one sample, T = 2 steps::

    x[t] (real) -> fc1 Linear(3, 2) -> lif (leaky, beta 0.5) -> fc2 Linear(2, 3) -> if_ (IF)

plus a source spike train ``noise`` added by hand. Neurons: ``v = beta·v + I``, spike when
``v >= 1``, reset by subtraction.

* fc1 weight ``[[1, 0, 0], [0, 0, 1]]``, bias 0, fed ``x[0] = [0.5, 0, 2]`` and
  ``x[1] = [0, 0, 1.5]`` (real values: MACs). Dense per step 3 x 2 = 6, so 12 MACs; effective:
  2 then 1 non-zero inputs x 2 outputs = 6. Inputs read 6 (3 non-zero), outputs written 4.
* lif currents ``[0.5, 2]`` then ``[0, 1.5]``: v = [0.5, 2] -> spikes [0, 1], v = [0.5, 1];
  v = [0.25, 2] -> spikes [0, 1]. 2 spikes, 4 updates.
* fc2 fed those spikes (binary: accumulates): 1 spike x 3 targets per step = 6 accumulates,
  2 input spikes; dense 2 x 3 per step = 12.
* if_ currents ``[1, 0.5, 0]`` per step (fc2 weight column 2 is ``[1, 0.5, 0]``): v = [1, .5, 0]
  -> spikes [1, 0, 0], v = [0, .5, 0]; v = [1, 1, 0] -> spikes [1, 1, 0]. 3 spikes, 6 updates.
* noise: a (T=2, N=1, 2) source train with 3 spikes: 3 source spikes, 4 source updates.

``conv_net``: one sample, T = 1, real values throughout::

    x (1, 1, 4, 4), one non-zero pixel x[0, 0] = 3
      -> conv Conv2d(1, 2, 3, padding=1), weights 1, bias 0 -> ReLU -> MaxPool2d(2)
      -> Upsample(x2, nearest) -> up ConvTranspose2d(2, 1, 2, stride=2)

* conv: dense connections on 4 x 4 with padding 1: (2 + 3 + 3 + 2)^2 = 100 per channel pair,
  x 2 output channels = 200; effective: the corner pixel reaches 2 x 2 outputs x 2 channels
  = 8. Reads 16 (1 non-zero), writes 2 x 16 = 32; parameters 2 x 9 + 2 = 20.
* Pooling and upsampling have no weights and are not counted: they only shape what ``up`` sees.
  The conv output is 3 on (0..1, 0..1) of each channel -> pooled: 1 non-zero of 2 x 2 per
  channel -> upsampled: 4 non-zero of 4 x 4 per channel, 8 of 32.
* up: every input reaches a 2 x 2 block of 1 channel: dense 32 x 4 = 128, effective
  8 x 4 = 32. Reads 32 (8 non-zero), writes 8 x 8 = 64; parameters 2 x 1 x 2 x 2 + 1 = 9.
"""

from __future__ import annotations

import torch
from torch import nn

from adapters.base import OpCounts
from adapters.opcount import OpCounter


class Neuron(nn.Module):
    """A (leaky) integrate-and-fire neuron like snntorch's ``Leaky``: ``(I, v) -> (spikes, v)``."""

    def __init__(self, beta: float) -> None:
        super().__init__()
        self.register_buffer("beta", torch.tensor(beta))

    def forward(self, current: torch.Tensor, mem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mem = self.beta * mem + current
        spikes = (mem >= 1).to(current.dtype)
        return spikes, mem - spikes


def spiking_mlp() -> OpCounts:
    """The hand-counted spiking MLP's measured counts (see the module doc)."""
    fc1, fc2 = nn.Linear(3, 2), nn.Linear(2, 3, bias=False)
    lif, if_ = Neuron(0.5), Neuron(1.0)
    with torch.no_grad():
        fc1.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
        fc1.bias.zero_()
        fc2.weight.copy_(torch.tensor([[0.0, 1.0], [0.0, 0.5], [0.0, 0.0]]))
    net = nn.ModuleDict({"fc1": fc1, "lif": lif, "fc2": fc2, "if_": if_})
    counter = OpCounter().watch_synapses(net).watch_spikes({"lif": lif, "if": if_})
    counter.add_spikes("noise", torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]]), batch_dim=1,
                       source=True)
    x = torch.tensor([[[0.5, 0.0, 2.0]], [[0.0, 0.0, 1.5]]])
    mem1, mem2 = torch.zeros(1, 2), torch.zeros(1, 3)
    with counter, torch.no_grad():
        for t in range(2):
            spk1, mem1 = lif(fc1(x[t]), mem1)
            _spk2, mem2 = if_(fc2(spk1), mem2)
    return counter.counts(n_samples=1, timesteps=2)


def conv_net() -> OpCounts:
    """The hand-counted convolutional network's measured counts (see the module doc)."""
    conv = nn.Conv2d(1, 2, 3, padding=1)
    up = nn.ConvTranspose2d(2, 1, 2, stride=2)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.zero_()
    net = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), nn.Upsample(scale_factor=2), up)
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 3.0
    counter = OpCounter().watch_synapses(net)
    with counter, torch.no_grad():
        net(x)
    return counter.counts(n_samples=1, timesteps=1)
