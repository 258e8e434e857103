"""Every metric, declared once: key, better direction, label, unit, display, check floor, families.

Every record's ``metrics`` mapping uses these keys. The summary tables (columns, formats, bold),
the figures (axis labels) and the regression check (which metrics, their tolerance floors) read
:data:`METRICS`; nothing else states that a metric is "lower is better", how it is printed or how
much it may move. Adding a metric is one :class:`MetricSpec` here plus the code that computes it.

Nothing here imports torch, numpy or pandas: an isolated backend environment can read the keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The adapter families (``GenerativeAdapter.family``, recorded as ``adapter.family``).
FAMILIES: tuple[str, ...] = ("vae", "gan", "autoencoder", "diffusion")
#: Families whose adapters reconstruct (``capabilities`` has ``"reconstruct"``).
RECONSTRUCTING: frozenset[str] = frozenset({"vae", "autoencoder"})


@dataclass(frozen=True)
class Floor:
    """Smallest regression tolerance of a metric: ``rel`` of |baseline mean|, ``abs`` in its unit.

    The check's tolerance is ``max(k_sigma · std, rel · |mean|, abs)`` (``benchmarks.check``).
    """

    rel: float
    abs: float


@dataclass(frozen=True)
class MetricSpec:
    """One metric's declaration.

    Attributes:
        key: the record's metric key.
        higher_is_better: the better direction; ``None`` for context without one (e.g. ``T``).
        label: column and axis label.
        unit: display unit (``""`` for none).
        description: one line on what it measures.
        fmt: how a value is printed: a ``format`` spec such as ``".2f"``, ``"si"`` (3 significant
            digits with a k / M / G suffix) or ``"sig"`` (3 significant digits, no exponent).
        column: position among the summary tables' columns (Markdown, LaTeX); ``None`` keeps the
            metric to the CSV, which holds every metric.
        show_std: whether a table shows ``± std`` (off for settings such as ``T``).
        bold_best: whether a table marks the best row. Off for the per-operation-kind counts: an
            ANN's zero spikes or an SNN's zero MACs is not "best" at anything; energy is the column
            that weighs the kinds of operation against each other.
        floor: the regression check's tolerance floor; ``None``: the check leaves it alone.
        families: the adapter families it applies to; ``None``: every family.
    """

    key: str
    higher_is_better: bool | None
    label: str
    unit: str = ""
    description: str = ""
    fmt: str = ".4g"
    column: int | None = None
    show_std: bool = True
    bold_best: bool = True
    floor: Floor | None = None
    families: frozenset[str] | None = None

    @property
    def checked(self) -> bool:
        """Whether the regression check compares this metric (it has a tolerance floor)."""
        return self.floor is not None

    def applies_to(self, family: str) -> bool:
        """Whether the metric applies to adapters of ``family``; unknown families: every metric."""
        return self.families is None or family not in FAMILIES or family in self.families

    def format(self, value: float) -> str:
        """``value`` as a table shows it (see :attr:`fmt`)."""
        return format_value(value, self.fmt)


def _sig(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits in fixed notation (no exponent)."""
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


#: SI suffixes of counts, largest first.
SI_SUFFIXES: tuple[tuple[str, float], ...] = (("G", 1e9), ("M", 1e6), ("k", 1e3))


def format_value(x: float, fmt: str) -> str:
    """``x`` printed by a :attr:`MetricSpec.fmt`: ``"si"`` (950, 12.3k, 4.56M, 1.20G), ``"sig"``
    (3 significant digits) or any ``format`` spec (``".2f"``)."""
    if fmt == "si":
        for suffix, scale in SI_SUFFIXES:
            if abs(x) >= scale:
                return _sig(x / scale) + suffix
        return _sig(x)
    if fmt == "sig":
        return _sig(x)
    return format(x, fmt)


