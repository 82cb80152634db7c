"""Chapter 4, matrix products: the sigmoid model as ``sigmoid(X @ coeffs)`` with a column of coefficients."""

from __future__ import annotations

import torch

#: Line F's matrix model: 30 epochs at learning rate 100.
MATRIX_EPOCHS: int = 30
MATRIX_LR: float = 100.0


def init_coeffs_matrix(n_coeff: int) -> torch.Tensor:
    """A column of small random coefficients, uniform in [0, 0.1), ready for gradients."""
    return (torch.rand(n_coeff, 1) * 0.1).requires_grad_()


def calc_preds_matrix(coeffs: torch.Tensor, indeps: torch.Tensor) -> torch.Tensor:
    """Predictions as a column: ``sigmoid(indeps @ coeffs)``."""
    return torch.sigmoid(indeps @ coeffs)


def weighted_sum_loop(coeffs: torch.Tensor, indeps: torch.Tensor) -> torch.Tensor:
    """The weighted sum of each row computed with Python loops: slow, but plainly correct."""
    rows = []
    for row in indeps:
        total = torch.zeros((), dtype=indeps.dtype)
        for value, weight in zip(row, coeffs):
            total = total + value * weight
        rows.append(total)
    return torch.stack(rows)
