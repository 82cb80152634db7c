"""Chapter 7, the normal equation, autograd on one number, and the sourdough regression.

The sourdough data (``data/sourdough/sourdough.csv``, made by ``data/sourdough/generate.py``) has
three inputs and two outputs; the model is ``X @ W.t() + B`` with ``W`` of shape (2, 3) and ``B`` of
shape (2,). Inputs are standardised before fitting so that one learning rate suits all three.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd
import torch

from solutions.ch1_titanic import DataError
from solutions.paths import SOURDOUGH_CSV

SOURDOUGH_INPUTS: tuple[str, ...] = ("proofing_hours", "starter_acidity_ph", "starter_age_days")
SOURDOUGH_OUTPUTS: tuple[str, ...] = ("flavour", "crustiness")
#: Seed and schedule of the gradient-descent fit.
SOURDOUGH_SEED: int = 0
SOURDOUGH_EPOCHS: int = 500
SOURDOUGH_LR: float = 0.1


class LinearFit(NamedTuple):
    """Weights ``W`` (outputs x inputs), bias ``B`` (outputs) and, for iterative fits, the losses."""

    weight: torch.Tensor
    bias: torch.Tensor
    losses: list[float]


def add_intercept(x: torch.Tensor) -> torch.Tensor:
    """Prepend a column of ones, so that the first row of theta is the intercept."""
    return torch.cat([torch.ones(len(x), 1, dtype=x.dtype), x], dim=1)


def normal_equation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The textbook closed form ``theta = (X^T X)^-1 X^T y`` (numerically the worst way to solve it)."""
    xt = x.T
    return torch.linalg.inv(xt @ x) @ xt @ y


def solve_normal_equation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Solve ``(X^T X) theta = X^T y`` with ``torch.linalg.solve``, without forming an inverse."""
    return torch.linalg.solve(x.T @ x, x.T @ y)


def lstsq(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Least squares with ``torch.linalg.lstsq`` (QR-based on CPU), the sound default."""
    return torch.linalg.lstsq(x, y).solution


def autograd_one_number(w: float = 2.0, x: float = 1.0, b: float = 3.0) -> tuple[float, float]:
    """Evaluate ``Y = W * X + B`` and ``dY/dX`` with autograd; returns ``(Y, dY/dX)``."""
    x_t = torch.tensor(x, requires_grad=True)
    y = torch.tensor(w) * x_t + torch.tensor(b)
    y.backward()
    return y.item(), x_t.grad.item()


def load_sourdough(path: str | Path = SOURDOUGH_CSV) -> tuple[torch.Tensor, torch.Tensor]:
    """Read the sourdough CSV; return inputs (n x 3) and outputs (n x 2) as float32 tensors."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"sourdough data not found at {path}; make it with data/sourdough/generate.py")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not a readable CSV file: {err}") from err
    columns = (*SOURDOUGH_INPUTS, *SOURDOUGH_OUTPUTS)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{path} lacks the column(s) {', '.join(missing)}")
    not_numeric = [c for c in columns if not pd.api.types.is_numeric_dtype(df[c])]
    if not_numeric:
        raise DataError(f"{path} has values that are not numbers in the column(s) {', '.join(not_numeric)}")
    x = torch.tensor(df[list(SOURDOUGH_INPUTS)].to_numpy(), dtype=torch.float32)
    y = torch.tensor(df[list(SOURDOUGH_OUTPUTS)].to_numpy(), dtype=torch.float32)
    return x, y


def linear_model(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The sourdough model ``x @ weight.t() + bias``: one row of outputs per row of inputs."""
    return x @ weight.t() + bias


def fit_linear_gd(
    x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, lr: float, epochs: int
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Fit ``x @ weight.t() + bias`` to ``y`` by full-batch gradient descent on the mean squared error.

    Start from copies of ``weight`` (outputs x inputs) and ``bias`` (outputs) that require gradients;
    leave the arguments unchanged. Each epoch: the mean squared error of all rows, ``backward``, then,
    without recording it, subtract ``lr`` times each gradient and zero the gradients. Return
    ``(weight, bias, losses)``: the trained tensors (detached) and the loss of each epoch, before its step.
    """
    w = weight.detach().clone().requires_grad_()
    b = bias.detach().clone().requires_grad_()
    losses = []
    for _ in range(epochs):
        loss = ((x @ w.t() + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for c in (w, b):
                c.sub_(c.grad * lr)
                c.grad.zero_()
        losses.append(loss.item())
    return w.detach(), b.detach(), losses


def fit_gradient_descent(
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = SOURDOUGH_EPOCHS,
    lr: float = SOURDOUGH_LR,
    seed: int = SOURDOUGH_SEED,
) -> LinearFit:
    """Seed, draw ``W`` and ``B`` from a standard normal, then :func:`fit_linear_gd`.

    It is chapter 2's training loop with this model and the mean squared error.
    """
    torch.manual_seed(seed)
    weight = torch.randn(y.shape[1], x.shape[1])
    bias = torch.randn(y.shape[1])
    return LinearFit(*fit_linear_gd(x, y, weight, bias, lr, epochs))


def fit_normal_equation(x: torch.Tensor, y: torch.Tensor) -> LinearFit:
    """The same model solved exactly by least squares on ``[1, x]``; the loss is the final MSE."""
    theta = lstsq(add_intercept(x), y)
    bias, weight = theta[0], theta[1:].T
    loss = ((linear_model(x, weight, bias) - y) ** 2).mean().item()
    return LinearFit(weight, bias, [loss])
