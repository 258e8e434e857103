"""ANN-to-SNN conversion backend (SNN Toolbox): a spiking VAE decoder and a spiking GAN generator.

The decoder/generator is trained in PyTorch as exactly the network of the ``ann-*`` baseline
(:class:`adapters.ann.AnnVAE` / :class:`adapters.ann.AnnGAN`, same sizes, same seeds, same Bernoulli
noise), its weights are copied into a ``tf_keras`` model (``Dense`` kernels are ``W.T``) and SNN
Toolbox converts that model: parse -> normalise (activation percentile) -> INI integrate-and-fire
simulator. So a conversion row differs from its ANN row only by the conversion itself. Every
sample the metrics see comes from the simulated SNN; the ANN's samples on the same noise are the
conversion's upper bound (``extra_outputs()["ann_samples"]``).

Neurons (INI simulator, ``dt = 1``, reset by subtraction, threshold ``θ = 1``), per layer ``l`` and
step ``t``::

    V_l[t] = V_l[t-1] + W'_l s_{l-1}[t] + b'_l          (W', b': toolbox-normalised weights)
    s_l[t] = 1 if V_l[t] >= θ else 0;   V_l[t] -= θ s_l[t]

Input spike train: the Bernoulli noise vector ``z ∈ {0,1}^D`` of a sample *is* the spike pattern
and is presented at every step (``s_0[t] = z``): unit ``i`` fires at every step iff ``z_i = 1``.
Its rate is then exactly ``z``, the input the ANN was trained on; re-drawing Bernoulli(p) spikes
each step would instead drive the network with the mean ``p`` and collapse every sample to one.
Because the input is binary, the first layer does accumulates (synaptic ops), not MACs.

Read-out: the output layer is a sigmoid in the ANN; the toolbox would simulate it as IF neurons
whose rate saturates at 1. Its spikes are discarded and pixels are read as
``sigmoid(scale · Σ_t I[t] / T)``, where ``I[t] = W'_L s_{L-1}[t] + b'_L`` is the input current
(recovered exactly as ``V[T] + θ · #spikes``) and ``scale`` is the toolbox's normalisation factor of
that layer. The read-out layer is therefore an integrator, not a spiking layer: its spikes and
updates are not counted.

Counts are measured on the simulated run: spikes per hidden layer from the spike tensors each step,
synaptic ops as each spike times its real fan-out via :func:`adapters.opcount.connection_count` on
the equivalent torch layer (the toolbox's own fan-out table is not used).

Reconstruction (VAE): the ANN encoder (non-spiking, counted as MACs) gives the posterior logits,
the latent is the deterministic posterior mode ``z = [logits > 0]`` (as in ``ann-vae``), and the
spiking decoder decodes it.

TensorFlow, tf_keras and snntoolbox are imported only through :mod:`adapters.snntoolbox_compat`,
lazily, after torch. Run this backend in its own environment (``tox -e conversion``). It runs on
the CPU whatever device a run asks for, and its records say so
(:meth:`_ConversionBase.device_unsupported`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from adapters import snntoolbox_compat as compat
from adapters.ann import PIXELS, AnnGAN, AnnVAE
from adapters.base import (
    AdapterConfig,
    FitReport,
    GenerativeAdapter,
    OpCounts,
    ProgressFn,
    config_dict,
    config_field,
)
from adapters.coding import bernoulli_noise, make_generator, split_seed
from adapters.io import atomic_torch_save, load_weights
from adapters.opcount import OpCounter, connection_count, is_binary, merge_counts

log = logging.getLogger(__name__)

#: Simulation lengths at which ANN-vs-SNN agreement and counts are recorded after ``fit``.
TIMESTEP_SWEEP: tuple[int, ...] = (10, 25, 50, 100)
_SAVE_FORMAT = 1


# --------------------------------------------------------------------------------------------
# Weight layout: torch -> Keras (pure functions, no TensorFlow)
# --------------------------------------------------------------------------------------------
def dense_kernel(layer: nn.Linear) -> np.ndarray:
    """Keras ``Dense`` kernel of a torch ``Linear``: ``W.T``, float32 ``(in, out)``."""
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"dense_kernel needs nn.Linear, got {type(layer).__name__}")
    return layer.weight.detach().cpu().to(torch.float32).T.contiguous().numpy()


def conv_kernel(layer: nn.Conv2d | nn.ConvTranspose2d) -> np.ndarray:
    """Keras kernel of a torch ``Conv2d`` / ``ConvTranspose2d``: ``weight.permute(2, 3, 1, 0)``.

    Conv2d ``(out, in, kh, kw)`` -> Keras ``Conv2D`` ``(kh, kw, in, out)``; ConvTranspose2d
    ``(in, out, kh, kw)`` -> Keras ``Conv2DTranspose`` ``(kh, kw, out, in)``.
    """
    if not isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        raise TypeError(f"conv_kernel needs nn.Conv2d or nn.ConvTranspose2d, "
                        f"got {type(layer).__name__}")
    return layer.weight.detach().cpu().to(torch.float32).permute(2, 3, 1, 0).contiguous().numpy()


def chw_to_hwc_order(channels: int, height: int, width: int) -> Tensor:
    """Index ``p`` with ``flat_hwc = flat_chw[p]``: torch flattens ``(C, H, W)``, Keras ``(H, W, C)``.

    Reorder a ``Dense`` kernel's output columns with it (``kernel[:, p]``, bias ``b[p]``) when the
    torch model reshapes the Linear output to ``(C, H, W)`` and the Keras model to ``(H, W, C)``,
    instead of a ``Permute`` layer, which SNN Toolbox skips.
    """
    for name, value in (("channels", channels), ("height", height), ("width", width)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    return torch.arange(channels * height * width).reshape(channels, height, width) \
        .permute(1, 2, 0).reshape(-1)


@dataclass(frozen=True)
class DenseSpec:
    """One ``Linear`` of an MLP and the activation after it (``"relu"``, ``"sigmoid"``, ``"linear"``)."""

    linear: nn.Linear
    activation: str


def mlp_layers(mlp: nn.Sequential) -> list[DenseSpec]:
    """Split ``Linear, ReLU, …, Linear[, Sigmoid]`` (as ``adapters.ann.build_mlp`` builds) into specs.

    Raises:
        ValueError: the network is not of that form (names the offending module; allowed: Linear
            followed by ReLU for hidden layers, a final Linear optionally followed by Sigmoid).
    """
    modules = list(mlp)
    specs: list[DenseSpec] = []
    i = 0
    while i < len(modules):
        layer = modules[i]
        if not isinstance(layer, nn.Linear):
            raise ValueError(f"module {i} is {type(layer).__name__}; convertible MLPs are "
                             "Linear, ReLU, ..., Linear[, Sigmoid]")
        nxt = modules[i + 1] if i + 1 < len(modules) else None
        if isinstance(nxt, nn.ReLU):
            specs.append(DenseSpec(layer, "relu"))
            i += 2
        elif isinstance(nxt, nn.Sigmoid) and i + 2 == len(modules):
            specs.append(DenseSpec(layer, "sigmoid"))
            i += 2
        elif nxt is None:
            specs.append(DenseSpec(layer, "linear"))
            i += 1
        else:
            raise ValueError(f"module {i + 1} is {type(nxt).__name__}; allowed after a Linear: "
                             "ReLU (hidden), Sigmoid (last) or nothing (last)")
    if len(specs) < 2 or specs[-1].activation == "relu" or \
            any(s.activation != "relu" for s in specs[:-1]):
        raise ValueError("a convertible MLP needs >= 2 Linear layers, ReLU after every hidden one "
                         f"and no ReLU after the last; got activations {[s.activation for s in specs]}")
    return specs


# --------------------------------------------------------------------------------------------
# Measured counts of one simulation (pure torch)
# --------------------------------------------------------------------------------------------
class StepCounts:
    """Per-step totals of a simulation, so counts at any ``t <= T`` come from one run.

    Args:
        layer_names: names of the spiking (hidden) layers, in order.
        fanout_layers: the torch layer each spiking layer feeds (``fanout_layers[i]`` receives the
            spikes of ``layer_names[i]``).
        input_layer: the torch layer fed the network input.
        timesteps: steps that will be recorded.
    """

    def __init__(self, layer_names: Sequence[str], fanout_layers: Sequence[nn.Module],
                 input_layer: nn.Module, timesteps: int) -> None:
        if len(layer_names) != len(fanout_layers):
            raise ValueError(f"{len(layer_names)} layer names but {len(fanout_layers)} fan-out "
                             "layers; they must pair up")
        if timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {timesteps}")
        self.layer_names = list(layer_names)
        self.fanout_layers = list(fanout_layers)
        self.input_layer = input_layer
        self.spikes = np.zeros((len(layer_names), timesteps), dtype=np.float64)
        self.updates = np.zeros((len(layer_names), timesteps), dtype=np.float64)
        self.neurons = [0] * len(layer_names)
        self.synaptic_ops = np.zeros(timesteps, dtype=np.float64)
        self.macs = np.zeros(timesteps, dtype=np.float64)
        self.input_spikes = np.zeros(timesteps, dtype=np.float64)
        self.n_samples = 0
        # the same counts by layer, one OpCounter per step (merged up to t by counts(t))
        self.steps = [OpCounter() for _ in range(timesteps)]

    def add_input(self, step: int, x: Tensor) -> None:
        """Count the input presented at ``step`` (0-based): accumulates if binary, else MACs."""
        self.steps[step].add_layer_input(self.input_layer, x, name="input_layer")
        if is_binary(x):
            mask = (x != 0).to(torch.float32)
            self.steps[step].add_spikes("input", mask, source=True)
            self.synaptic_ops[step] += connection_count(self.input_layer, mask)
            self.input_spikes[step] += float(mask.sum())
        else:
            self.macs[step] += connection_count(self.input_layer,
                                                torch.ones_like(x, dtype=torch.float32))

    def add_spikes(self, step: int, index: int, spikes: Tensor) -> None:
        """Count the spike tensor ``(N, ...)`` of spiking layer ``index`` at ``step`` (0-based)."""
        mask = (spikes != 0).to(torch.float32)
        self.spikes[index, step] += float(mask.sum())
        self.updates[index, step] += float(mask.numel())
        self.neurons[index] = int(mask[0].numel()) if len(mask) else self.neurons[index]
        self.synaptic_ops[step] += connection_count(self.fanout_layers[index], mask)
        name = self.layer_names[index]
        self.steps[step].add_spikes(name, mask, leaky=False)  # SNN Toolbox: IF neurons
        self.steps[step].add_layer_input(self.fanout_layers[index], mask, name=f"{name}.out")

    def counts(self, timesteps: int) -> OpCounts:
        """Per-sample counts of the first ``timesteps`` steps over all samples seen."""
        if not 1 <= timesteps <= self.spikes.shape[1]:
            raise ValueError(f"timesteps must lie in [1, {self.spikes.shape[1]}], got {timesteps}")
        if self.n_samples < 1:
            raise ValueError("no samples were counted")
        n = self.n_samples
        per_layer = self.spikes[:, :timesteps].sum(axis=1)
        total_spikes = float(per_layer.sum())
        total_updates = float(self.updates[:, :timesteps].sum())
        detail = OpCounter.merged(self.steps[:timesteps]).counts(n_samples=n, timesteps=timesteps)
        newer = {f.name: getattr(detail, f.name) for f in dataclasses.fields(OpCounts)
                 if f.default is None}
        return OpCounts(
            **newer,
            timesteps=int(timesteps),
            spikes=total_spikes / n,
            spikes_per_layer={name: float(v) / n for name, v in zip(self.layer_names, per_layer,
                                                                     strict=True)},
            neurons_per_layer=dict(zip(self.layer_names, self.neurons, strict=True)),
            firing_rate=total_spikes / total_updates if total_updates else 0.0,
            synaptic_ops=float(self.synaptic_ops[:timesteps].sum()) / n,
            macs=float(self.macs[:timesteps].sum()) / n,
            neuron_updates=total_updates / n,
            n_samples=int(n),
        )

    def input_spikes_per_sample(self, timesteps: int) -> float:
        return float(self.input_spikes[:timesteps].sum()) / max(self.n_samples, 1)


def agreement(snn: Tensor, ann: Tensor) -> tuple[float, float]:
    """``(MSE, Pearson correlation)`` of two output tensors of one shape, over all elements."""
    if snn.shape != ann.shape:
        raise ValueError(f"shapes differ: {tuple(snn.shape)} vs {tuple(ann.shape)}")
    a = snn.reshape(-1).to(torch.float64)
    b = ann.reshape(-1).to(torch.float64)
    mse = float(((a - b) ** 2).mean())
    da, db = a - a.mean(), b - b.mean()
    denom = math.sqrt(float((da * da).sum()) * float((db * db).sum()))
    corr = float((da * db).sum()) / denom if denom > 0 else float("nan")
    return mse, corr


@dataclass
class SimResult:
    """What one simulation returns.

    Attributes:
        outputs: per read-out step ``t``: float32 ``(N, out)`` network outputs (after the MLP's
            output activation) from the first ``t`` steps.
        counts: per read-out step ``t``: per-sample :class:`OpCounts` of the first ``t`` steps.
        input_spikes: per read-out step: input spikes per sample.
    """

    outputs: dict[int, Tensor]
    counts: dict[int, OpCounts]
    input_spikes: dict[int, float]


# --------------------------------------------------------------------------------------------
# The converted network (TensorFlow side)
# --------------------------------------------------------------------------------------------
class SpikingMLP:
    """An MLP converted to an IF SNN by SNN Toolbox and simulated step by step on its INI simulator.

    Args:
        mlp: ``Linear, ReLU, …, Linear[, Sigmoid]`` in torch; its weights are copied, not shared.
        x_norm: float32 ``(M, in)`` inputs for the toolbox's activation-percentile normalisation.
        batch_size: the SNN is built for this fixed batch; inputs are padded to a multiple.
        percentile: normalisation percentile (toolbox default 99.9).
        max_timesteps: longest simulation that will be run.
    """

    def __init__(self, mlp: nn.Sequential, x_norm: Tensor, *, batch_size: int,
                 percentile: float, max_timesteps: int) -> None:
        self.specs = mlp_layers(mlp)
        self.torch_mlp = mlp
        self.batch_size = int(batch_size)
        self.percentile = float(percentile)
        self.max_timesteps = int(max_timesteps)
        self.in_features = self.specs[0].linear.in_features
        self.out_features = self.specs[-1].linear.out_features
        if x_norm.dim() != 2 or x_norm.shape[1] != self.in_features:
            raise ValueError(f"x_norm must have shape (M, {self.in_features}), "
                             f"got {tuple(x_norm.shape)}")
        t0 = time.perf_counter()
        toolbox = compat.load_toolbox()
        _, keras = compat.import_tensorflow()
        with compat.fresh_workdir() as workdir, compat.toolbox_output_to_log():
            self._convert(toolbox, keras, workdir, x_norm.detach().cpu().numpy()
                          .astype(np.float32))
        self.conversion_seconds = time.perf_counter() - t0

    def _convert(self, toolbox: Any, keras: Any, workdir: Path,
                 x_norm: np.ndarray) -> None:
        inp = keras.Input(shape=(self.in_features,), name="latent")
        h = inp
        for i, spec in enumerate(self.specs):
            h = keras.layers.Dense(spec.linear.out_features, activation=spec.activation,
                                   name=f"dense{i}")(h)
        # The toolbox wants a flat (B, N) output; Flatten is a no-op here but keeps that contract.
        out = keras.layers.Flatten(name="flat")(h)
        model = keras.Model(inp, out)
        for i, spec in enumerate(self.specs):
            model.get_layer(f"dense{i}").set_weights(
                [dense_kernel(spec.linear),
                 spec.linear.bias.detach().cpu().to(torch.float32).numpy()])
        model.compile("sgd", "mse")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "HDF5 is legacy": the toolbox reads .h5
            model.save(str(workdir / "ann.h5"))
        np.savez_compressed(workdir / "x_norm.npz", arr_0=x_norm)
        np.savez_compressed(workdir / "x_test.npz", arr_0=x_norm[:self.batch_size])
        np.savez_compressed(workdir / "y_test.npz",
                            arr_0=np.zeros((min(len(x_norm), self.batch_size), self.out_features),
                                           np.float32))
        (workdir / "config.ini").write_text(compat.config_text(
            workdir=workdir, filename_ann="ann", batch_size=self.batch_size,
            duration=self.max_timesteps, percentile=self.percentile))
        config = toolbox.update_setup(str(workdir / "config.ini"))
        loaded = toolbox.keras_input_lib.load(str(workdir), "ann")["model"]
        parser = toolbox.keras_input_lib.ModelParser(loaded, config)
        parser.parse()
        parsed = parser.build_parsed_model()
        norm_dir = workdir / "normalization"
        toolbox.normalize_parameters(parsed, config, path=str(norm_dir), x_norm=x_norm)
        scale_files = sorted(norm_dir.glob("*.json"))
        if len(scale_files) != 1:
            raise RuntimeError(f"expected one scale-factor file in {norm_dir}, found "
                               f"{[p.name for p in scale_files]}")
        self.scale_factors = {k: float(v) for k, v in json.loads(scale_files[0].read_text()).items()}
        dense_names = [layer.name for layer in parsed.layers if type(layer).__name__ == "Dense"]
        if len(dense_names) != len(self.specs):
            raise RuntimeError(f"the parsed model has Dense layers {dense_names}, expected "
                               f"{len(self.specs)}")
        self.readout_scale = self.scale_factors[dense_names[-1]]
        snn = toolbox.SNN(config)
        snn.build(parsed)
        self._snn = snn
        spiking = [layer for layer in snn.snn.layers if getattr(layer, "mem", None) is not None]
        if [layer.name for layer in spiking] != dense_names:
            raise RuntimeError(f"spiking layers {[layer.name for layer in spiking]} do not match "
                               f"the parsed Dense layers {dense_names}")
        self._readout = spiking[-1]
        # One stateful graph, all spiking layers' outputs per step (the layers are shared).
        self._probe = keras.Model(snn.snn.input, [layer.output for layer in spiking])
        self.layer_names = [f"hidden{i + 1}" for i in range(len(self.specs) - 1)]

    @torch.no_grad()
    def ann_forward(self, x: Tensor) -> Tensor:
        """The torch ANN's outputs on ``x``: float32 ``(N, out)``."""
        return torch.cat([self.torch_mlp(chunk) for chunk in x.split(1000)]) if len(x) else \
            torch.zeros(0, self.out_features)

    def simulate(self, x: Tensor, timesteps: int, *, readout_at: Iterable[int] = ()) -> SimResult:
        """Run the SNN for ``timesteps`` steps on input ``x`` presented at every step.

        Args:
            x: float32 ``(N, in)``; binary spikes (counted as accumulates) or real values (MACs).
            timesteps: ``1 <= T <= max_timesteps``.
            readout_at: extra steps ``t < T`` at which to read outputs and counts as well.

        Returns:
            :class:`SimResult` with entries for ``T`` and each step of ``readout_at``.
        """
        if not 1 <= timesteps <= self.max_timesteps:
            raise ValueError(f"timesteps must lie in [1, {self.max_timesteps}], got {timesteps}")
        if x.dim() != 2 or x.shape[1] != self.in_features or len(x) < 1:
            raise ValueError(f"x must have shape (N >= 1, {self.in_features}), got {tuple(x.shape)}")
        marks = sorted({int(t) for t in readout_at if 1 <= int(t) <= timesteps} | {timesteps})
        n = len(x)
        x = x.detach().cpu().to(torch.float32)
        linears = [s.linear for s in self.specs]
        # Hidden layer i (the output of Linear i) feeds Linear i + 1.
        counter = StepCounts(self.layer_names, linears[1:], linears[0], timesteps)
        currents = {t: np.zeros((n, self.out_features), np.float32) for t in marks}
        for start in range(0, n, self.batch_size):
            real = x[start:start + self.batch_size]
            m = len(real)
            batch = np.zeros((self.batch_size, self.in_features), np.float32)
            batch[:m] = real.numpy()
            self._snn.reset(0)
            out_sum = np.zeros((self.batch_size, self.out_features), np.float64)
            for step in range(timesteps):
                self._snn.set_time(np.float32(step + 1))
                outs = self._probe.predict_on_batch(batch)
                counter.add_input(step, real)
                for i in range(len(self.layer_names)):
                    counter.add_spikes(step, i, torch.from_numpy(np.asarray(outs[i])[:m]))
                out_sum += np.asarray(outs[-1], dtype=np.float64)
                if step + 1 in currents:
                    mem = self._readout.mem.numpy().astype(np.float64)
                    # Reset by subtraction: V[t] + θ·(#spikes) is exactly the summed input current.
                    # (The layer outputs θ per spike, so out_sum already is θ·#spikes.)
                    total = mem + out_sum
                    currents[step + 1][start:start + m] = \
                        (total[:m] / (step + 1) * self.readout_scale).astype(np.float32)
            counter.n_samples += m
        activation = self.specs[-1].activation
        outputs = {}
        for t, cur in currents.items():
            pre = torch.from_numpy(cur)
            outputs[t] = torch.sigmoid(pre) if activation == "sigmoid" else pre
        return SimResult(outputs=outputs,
                         counts={t: counter.counts(t) for t in marks},
                         input_spikes={t: counter.input_spikes_per_sample(t) for t in marks})