FID = "fid"
KID = "kid"
KID_STD = "kid_std"
PRECISION = "precision"
RECALL = "recall"
FID_INCEPTION = "fid_inception"
FID_ANN_BOUND = "fid_ann_bound"
FID_DATA_FLOOR = "fid_data_floor"
FID_NOISE_CEILING = "fid_noise_ceiling"
CLASSES_COVERED = "classes_covered"
CLASSES_AT_5PCT = "classes_at_5pct"
TOP_CLASS_SHARE = "top_class_share"
CLASS_KL = "class_kl_vs_test"
# the same sample scores in the second feature space (benchmarks.metrics.aefeatures)
FID_AE = "fid_ae"
KID_AE = "kid_ae"
KID_STD_AE = "kid_std_ae"
PRECISION_AE = "precision_ae"
RECALL_AE = "recall_ae"
RECON_MSE = "recon_mse"
RECON_BCE = "recon_bce"
RECON_SYNAPTIC_OPS = "recon_synaptic_ops_per_sample"
RECON_MACS = "recon_macs_per_sample"
TIMESTEPS = "timesteps"
DENOISER_CALLS = "denoiser_calls_per_sample"
SPIKES = "spikes_per_sample"
FIRING_RATE = "firing_rate"
SYNAPTIC_OPS = "synaptic_ops_per_sample"
MACS = "macs_per_sample"
NEURON_UPDATES = "neuron_updates_per_sample"
ENERGY_NJ = "energy_nj_per_sample"
ENERGY_RATIO = "energy_ratio_vs_ann"
TRAIN_SECONDS = "train_seconds"
SAMPLE_THROUGHPUT = "samples_per_second"
PEAK_MEMORY_MB = "peak_memory_mb"
FEATURE_NET_ACCURACY = "feature_net_test_accuracy"

# Why tolerance floors at all: the ci suite has 2 seeds, and the std of 2 values is an estimate
# with one degree of freedom (the 95 % upper confidence bound of the true sigma is ~32x the
# observed one), so two seeds that agree by chance would make a hair-trigger tolerance. And some
# metrics do not vary over seeds at all (an ANN's MAC count, a spike count of zero), so 3·std is
# exactly 0 and float rounding alone would fail the check.
_SAMPLE_SCORE = Floor(rel=0.10, abs=0.5)  # FIDs: 3 seeds of the quick suite span up to ~30 %
_SPIKE_DRIVEN = Floor(rel=0.10, abs=1.0)  # follow the trained weights; abs: one event per sample
_DENSE_COUNT = Floor(rel=1e-6, abs=0.5)   # fixed by the architecture: any real change is >= 1 op
_RECON = Floor(rel=0.05, abs=1e-4)        # seed spread of the quick suite is ~2 % of the mean
_FRACTION = Floor(rel=0.0, abs=0.05)      # in [0, 1]; GAN recall sits near 0, where rel is void

# Training time, throughput and memory have a direction but no floor: they measure the machine
# and its load (CI runners differ), not the code, so the check leaves them alone.

