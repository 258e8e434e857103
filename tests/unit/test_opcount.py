"""Op counting on toy networks counted by hand."""

from __future__ import annotations

import dataclasses

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


# -- the newer counts (issue 21): hand-counted toy networks (tests/toynets.py) -----------------


def test_spiking_mlp_counts_every_kind_of_operation_by_hand():
    from tests.toynets import spiking_mlp

    c = spiking_mlp()
    # the first counts, as before: the source train is among spikes and neuron updates
    assert (c.spikes, c.neuron_updates, c.macs, c.synaptic_ops) == (8, 14, 12, 6)
    assert c.firing_rate == 8 / 14
    # MACs dense and effective; the spike-fed layer's dense count too
    assert (c.dense_macs, c.effective_macs) == (12 + 12, 6)
    # sources apart from the neurons that integrate
    assert (c.source_spikes, c.source_updates) == (3, 4)
    assert (c.neuron_spikes, c.membrane_updates) == (2 + 3, 4 + 6)
    # parameters and memory accesses
    assert c.params == (3 * 2 + 2) + 2 * 3
    assert c.weight_reads == 12 + 6
    assert c.membrane_reads == c.membrane_writes == 10
    assert c.activation_reads == 6 + 2  # fc1's inputs, fc2's input spikes
    assert c.activation_writes == 4 + 5  # fc1's outputs, the neurons' spikes
    layers = c.layers
    assert list(layers) == ["noise", "fc1", "lif", "fc2", "if"]
    assert layers["noise"] == {"kind": "source", "neurons": 2, "updates": 4, "spikes": 3,
                               "leaky": None}
    assert layers["lif"] == {"kind": "neuron", "neurons": 2, "updates": 4, "spikes": 2,
                             "leaky": True}
    assert layers["if"] == {"kind": "neuron", "neurons": 3, "updates": 6, "spikes": 3,
                            "leaky": False}
    assert layers["fc1"] == {"kind": "synapse", "type": "Linear", "params": 8, "in_size": 3,
                             "out_size": 2, "dense_macs": 12, "macs": 12, "effective_macs": 6,
                             "synaptic_ops": 0, "mac_inputs": 6, "mac_nonzero_inputs": 3,
                             "mac_outputs": 4, "spike_inputs": 0}
    assert layers["fc2"] == {"kind": "synapse", "type": "Linear", "params": 6, "in_size": 2,
                             "out_size": 3, "dense_macs": 12, "macs": 0, "effective_macs": 0,
                             "synaptic_ops": 6, "mac_inputs": 0, "mac_nonzero_inputs": 0,
                             "mac_outputs": 0, "spike_inputs": 2}


def test_conv_pool_upsample_transposed_counts_by_hand():
    from tests.toynets import conv_net

    c = conv_net()
    assert (c.macs, c.dense_macs, c.effective_macs, c.synaptic_ops) == (328, 328, 8 + 32, 0)
    assert (c.params, c.weight_reads) == (20 + 9, 328)
    assert (c.activation_reads, c.activation_writes) == (16 + 32, 32 + 64)
    assert (c.spikes, c.membrane_updates, c.source_spikes) == (0, 0, 0)
    conv, up = c.layers["0"], c.layers["4"]  # pooling and upsampling have no entry
    assert list(c.layers) == ["0", "4"]
    assert (conv["type"], conv["params"], conv["in_size"], conv["out_size"]) == (
        "Conv2d", 20, 16, 32)
    assert (conv["dense_macs"], conv["effective_macs"], conv["mac_nonzero_inputs"]) == (200, 8, 1)
    assert (up["type"], up["params"], up["in_size"], up["out_size"]) == (
        "ConvTranspose2d", 9, 32, 64)
    assert (up["dense_macs"], up["effective_macs"], up["mac_nonzero_inputs"]) == (128, 32, 8)