# --------------------------------------------------------------------------------------------
# The adapters
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimulationConfig(AdapterConfig):
    """The conversion's own config fields, after those of the ANN it converts (a conversion's
    ``Config`` is ``class Config(SimulationConfig, <the ANN's Config>)``: dataclasses collect base
    fields from the last base to the first, so the ANN's fields come first, as in its records).

    Attributes:
        timesteps: simulation steps ``T`` per sample. 100: the agreement sweep
            (:data:`TIMESTEP_SWEEP`) records what fewer steps would give.
        sim_batch_size: samples simulated together (the SNN is built for this batch). 500:
            bounds memory (not tuned).
        percentile: activation percentile of the toolbox's weight normalisation, in
            ``(0, 100]``. 99.9: SNN Toolbox's default.
        norm_samples: prior-noise inputs used for that normalisation. 1000 (not tuned).
        sweep_samples: held-out noise inputs for the agreement sweep over ``T`` after ``fit``.
            500 (not tuned).
    """

    timesteps: int = config_field(100, ge=1)
    sim_batch_size: int = config_field(500, ge=1)
    percentile: float = config_field(99.9, gt=0.0, le=100.0)
    norm_samples: int = config_field(1000, ge=1)
    sweep_samples: int = config_field(500, ge=1)


class _ConversionBase(GenerativeAdapter):
    backend: ClassVar[str] = "conversion"
    _ann_cls: ClassVar[type]
    _net_attr: ClassVar[str]  # "decoder" or "generator"
    _saved_modules: ClassVar[tuple[str, ...]]

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        # Fail at creation, not after training, where TensorFlow/SNN Toolbox are not installed.
        compat.require_libraries()
        self._ann = self._ann_cls(self._ann_config())
        self._snn: SpikingMLP | None = None
        self._seed: int | None = None
        self._counts: OpCounts | None = None
        self._extra: dict[str, Any] = {}
        self._fit_extra: dict[str, float] = {}
        self._twin: tuple[Path, Mapping[str, Any], str] | None = None

    # -- config plumbing -------------------------------------------------------------------
    def _ann_config(self) -> Any:
        names = [f.name for f in dataclasses.fields(self._ann_cls.Config)]
        return self._ann_cls.Config(**{k: getattr(self.config, k) for k in names})

    @property
    def _noise_dim(self) -> int:
        raise NotImplementedError

    @property
    def _network(self) -> nn.Sequential:
        return getattr(self._ann, self._net_attr)

    def _noise(self, n: int, seed: int, purpose: str) -> Tensor:
        return bernoulli_noise((n, self._noise_dim), self._ann.prior_p,
                               generator=make_generator(split_seed(seed, purpose)))

    # -- conversion ------------------------------------------------------------------------
    def _convert(self, seed: int) -> None:
        c = self.config
        x_norm = self._noise(c.norm_samples, seed, "conversion-norm")
        self._network.eval()
        self._snn = SpikingMLP(self._network, x_norm, batch_size=c.sim_batch_size,
                               percentile=c.percentile,
                               max_timesteps=max(c.timesteps, *TIMESTEP_SWEEP))
        self._seed = int(seed)

    def _require_snn(self) -> SpikingMLP:
        if self._snn is None:
            raise RuntimeError(f"{self.name}: fit() or load() first")
        return self._snn

    def _sweep(self, seed: int) -> dict[str, float]:
        """ANN-vs-SNN agreement and counts at each T of the sweep, on held-out noise."""
        snn = self._require_snn()
        z = self._noise(self.config.sweep_samples, seed, "conversion-sweep")
        steps = sorted(set(TIMESTEP_SWEEP) | {self.config.timesteps})
        t0 = time.perf_counter()
        result = snn.simulate(z, max(steps), readout_at=steps)
        ann = snn.ann_forward(z)
        extra: dict[str, float] = {"sweep_seconds": time.perf_counter() - t0,
                                   "sweep_samples": float(len(z))}
        for t in steps:
            mse, corr = agreement(result.outputs[t], ann)
            counts = result.counts[t]
            extra.update({f"agreement_mse_T{t}": mse, f"agreement_corr_T{t}": corr,
                          f"spikes_per_sample_T{t}": counts.spikes,
                          f"synaptic_ops_per_sample_T{t}": counts.synaptic_ops,
                          f"firing_rate_T{t}": counts.firing_rate,
                          f"input_spikes_per_sample_T{t}": result.input_spikes[t]})
        return extra

    def device_unsupported(self, device: torch.device) -> str:
        """Why a conversion stays on the CPU: its simulator is TensorFlow's CPU build."""
        return ("the conversion backend runs on the CPU: SNN Toolbox simulates on the CPU build "
                "of TensorFlow in its own environment (tox -e conversion), and its ANN trains "
                "there on the CPU too")

    # -- interface -------------------------------------------------------------------------
    def trained_twin(self) -> tuple[str, dict[str, Any]]:
        """The ANN adapter (``ann-vae``/``ann-gan``) of the same config: training it is the first
        half of this adapter's ``fit``, bit for bit (same code, seed and data)."""
        return self._ann_cls.name, dataclasses.asdict(self._ann_config())

    def start_from(self, path: Path, fit: Mapping[str, Any], source: str) -> None:
        self._twin = (Path(path), dict(fit), str(source))

    def fit(self, train: Tensor, *, seed: int, progress: ProgressFn | None = None) -> FitReport:
        """Train the ANN (or load its trained twin, see :meth:`start_from`), then convert it.

        ``train_seconds`` of the report includes the ANN's training time either way (a loaded
        twin's is the time its own cell recorded), so the cost of a converted model is the same
        number whether or not its ANN was trained in this cell.
        """
        t0 = time.perf_counter()
        reused: dict[str, float] = {}
        if self._twin is None:
            report = self._ann.fit(train, seed=seed, progress=progress)
            log.info("%s: ANN trained in %.1f s; converting with SNN Toolbox", self.name,
                     report.train_seconds)
        else:
            path, fit, source = self._twin
            self._ann.load(path)
            report = FitReport(epochs=int(fit["epochs"]), steps=int(fit["steps"]),
                               train_seconds=float(fit["train_seconds"]),
                               history=dict(fit.get("history") or {}))
            # twin_train_seconds: the runner adds it to this cell's measured training time
            reused = {"twin_train_seconds": report.train_seconds,
                      "twin_load_seconds": time.perf_counter() - t0}
            log.info("%s: ANN loaded from %s (trained in %.1f s by cell %s); converting with "
                     "SNN Toolbox", self.name, path, report.train_seconds, source)
        self._convert(seed)
        snn = self._require_snn()
        extra = {"ann_train_seconds": report.train_seconds, **reused,
                 "conversion_seconds": snn.conversion_seconds,
                 "readout_scale": snn.readout_scale}
        extra.update(self._sweep(seed))
        self._fit_extra = dict(extra)
        log.info("%s: agreement corr at T=%d: %.4f", self.name, self.config.timesteps,
                 extra[f"agreement_corr_T{self.config.timesteps}"])
        own = time.perf_counter() - t0
        return FitReport(epochs=report.epochs, steps=report.steps,
                         train_seconds=own + (report.train_seconds if reused else 0.0),
                         history=report.history, extra={**report.extra, **extra})

    @torch.no_grad()
    def _generate(self, z: Tensor, key: str) -> Tensor:
        snn = self._require_snn()
        t0 = time.perf_counter()
        result = snn.simulate(z, self.config.timesteps)
        seconds = time.perf_counter() - t0
        out = result.outputs[self.config.timesteps].reshape(-1, 1, 28, 28).clamp(0.0, 1.0)
        ann = snn.ann_forward(z).reshape(-1, 1, 28, 28)
        mse, corr = agreement(out, ann)
        self._counts = result.counts[self.config.timesteps]
        self._extra = {key: ann, "agreement_mse": mse, "agreement_corr": corr,
                       "timesteps": self.config.timesteps, "simulation_seconds": seconds,
                       "input_spikes_per_sample": result.input_spikes[self.config.timesteps],
                       "fit": dict(self._fit_extra)}
        return out.contiguous()

    @torch.no_grad()
    def sample(self, n: int, *, seed: int) -> Tensor:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        # The same noise as the ann-* adapter with this seed, so ann_samples are its samples.
        return self._generate(self._noise(n, seed, "noise"), "ann_samples")

    def op_counts(self) -> OpCounts:
        if self._counts is None:
            raise RuntimeError(f"{self.name}: op_counts() needs a sample() or reconstruct() first")
        return self._counts

    def extra_outputs(self) -> dict[str, Any]:
        """``ann_samples`` (or ``ann_reconstructions``): the ANN's outputs on the same input, the
        conversion's upper bound; ``agreement_mse``/``agreement_corr`` of SNN vs ANN on them; and
        ``fit``: the T-sweep recorded after conversion (``agreement_corr_T{t}`` etc.)."""
        return dict(self._extra)

    def save(self, path: str | Path) -> None:
        if self._seed is None:
            raise RuntimeError(f"{self.name}: nothing to save before fit()")
        atomic_torch_save({
            "format": _SAVE_FORMAT,
            "config": config_dict(self.config),
            "seed": self._seed,
            "state": {k: getattr(self._ann, k).state_dict() for k in self._saved_modules},
            "fit_extra": dict(self._fit_extra),
        }, path)

    def load(self, path: str | Path) -> None:
        """Restore the torch weights and re-convert (conversion is deterministic)."""
        blob = load_weights(path)
        if blob.get("format") != _SAVE_FORMAT:
            raise ValueError(f"{path}: unknown save format {blob.get('format')!r}; "
                             f"expected {_SAVE_FORMAT}")

        def norm(d: dict[str, Any]) -> dict[str, Any]:
            return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

        current = config_dict(self.config)
        if norm(dict(blob["config"])) != norm(current):
            raise ValueError(f"{path} was saved with config {blob['config']}, not {current}")
        for key in self._saved_modules:
            getattr(self._ann, key).load_state_dict(blob["state"][key])
        self._fit_extra = {k: float(v) for k, v in dict(blob.get("fit_extra", {})).items()}
        self._convert(int(blob["seed"]))