METRICS: dict[str, MetricSpec] = {
    m.key: m
    for m in (
        MetricSpec(FID, False, "FID", "", "Fréchet distance of generated vs test features",
                   fmt=".2f", column=0, floor=_SAMPLE_SCORE),
        # KID is a mean over random subsets, relatively noisier than FID.
        MetricSpec(KID, False, "KID", "", "kernel inception distance (mean over subsets)",
                   fmt=".4f", column=2, floor=Floor(rel=0.15, abs=0.005)),
        MetricSpec(KID_STD, None, "KID std", "", "std of KID over subsets"),
        MetricSpec(PRECISION, True, "Precision", "", "improved precision (k-NN manifold)",
                   fmt=".3f", column=3, floor=_FRACTION),
        MetricSpec(RECALL, True, "Recall", "", "improved recall (k-NN manifold)",
                   fmt=".3f", column=4, floor=_FRACTION),
        MetricSpec(FID_AE, False, "FID (AE)", "",
                   "Fréchet distance in the second feature space (autoencoder encoder)",
                   fmt=".2f", column=1, floor=_SAMPLE_SCORE),
        MetricSpec(KID_AE, False, "KID (AE)", "", "KID in the second feature space",
                   floor=Floor(rel=0.15, abs=0.005)),
        MetricSpec(KID_STD_AE, None, "KID std (AE)", "", "std of KID (AE) over subsets"),
        MetricSpec(PRECISION_AE, True, "Precision (AE)", "", "precision in the second space",
                   floor=_FRACTION),
        MetricSpec(RECALL_AE, True, "Recall (AE)", "", "recall in the second space",
                   floor=_FRACTION),
        MetricSpec(FID_INCEPTION, False, "FID (Inception)", "", "FID with InceptionV3 features",
                   floor=_SAMPLE_SCORE),
        MetricSpec(FID_ANN_BOUND, False, "FID (ANN bound)", "",
                   "FID of the converted network's own ANN on the same noise",
                   floor=_SAMPLE_SCORE, families=frozenset({"vae", "gan"})),
        MetricSpec(FID_DATA_FLOOR, None, "FID floor", "", "FID of real train vs test images"),
        MetricSpec(FID_NOISE_CEILING, None, "FID ceiling", "", "FID of Bernoulli noise vs test"),
        # Integers out of 10: one class may come and go by chance, two may not. At 1 % of the
        # samples (a tenth of a fair share) a strong collapse still counts every class; the
        # table shows the 5 % count (half a fair share) and the largest share instead.
        MetricSpec(CLASSES_COVERED, True, "Classes ≥1 %", "",
                   "classes the feature net predicts for >= 1 % of the samples",
                   fmt=".1f", floor=Floor(rel=0.0, abs=1.0)),
        MetricSpec(CLASSES_AT_5PCT, True, "Classes ≥5 %", "",
                   "classes the feature net predicts for >= 5 % of the samples",
                   fmt=".1f", column=14, floor=Floor(rel=0.0, abs=1.0)),
        MetricSpec(TOP_CLASS_SHARE, False, "Top class", "",
                   "largest share of the samples predicted as one class",
                   fmt=".2f", column=15, floor=_FRACTION),
        MetricSpec(CLASS_KL, False, "Class KL", "",
                   "KL(samples' class shares || test split's class shares), nats",
                   fmt=".3f", floor=Floor(rel=0.25, abs=0.05)),
        MetricSpec(RECON_MSE, False, "Recon. MSE", "", "per-pixel MSE on the test split",
                   fmt=".4f", column=5, floor=_RECON, families=RECONSTRUCTING),
        MetricSpec(RECON_BCE, False, "Recon. BCE", "", "per-pixel BCE on the test split",
                   floor=_RECON, families=RECONSTRUCTING),
        MetricSpec(RECON_SYNAPTIC_OPS, False, "Recon. SynOps", "", "accumulates per reconstruction",
                   fmt="si", floor=_SPIKE_DRIVEN, families=RECONSTRUCTING),
        MetricSpec(RECON_MACS, False, "Recon. MACs", "", "MACs per reconstruction",
                   fmt="si", floor=_DENSE_COUNT, families=RECONSTRUCTING),
        MetricSpec(TIMESTEPS, None, "T", "", "simulation time steps",
                   fmt=".0f", column=11, show_std=False),
        # A diffusion model's sample costs every denoiser call of its sampler: its counts and
        # energy are summed over these calls (the tables add the energy per call).
        MetricSpec(DENOISER_CALLS, None, "Calls/sample", "", "denoiser calls per generated sample",
                   fmt=".0f", column=12, show_std=False, families=frozenset({"diffusion"})),
        MetricSpec(SPIKES, False, "Spikes/sample", "", "spikes per generated sample",
                   fmt="si", column=6, bold_best=False, floor=_SPIKE_DRIVEN),
        MetricSpec(FIRING_RATE, None, "Firing rate", "", "spikes per neuron update"),
        MetricSpec(SYNAPTIC_OPS, False, "SynOps/sample", "", "accumulates caused by spikes",
                   fmt="si", column=7, bold_best=False, floor=_SPIKE_DRIVEN),
        MetricSpec(MACS, False, "MACs/sample", "", "dense multiply-accumulates",
                   fmt="si", column=8, bold_best=False, floor=_DENSE_COUNT),
        MetricSpec(NEURON_UPDATES, None, "Neuron upd./sample", "", "spiking neuron updates",
                   fmt="si"),
        # Energy follows the spikes of an SNN; an ANN's energy only moves with its MACs, which
        # the MAC floor checks to the op.
        MetricSpec(ENERGY_NJ, False, "Energy/sample", "nJ", "energy model estimate",
                   fmt="sig", column=9, floor=Floor(rel=0.10, abs=1e-3)),
        MetricSpec(ENERGY_RATIO, False, "Energy vs ANN", "×", "ratio to the ANN baseline",
                   fmt="sig", column=10, floor=Floor(rel=0.10, abs=0.01)),
        MetricSpec(TRAIN_SECONDS, False, "Train time", "s", "wall time of fit",
                   fmt=".0f", column=13),
        MetricSpec(SAMPLE_THROUGHPUT, True, "Samples/s", "1/s", "sampling throughput"),
        MetricSpec(PEAK_MEMORY_MB, False, "Peak memory", "MiB", "peak resident memory"),
        MetricSpec(FEATURE_NET_ACCURACY, None, "Feature net acc.", "", "test accuracy"),
    )
}


