"""``surrogate-ddpm``: a spiking diffusion model — a LIF U-Net denoiser simulated over ``T``
spike steps per call, trained with surrogate gradients (snntorch), with Gaussian noise (DDPM /
DDIM) or Bernoulli bit-flip noise over spike frames (:mod:`adapters.diffusion`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from adapters.base import config_field
from adapters.diffusion import Denoiser, DiffusionAdapter, DiffusionConfig
from adapters.opcount import OpCounter
from adapters.spiking import Surrogate, SurrogateAdapter, make_neuron


class SurrogateDDPM(DiffusionAdapter, SurrogateAdapter):
    """Spiking diffusion model (:mod:`adapters.diffusion` has the processes, the sampler and the
    denoiser). Every hidden layer of the denoiser is LIF neurons (``snntorch.Leaky``, threshold
    1, reset by subtraction) run for ``timesteps`` steps per denoiser call; the output is the mean
    membrane potential of non-firing integrators. Counts: the spikes and accumulates of every
    call, the input layer's MACs (Gaussian ``x_k`` is real-valued) or accumulates (a Bernoulli
    spike frame), and the step embedding's MACs, summed over the ``sampler_steps`` calls.
    """

    name: ClassVar[str] = "surrogate-ddpm"

    @dataclass(frozen=True)
    class Config(DiffusionConfig):
        """:class:`~adapters.diffusion.DiffusionConfig`'s fields, then the neurons'.

        Attributes:
            timesteps: ``T >= 1`` spike steps per denoiser call. 2: the most that keeps a
                diffusion-suite cell within the quick protocol's ten minutes of one CPU thread
                (FSDDIM and SDDPM use 4).
            beta: LIF decay per step, in ``(0, 1]``. 0.9: the spiking kit's default.
            surrogate: ``"fast_sigmoid"`` or ``"atan"``, and ``slope``: the spike's backward
                pass (the spiking kit's defaults).
        """

        timesteps: int = config_field(2, ge=1)
        beta: float = config_field(0.9, gt=0.0, le=1.0)
        surrogate: Surrogate = "atan"
        slope: float = config_field(2.0, gt=0.0)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        self.denoiser = Denoiser(
            tuple(c.channels), c.diffusion_steps, timesteps=c.timesteps, beta=c.beta,
            neuron=lambda: make_neuron("lif", c.beta, c.surrogate, c.slope))
        self.denoiser.eval()

    def _counter(self) -> OpCounter:
        counter = OpCounter().watch_synapses(self.denoiser, prefix="denoiser.")
        return counter.watch_spikes({f"denoiser.{k}": v for k, v in self.denoiser.neurons().items()})

    def _timesteps(self) -> int:
        return self.config.timesteps