def test_counts_are_per_sample_and_sizes_per_example():
    layer = nn.Linear(4, 3)
    counter = OpCounter().watch_synapses(layer)
    with counter:
        layer(torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]))  # 3 spikes, 2 samples
        layer(torch.tensor([[0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))  # real: 2 x 12 MACs
    c = counter.counts(n_samples=2, timesteps=2)
    assert (c.synaptic_ops, c.macs, c.effective_macs, c.dense_macs) == (4.5, 12, 1.5, 24)
    entry = c.layers["Linear"]  # watched as the module itself (named ""): its class name
    assert (entry["in_size"], entry["out_size"], entry["params"]) == (4, 3, 15)
    assert (entry["spike_inputs"], entry["mac_inputs"], entry["mac_outputs"]) == (1.5, 4, 3)


def test_ops_added_without_a_layer_leave_the_newer_counts_unmeasured():
    layer = nn.Linear(2, 2)
    counter = OpCounter().watch_synapses(layer)
    with counter:
        layer(torch.full((1, 2), 0.5))
    counter.add_synaptic_ops(10)  # no layer to attribute it to
    c = counter.counts(n_samples=1, timesteps=1)
    assert (c.macs, c.synaptic_ops) == (4, 10)
    assert c.dense_macs is None and c.layers is None and c.weight_reads is None


def test_a_name_taken_by_another_layer_is_numbered():
    a, b = nn.Linear(2, 1), nn.Linear(2, 1)
    counter = OpCounter()
    counter.add_layer_input(a, torch.full((1, 2), 0.5), name="dec")
    counter.add_layer_input(b, torch.full((1, 2), 0.5), name="dec")
    counter.add_layer_input(a, torch.full((1, 2), 0.5), name="dec")
    assert list(counter.layers) == ["dec", "dec#2"]
    assert counter.layers["dec"]["macs"] == 4 and counter.layers["dec#2"]["macs"] == 2


def test_leaks_reads_beta():
    from adapters.opcount import leaks
    from tests.toynets import Neuron

    assert leaks(Neuron(0.9)) is True and leaks(Neuron(1.0)) is False
    assert leaks(nn.ReLU()) is None


def test_merged_step_counters_and_merge_counts_add_up():
    from adapters.opcount import merge_counts

    layer = nn.Linear(2, 3)
    steps = [OpCounter(), OpCounter()]
    steps[0].add_layer_input(layer, torch.tensor([[1.0, 0.0]]), name="fc")
    steps[1].add_layer_input(layer, torch.tensor([[1.0, 1.0]]), name="fc")
    steps[1].add_spikes("out", torch.tensor([[1.0, 0.0, 1.0]]), leaky=False)
    merged = OpCounter.merged(steps).counts(n_samples=1, timesteps=2)
    assert (merged.synaptic_ops, merged.dense_macs, merged.neuron_spikes) == (9, 12, 2)
    assert merged.layers["fc"]["spike_inputs"] == 3 and merged.layers["out"]["updates"] == 3
    first = steps[0].counts(n_samples=1, timesteps=1)
    both = merge_counts(first, steps[1].counts(n_samples=1, timesteps=1))
    assert (both.synaptic_ops, both.dense_macs, both.params) == (9, 12, 9 + 9)
    assert both.layers["fc"]["synaptic_ops"] == 9 and both.firing_rate == 2 / 3
    old = dataclasses.replace(first, dense_macs=None, layers=None)  # a record's older counts
    assert merge_counts(old, first).dense_macs is None
    assert merge_counts(old, first).layers is None


def test_old_records_load_with_the_newer_counts_unmeasured():
    from adapters.base import OpCounts

    old = {"timesteps": 1, "spikes": 0.0, "spikes_per_layer": {}, "neurons_per_layer": {},
           "firing_rate": 0.0, "synaptic_ops": 0.0, "macs": 274432.0, "neuron_updates": 0.0,
           "n_samples": 10000}
    counts = OpCounts.from_dict(old)
    assert counts.effective_macs is None and counts.layers is None and counts.params is None
    with pytest.raises(ValueError, match=r"unknown OpCounts fields \['flops'\]"):
        OpCounts.from_dict({**old, "flops": 1.0})
    with pytest.raises(ValueError, match="OpCounts.effective_macs must be >= 0, got -1"):
        OpCounts.from_dict({**old, "effective_macs": -1.0})
