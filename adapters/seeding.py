"""Seeded parameter initialisation that never touches the global RNG."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize


@torch.no_grad()
def init_parameters_(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise every Linear/Conv layer of ``model`` from ``generator``, in module order.

    Uses PyTorch's default scheme (Kaiming-uniform weights with ``a = sqrt(5)``, biases uniform in
    ``±1/sqrt(fan_in)``), but drawn from an explicit generator so the same seed gives the same
    network whatever else ran before. Normalisation layers are reset to ones/zeros.

    Returns:
        ``model`` (modified in place).
    """
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            weight = module.weight
            if parametrize.is_parametrized(module, "weight"):
                # e.g. spectral norm: initialise the raw weight and the power-iteration vectors,
                # which torch would otherwise draw from the global RNG.
                weight = module.parametrizations.weight.original
                for p in module.parametrizations.weight:
                    for name in ("_u", "_v"):
                        vec = getattr(p, name, None)
                        if vec is not None:
                            vec.copy_(F.normalize(torch.randn(vec.shape, generator=generator),
                                                  dim=0, eps=p.eps))
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
            if getattr(module, "weight", None) is not None:
                nn.init.ones_(module.weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
    return model
