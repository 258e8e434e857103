"""Every torch adapter through the device path (here with the CPU given explicitly): where its
outputs and weights live, and that nothing moves against the plain path (the same images, the
same op counts, bit for bit). Also: random draws follow their generator's device, so a seed
gives the same draws wherever the model runs."""

from __future__ import annotations

import pytest
import torch

import adapters
from adapters.coding import bernoulli, make_generator
from adapters.device import place, resolve_device
from adapters.spiking import bernoulli_spikes
from tests.contract.tiny_configs import TINY_CONFIGS
from tests.fakes import blobs

#: The contract test's tiny config of every adapter that runs torch code (seconds each).
TINY: dict[str, dict] = {name: TINY_CONFIGS[name] for name in (
    "ann-vae", "ann-vae-gaussian", "ann-vae-learned-prior", "ann-gan", "surrogate-vae",
    "surrogate-gan", "stdp-ae", "ann-ddpm", "surrogate-ddpm")}
_LIBRARY = {"surrogate": "snntorch", "stdp": "spyker"}


def _run(name: str, device: torch.device | None) -> tuple[dict, object]:
    pytest.importorskip(_LIBRARY.get(adapters.backend_of(name), "torch"))
    model = adapters.create(name, TINY[name])
    placement = place(model, device) if device is not None else None
    x = blobs(32, 0)
    out = {"fit": model.fit(x, seed=3).history, "sample": model.sample(12, seed=5),
           "sample_counts": model.op_counts().to_dict(), "placement": placement}
    if "reconstruct" in model.capabilities:
        out["recon"] = model.reconstruct(blobs(6, 1))
        out["recon_counts"] = model.op_counts().to_dict()
    return out, model


@pytest.mark.parametrize("name", sorted(TINY))
def test_the_device_path_on_the_cpu_changes_nothing(name):
    device = resolve_device("cpu")
    placed, model = _run(name, device)
    plain, _ = _run(name, None)
    assert placed["placement"].used == "cpu" and placed["placement"].reason is None
    assert model.device == device
    for key in ("sample", "recon"):
        if key in placed:
            assert placed[key].device == torch.device("cpu")  # outputs come back to the CPU
            assert placed[key].dtype == torch.float32
            assert torch.equal(placed[key], plain[key])
    assert placed["sample_counts"] == plain["sample_counts"]
    assert placed.get("recon_counts") == plain.get("recon_counts")
    assert placed["fit"] == plain["fit"]
    for module in getattr(model, "_modules", dict)().values():
        assert {p.device for p in module.parameters()} == {device}


def test_a_model_saved_on_one_device_loads_on_another(tmp_path):
    _, model = _run("ann-vae", resolve_device("cpu"))
    model.save(tmp_path / "m.pt")
    again = adapters.create("ann-vae", TINY["ann-vae"])
    place(again, resolve_device("auto"))  # the GPU where there is one, else the CPU
    again.load(tmp_path / "m.pt")
    samples = again.sample(12, seed=5)
    assert samples.device == torch.device("cpu") and samples.shape == (12, 1, 28, 28)
    if again.device.type == "cpu":  # another device may round differently; the CPU may not
        assert torch.equal(samples, model.sample(12, seed=5))


def test_bernoulli_on_the_generators_device_is_torch_bernoulli():
    probs = torch.linspace(0, 1, 15).reshape(3, 5)
    assert torch.equal(bernoulli(probs, generator=make_generator(7)),
                       torch.bernoulli(probs, generator=make_generator(7)))


def test_spike_trains_draw_their_uniforms_on_the_cpu():
    """The spikes of probabilities on another device are drawn from the CPU generator: it
    advances exactly as for the CPU draw (shown with the meta device, which every build has)."""
    probs = torch.full((2, 3, 4), 0.3)
    cpu_gen, other_gen = make_generator(1), make_generator(1)
    spikes = bernoulli_spikes(probs, generator=cpu_gen)
    moved = bernoulli_spikes(probs.to("meta"), generator=other_gen)
    assert moved.device.type == "meta" and moved.shape == spikes.shape
    assert torch.equal(cpu_gen.get_state(), other_gen.get_state())