class ConversionVAE(_ConversionBase):
    """The ``ann-vae`` network, its decoder converted to an IF SNN by SNN Toolbox.

    Config: every field of :class:`adapters.ann.AnnVAE.Config` (same meaning and defaults), then
    those of :class:`SimulationConfig`.

    ``reconstruct`` runs the ANN encoder (non-spiking: MACs), takes the posterior mode
    ``z = [logits > 0]`` (deterministic, no sampling) and decodes it with the spiking decoder.
    """

    name: ClassVar[str] = "conversion-vae"
    family: ClassVar[str] = "vae"
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample", "reconstruct"})
    _ann_cls: ClassVar[type] = AnnVAE
    _net_attr: ClassVar[str] = "decoder"
    _saved_modules: ClassVar[tuple[str, ...]] = ("encoder", "decoder")

    @dataclass(frozen=True)
    class Config(SimulationConfig, AnnVAE.Config):
        """:class:`~adapters.ann.AnnVAE.Config`'s fields, then :class:`SimulationConfig`'s."""

    @property
    def _noise_dim(self) -> int:
        return self.config.latent

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"images must be a float tensor of shape (N, 1, 28, 28), got {shape}")
        if len(x) < 1:
            raise ValueError("reconstruct needs at least one image")
        encoder = self._ann.encoder
        counter = OpCounter().watch_synapses(encoder, dense=True)
        with counter:
            logits = torch.cat([encoder(chunk) for chunk in x.reshape(len(x), PIXELS).split(1000)])
        z = (logits > 0).to(torch.float32)
        out = self._generate(z, "ann_reconstructions")
        # The encoder is an ANN fed real pixels: its MACs are part of a reconstruction's cost.
        self._counts = merge_counts(self._counts, counter.counts(n_samples=len(x), timesteps=1))
        return out


class ConversionGAN(_ConversionBase):
    """The ``ann-gan`` network, its generator converted to an IF SNN by SNN Toolbox.

    Config: every field of :class:`adapters.ann.AnnGAN.Config` (same meaning and defaults), then
    those of :class:`SimulationConfig`.
    """

    name: ClassVar[str] = "conversion-gan"
    family: ClassVar[str] = "gan"
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample"})
    _ann_cls: ClassVar[type] = AnnGAN
    _net_attr: ClassVar[str] = "generator"
    _saved_modules: ClassVar[tuple[str, ...]] = ("generator",)

    @dataclass(frozen=True)
    class Config(SimulationConfig, AnnGAN.Config):
        """:class:`~adapters.ann.AnnGAN.Config`'s fields, then :class:`SimulationConfig`'s."""

    @property
    def _noise_dim(self) -> int:
        return self.config.noise_dim
