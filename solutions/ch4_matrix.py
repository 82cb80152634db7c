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
    """The weighted sum of each row computed with Python loops: slow, but plainly correct.

    For each row of ``indeps`` (n x k), add up each feature times its coefficient in ``coeffs`` (k
    entries), starting from a zero of the rows' dtype; return the n sums as one tensor (``torch.stack``).
    """
    rows = []
    for row in indeps:
        total = torch.zeros((), dtype=indeps.dtype)
        for value, weight in zip(row, coeffs):
            total = total + value * weight
        rows.append(total)
    return torch.stack(rows)


def one_epoch_matrix(coeffs: torch.Tensor, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
    """One epoch of gradient descent on the matrix model, in place; return the loss before the step.

    ``coeffs`` is a ``(k, 1)`` column with ``requires_grad``, ``x`` is ``(n, k)``, ``y`` the ``n``
    0/1 targets as a plain vector. Predict ``sigmoid(x @ coeffs)`` (a column), take the mean absolute
    error against the targets *as a column*, back-propagate, subtract ``lr`` times the gradient from
    ``coeffs`` without recording it, and zero the gradient. Return the loss as a Python float.
    """
    preds = torch.sigmoid(x @ coeffs)
    loss = torch.abs(preds - y[:, None]).mean()
    loss.backward()
    with torch.no_grad():
        coeffs.sub_(coeffs.grad * lr)
        coeffs.grad.zero_()
    return loss.item()
