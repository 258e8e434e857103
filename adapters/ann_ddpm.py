"""``ann-ddpm``: the non-spiking twin of ``surrogate-ddpm`` — the same U-Net denoiser with ReLU,
the same noise kinds, objective and sampler (:mod:`adapters.diffusion`): the matched baseline."""

from __future__ import annotations

from typing import Any, ClassVar

from adapters.diffusion import Denoiser, DiffusionAdapter, DiffusionConfig
from adapters.opcount import OpCounter
from adapters.torch_adapter import TorchModuleAdapter


class AnnDDPM(DiffusionAdapter, TorchModuleAdapter):
    """Diffusion model with a ReLU U-Net denoiser; every synapse is counted as dense MACs (every
    weight multiplied, zeros and binary inputs included), summed over the sampler's calls."""

    name: ClassVar[str] = "ann-ddpm"
    backend: ClassVar[str] = "ann"
    Config = DiffusionConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        self.denoiser = Denoiser(tuple(c.channels), c.diffusion_steps)
        self.denoiser.eval()

    def _counter(self) -> OpCounter:
        return OpCounter().watch_synapses(self.denoiser, dense=True, prefix="denoiser.")
