"""Chapter 3, the sigmoid: squash predictions into (0, 1) and retrain; binary cross-entropy."""

from __future__ import annotations

import torch

#: Line F's sigmoid model: 30 epochs at learning rate 100.
SIGMOID_EPOCHS: int = 30
SIGMOID_LR: float = 100.0
#: Line C's sigmoid model: 500 epochs at learning rate 1, still mean squared error.
LINE_C_SIGMOID_EPOCHS: int = 500
LINE_C_SIGMOID_LR: float = 1.0


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """The logistic function ``1 / (1 + exp(-x))``, element-wise."""
    return 1 / (1 + torch.exp(-x))


def calc_preds_sigmoid(coeffs: torch.Tensor, indeps: torch.Tensor) -> torch.Tensor:
    """The linear model's weighted sum passed through the sigmoid."""
    return torch.sigmoid((indeps * coeffs).sum(axis=1))


def binary_cross_entropy(preds: torch.Tensor, targets: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Mean of ``-(y log p + (1 - y) log(1 - p))``, with ``p`` clipped to ``[eps, 1 - eps]``."""
    p = preds.clamp(eps, 1 - eps)
    return -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()
