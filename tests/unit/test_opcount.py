"""Op counting on toy networks counted by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from adapters.opcount import OpCounter, connection_count, is_binary


def test_linear_fed_spikes_counts_one_accumulate_per_spike_per_target():
    layer = nn.Linear(3, 2)
    counter = OpCounter().watch_synapses(layer)
    spikes = torch.tensor([[[1.0, 0.0, 1.0]], [[0.0, 0.0, 1.0]]])  # (T=2, N=1, 3): 3 spikes
    with counter:
        for t in range(2):
            layer(spikes[t])
    counts = counter.counts(n_samples=1, timesteps=2)
    assert counts.synaptic_ops == 3 * 2  # 3 spikes x fan-out 2
    assert counts.macs == 0


def test_linear_fed_real_values_counts_dense_macs():
    layer = nn.Linear(3, 2)
    counter = OpCounter().watch_synapses(layer)
    with counter:
        layer(torch.full((4, 3), 0.5))  # 4 samples
    counts = counter.counts(n_samples=4, timesteps=1)
    assert counts.macs == 3 * 2 and counts.synaptic_ops == 0


def test_dense_flag_counts_binary_input_as_macs():
    layer = nn.Linear(5, 4)
    counter = OpCounter().watch_synapses(layer, dense=True)
    with counter:
        layer(torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0]]))
    assert counter.counts(n_samples=1, timesteps=1).macs == 20


def test_conv_corner_and_centre_spikes_reach_only_real_outputs():
    conv = nn.Conv2d(1, 2, kernel_size=3)  # 4x4 -> 2x2 outputs
    corner = torch.zeros(1, 1, 4, 4)
    corner[0, 0, 0, 0] = 1  # covered only by output (0, 0)
    centre = torch.zeros(1, 1, 4, 4)
    centre[0, 0, 1, 1] = 1  # covered by all four outputs
    assert connection_count(conv, corner) == 1 * 2
    assert connection_count(conv, centre) == 4 * 2


def test_conv_padding_and_channels():
    conv = nn.Conv2d(2, 3, kernel_size=3, padding=1)  # 3x3 -> 3x3
    x = torch.zeros(1, 2, 3, 3)
    x[0, 0, 0, 0] = 1  # corner: outputs (0..1, 0..1) -> 4
    x[0, 1, 1, 1] = 1  # centre: all 9 outputs
    assert connection_count(conv, x) == (4 + 9) * 3


def test_conv_stride_skips_positions():
    conv = nn.Conv2d(1, 1, kernel_size=2, stride=2)  # 4x4 -> 2x2, no overlap
    x = torch.ones(1, 1, 4, 4)
    assert connection_count(conv, x) == 16  # every input reaches exactly one output


def test_transposed_conv_fan_out_and_border_crop():
    up = nn.ConvTranspose2d(1, 3, kernel_size=2, stride=2)  # each input -> 2x2 block
    x = torch.zeros(1, 1, 2, 2)
    x[0, 0, 0, 0] = 1
    x[0, 0, 1, 1] = 1
    assert connection_count(up, x) == 2 * 4 * 3
    # k=4, s=2, p=1: a corner input's 4x4 footprint loses one row and one column to the crop.
    up = nn.ConvTranspose2d(1, 2, kernel_size=4, stride=2, padding=1)
    corner = torch.zeros(1, 1, 3, 3)
    corner[0, 0, 0, 0] = 1
    assert connection_count(up, corner) == 3 * 3 * 2
    centre = torch.zeros(1, 1, 3, 3)
    centre[0, 0, 1, 1] = 1
    assert connection_count(up, centre) == 4 * 4 * 2


class _Spiker(nn.Module):
    """Emits (spikes, membrane) like an snntorch neuron."""

    def forward(self, x):
        return (x > 0.5).float(), x


class _Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 4, bias=False)
        self.lif = _Spiker()
        self.fc2 = nn.Linear(4, 1, bias=False)

    def forward(self, x):
        spk, _mem = self.lif(self.fc1(x))
        return self.fc2(spk)


def test_spike_hook_counts_spikes_and_neuron_updates_per_sample():
    net = _Toy()
    with torch.no_grad():
        net.fc1.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]))
    counter = OpCounter().watch_synapses(net).watch_spikes({"hidden": net.lif})
    x = torch.tensor([[0.9, 0.0], [0.9, 0.9]])  # real values: the first layer is dense
    with counter:
        net(x)
    counts = counter.counts(n_samples=2, timesteps=1)
    # sample 1 hidden = [1, 0, 1, 0] -> 2 spikes; sample 2 hidden = [1, 1, 2, 0] -> 3 spikes
    assert counts.spikes == pytest.approx(5 / 2)
    assert counts.spikes_per_layer == {"hidden": pytest.approx(2.5)}
    assert counts.neurons_per_layer == {"hidden": 4}
    assert counts.neuron_updates == 4
    assert counts.firing_rate == pytest.approx(5 / 8)
    assert counts.macs == 2 * 4  # first layer, per sample
    assert counts.synaptic_ops == pytest.approx(5 * 1 / 2)  # spikes x fan-out 1, per sample


def test_hooks_are_removed_after_the_block():
    layer = nn.Linear(2, 2)
    counter = OpCounter().watch_synapses(layer)
    with counter:
        layer(torch.full((1, 2), 0.5))
    layer(torch.full((1, 2), 0.5))
    assert counter.macs == 4


def test_bad_arguments_are_rejected():
    with pytest.raises(TypeError, match="cannot count connections of ReLU"):
        connection_count(nn.ReLU(), torch.ones(1, 2))
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        OpCounter().counts(n_samples=0, timesteps=1)
    assert is_binary(torch.tensor([0.0, 1.0])) and not is_binary(torch.tensor([0.5]))
