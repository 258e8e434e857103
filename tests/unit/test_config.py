"""The one config validator (adapters.base.AdapterConfig / config_from_dict) and the interface's
learned_filters default, on a toy config and on the real adapters' configs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import pytest

import adapters
from adapters.ann import AnnGAN, AnnVAE
from adapters.base import AdapterConfig, config_field, config_from_dict


@dataclass(frozen=True)
class Toy(AdapterConfig):
    steps: int = config_field(10, ge=1)
    rate: float = config_field(0.5, gt=0.0, le=1.0)
    mode: Literal["fast", "slow"] = "fast"
    widths: tuple[int, ...] = config_field((4, 8), ge=1, nonempty=True)
    pair: tuple[float, float] = (1.0, 2.0)
    flag: bool = False

    def check(self) -> None:
        if self.mode == "slow" and self.steps < 5:
            raise self.bad("steps", "an int >= 5 when mode is 'slow'")


@pytest.mark.parametrize(("key", "value", "match"), [
    ("steps", True, r"Toy.steps must be an int >= 1, got True \(a bool\)"),
    ("steps", 1.5, r"Toy.steps must be an int >= 1, got 1.5"),
    ("steps", 2.0, r"Toy.steps must be an int >= 1, got 2.0"),
    ("steps", "ten", r"Toy.steps must be an int >= 1, got 'ten'"),
    ("steps", 0, r"Toy.steps must be an int >= 1, got 0"),
    ("rate", "0.5", r"Toy.rate must be a number in \(0.0, 1.0\], got '0.5'"),
    ("rate", False, r"Toy.rate must be a number in \(0.0, 1.0\], got False \(a bool\)"),
    ("rate", 1.5, r"Toy.rate must be a number in \(0.0, 1.0\], got 1.5"),
    ("mode", "medium", r"Toy.mode must be one of \['fast', 'slow'\], got 'medium'"),
    ("widths", (), r"Toy.widths must be a non-empty tuple of ints >= 1, got \(\)"),
    ("widths", (4, 0), r"Toy.widths must be a non-empty tuple of ints >= 1, got \(4, 0\)"),
    ("widths", (4, 2.0), r"got \(4, 2.0\)"),
    ("widths", [4, 8], r"Toy.widths must be a non-empty tuple of ints >= 1, got \[4, 8\]"),
    ("pair", (1.0,), r"Toy.pair must be a tuple of 2 numbers, got \(1.0,\)"),
    ("flag", 1, r"Toy.flag must be a bool, got 1"),
])
def test_each_field_is_checked_against_its_annotation(key, value, match):
    with pytest.raises(ValueError, match=match):
        Toy(**{key: value})


def test_ints_are_accepted_for_float_fields_and_kept_as_given():
    # Kept as the int the suite file wrote: asdict (hence a record's config hash) is unchanged.
    toy = Toy(rate=1, pair=(1, 3))
    assert toy.rate == 1 and type(toy.rate) is int and toy.pair == (1, 3)
    assert dataclasses.asdict(AnnVAE.Config(lr=1, kl_weight=0))["kl_weight"] == 0


def test_cross_field_checks_run_after_the_field_checks():
    with pytest.raises(ValueError, match=r"Toy.steps must be an int >= 5 when mode is 'slow', got 3"):
        Toy(mode="slow", steps=3)
    assert Toy(mode="slow", steps=5).steps == 5


def test_config_from_dict_turns_lists_into_tuples():
    toy = config_from_dict(Toy, {"widths": [2, 3], "pair": [0.5, 1]})
    assert toy.widths == (2, 3) and toy.pair == (0.5, 1)
    assert config_from_dict(Toy, None) == Toy()


def test_unknown_keys_are_refused_with_a_suggestion_and_the_allowed_keys():
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['step'\] for Toy "
                                         r"\(did you mean 'steps' for 'step'\?\); allowed: "
                                         r"\['flag', 'mode', 'pair', 'rate', 'steps', 'widths'\]"):
        config_from_dict(Toy, {"step": 3})
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['zzz'\] for Toy; allowed"):
        config_from_dict(Toy, {"zzz": 3})
    with pytest.raises(ValueError, match=r"\['latnt'\] for AnnVAE.Config \(did you mean 'latent'"):
        adapters.create("ann-vae", {"latnt": 8})


@pytest.mark.parametrize(("cls", "key", "value", "match"), [
    (AnnVAE, "hidden", 256.0, "AnnVAE.Config.hidden must be an int >= 1, got 256.0"),
    (AnnVAE, "epochs", True, r"AnnVAE.Config.epochs must be an int >= 1, got True \(a bool\)"),
    (AnnVAE, "estimator", "reinforce",
     r"estimator must be one of \['straight-through', 'relaxed'\], got 'reinforce'"),
    (AnnGAN, "smooth", 0.5, r"AnnGAN.Config.smooth must be a number in \(0.5, 1.0\], got 0.5"),
    (AnnGAN, "spectral_norm", "yes", "AnnGAN.Config.spectral_norm must be a bool, got 'yes'"),
])
def test_real_configs_use_the_validator(cls, key, value, match):
    with pytest.raises(ValueError, match=match):
        cls.Config(**{key: value})


def test_learned_filters_default_to_none():
    model = adapters.create("ann-vae", {"hidden": 8, "latent": 2, "epochs": 1})
    assert model.learned_filters() is None