def spec(key: str) -> MetricSpec:
    """The spec of a metric key; unknown keys raise with the list of known ones."""
    try:
        return METRICS[key]
    except KeyError:
        raise ValueError(f"unknown metric {key!r}; known metrics: {sorted(METRICS)}") from None


def energy_key(model: str) -> str:
    """The column of energy per sample under energy model ``model``, computed at table time from
    the records' ``op_counts`` (e.g. ``energy_nj_per_sample[memory-aware]``)."""
    return f"{ENERGY_NJ}[{model}]"


def ratio_key(model: str) -> str:
    """The column of the energy ratio to the matched ANN row under energy model ``model``."""
    return f"{ENERGY_RATIO}[{model}]"


def call_energy_key(model: str) -> str:
    """The column of energy per denoiser call under energy model ``model`` (a diffusion row's
    energy per sample divided by its :data:`DENOISER_CALLS`)."""
    return f"{ENERGY_NJ}_per_call[{model}]"


def call_energy_spec(model: str) -> MetricSpec:
    """The spec of :func:`call_energy_key` of ``model``: shown for diffusion rows only."""
    energy = METRICS[ENERGY_NJ]
    return MetricSpec(call_energy_key(model), False, f"Energy/call {model}", energy.unit,
                      f"energy per denoiser call under {model}", fmt=energy.fmt,
                      families=frozenset({"diffusion"}))


def energy_specs(model: str) -> tuple[MetricSpec, MetricSpec]:
    """The specs of :func:`energy_key` and :func:`ratio_key` of ``model``: formatted and ranked
    as :data:`ENERGY_NJ` and :data:`ENERGY_RATIO`, labelled with the model, never checked (the
    check compares the records' own energy metrics)."""
    energy, ratio = METRICS[ENERGY_NJ], METRICS[ENERGY_RATIO]
    return (MetricSpec(energy_key(model), False, f"Energy/sample {model}", energy.unit,
                       f"energy per sample under {model}", fmt=energy.fmt),
            MetricSpec(ratio_key(model), False, f"Energy vs ANN {model}", ratio.unit,
                       f"ratio to the matched ANN row under {model}", fmt=ratio.fmt))


def table_columns(energy_models: tuple[str, ...] | list[str] | None = None,
                  ) -> tuple[MetricSpec, ...]:
    """The summary tables' metric columns, in their :attr:`MetricSpec.column` order.

    With ``energy_models``, the energy and ratio columns are replaced by a pair per model
    (:func:`energy_specs`) and its energy per denoiser call (:func:`call_energy_spec`, diffusion
    rows only), in the order given.
    """
    columns = sorted((m for m in METRICS.values() if m.column is not None),
                     key=lambda m: m.column if m.column is not None else 0)
    if not energy_models:
        return tuple(columns)
    out: list[MetricSpec] = []
    for m in columns:
        if m.key == ENERGY_NJ:
            out += [spec for model in energy_models
                    for spec in (*energy_specs(model), call_energy_spec(model))]
        elif m.key != ENERGY_RATIO:
            out.append(m)
    return tuple(out)


def checked() -> tuple[str, ...]:
    """Keys the regression check compares (those with a floor), in :data:`METRICS` order."""
    return tuple(k for k, m in METRICS.items() if m.checked)


def applicable(family: str) -> tuple[str, ...]:
    """Keys that apply to adapters of ``family``, in :data:`METRICS` order."""
    return tuple(k for k, m in METRICS.items() if m.applies_to(family))


def _validate() -> None:
    """Refuse contradictory declarations at import (a typo here would mislead every table)."""
    columns = [m.column for m in METRICS.values() if m.column is not None]
    if sorted(columns) != list(range(len(columns))):
        raise ValueError(f"table columns must be numbered 0..{len(columns) - 1} once each, "
                         f"got {sorted(columns)}")
    for m in METRICS.values():
        if m.floor is not None and m.higher_is_better is None:
            raise ValueError(f"metric {m.key!r} has a check floor but no better direction")
        unknown = (m.families or frozenset()) - set(FAMILIES)
        if unknown:
            raise ValueError(f"metric {m.key!r} names unknown families {sorted(unknown)}; "
                             f"known: {list(FAMILIES)}")


_validate()
