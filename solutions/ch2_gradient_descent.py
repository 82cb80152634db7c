"""Chapter 2, loss and gradient descent: the hand-made linear model of line F.

A model here is a pair of functions: ``init(n_features)`` returns fresh coefficients with
``requires_grad`` set, and ``predict(coeffs, x)`` returns predictions. The same :func:`train_model`
trains every model of chapters 2 to 6; only those two functions change from chapter to chapter.
Coefficients may be one tensor or nested tuples and lists of tensors (see :func:`parameters`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import torch

#: Seed set at the start of every training run, as in line F.
TRAIN_SEED: int = 442
#: Line F's linear model: 18 epochs at learning rate 0.2.
LINEAR_EPOCHS: int = 18
LINEAR_LR: float = 0.2
#: Line C's linear model: 50 epochs at learning rate 0.2, mean squared error (``torch.nn.MSELoss``).
LINE_C_LINEAR_EPOCHS: int = 50
LINE_C_LINEAR_LR: float = 0.2
#: Line F's first steps (before the split): the learning rate of its one hand-made step.
FIRST_STEP_LR: float = 0.1

Coeffs = Any  # a tensor, or nested tuples/lists of tensors
InitFn = Callable[[int], Coeffs]
PredictFn = Callable[[Coeffs, torch.Tensor], torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class TrainResult(NamedTuple):
    """What a training run returns: the trained coefficients and the loss of each epoch."""

    coeffs: Coeffs
    losses: list[float]


def parameters(coeffs: Coeffs) -> list[torch.Tensor]:
    """Flatten coefficients (a tensor or nested tuples/lists of tensors) into a list of tensors."""
    if isinstance(coeffs, torch.Tensor):
        return [coeffs]
    if isinstance(coeffs, Iterable):
        return [t for part in coeffs for t in parameters(part)]
    raise TypeError(f"coefficients must be tensors or tuples/lists of tensors, got {type(coeffs).__name__}")


def init_coeffs(n_coeff: int) -> torch.Tensor:
    """Random coefficients, uniform in [-0.5, 0.5), ready for gradients."""
    return (torch.rand(n_coeff) - 0.5).requires_grad_()


def calc_preds(coeffs: torch.Tensor, indeps: torch.Tensor) -> torch.Tensor:
    """Predictions of the linear model: each row's features times the coefficients, summed."""
    return (indeps * coeffs).sum(axis=1)


def mae_loss(preds: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between predictions and targets."""
    return torch.abs(preds - targets).mean()


def mse_loss(preds: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error between predictions and targets."""
    return ((preds - targets) ** 2).mean()


def update_coeffs(coeffs: Coeffs, lr: float) -> None:
    """One gradient-descent step in place: ``c -= lr * c.grad`` for every tensor ``c``, then zero its gradient.

    ``coeffs`` is one tensor or a list/tuple of them, possibly nested (``(layers, consts)``, two
    lists). Work under ``torch.no_grad()`` and zero each gradient in place, keeping ``.grad`` a tensor.
    """
    if isinstance(coeffs, (list, tuple)):
        for part in coeffs:
            update_coeffs(part, lr)
        return
    with torch.no_grad():
        coeffs.sub_(coeffs.grad * lr)
        coeffs.grad.zero_()


def one_epoch(
    coeffs: Coeffs,
    x: torch.Tensor,
    y: torch.Tensor,
    lr: float,
    predict: PredictFn = calc_preds,
    loss_fn: LossFn = mae_loss,
) -> float:
    """One epoch of full-batch gradient descent on ``coeffs``, in place; return the epoch's loss as a float.

    Predict all rows of ``x`` with ``predict(coeffs, x)``, measure ``loss_fn`` against ``y``,
    back-propagate, and take one step with ``update_coeffs`` at learning rate ``lr`` (which also zeroes
    the gradients for the next epoch). The loss returned is the one before the step.
    """
    loss = loss_fn(predict(coeffs, x), y)
    loss.backward()
    update_coeffs(coeffs, lr)
    return loss.item()


def train_model(
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = LINEAR_EPOCHS,
    lr: float = LINEAR_LR,
    init: InitFn = init_coeffs,
    predict: PredictFn = calc_preds,
    loss_fn: LossFn = mae_loss,
    seed: int = TRAIN_SEED,
) -> TrainResult:
    """Seed, initialise with ``init(n_features)``, run ``epochs`` full-batch epochs of gradient descent."""
    torch.manual_seed(seed)
    coeffs = init(x.shape[1])
    losses = [one_epoch(coeffs, x, y, lr, predict, loss_fn) for _ in range(epochs)]
    return TrainResult(coeffs, losses)


def accuracy(preds: torch.Tensor, targets: torch.Tensor, threshold: float = 0.5) -> float:
    """Share of rows where ``preds > threshold`` agrees with the 0/1 target."""
    return ((preds > threshold) == targets.bool()).float().mean().item()
