"""Chapter 8, the ``torch.nn`` rewrite: modules, criteria, optimisers, data loaders, a device.

The modules mirror the hand-made models of chapters 2 to 5 exactly, so that, started from the same
weights and trained with the same loss and plain SGD on the full batch, they reach the same weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from solutions.ch7_normal_equation import SOURDOUGH_SEED, LinearFit

#: Seed of every module training run (the data loader's shuffling included).
MODULE_SEED: int = 442
#: The sourdough regression served with ``torch.nn``: mini-batches of 16 loaves, 100 epochs.
SOURDOUGH_BATCH_SIZE: int = 16
SOURDOUGH_MINIBATCH_EPOCHS: int = 100

OptimiserFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]


def pick_device() -> torch.device:
    """``cuda`` if a GPU is available, else ``cpu``: the code runs the same on both."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LinearSigmoid(nn.Module):
    """The matrix-product model of chapter 4: ``sigmoid(x @ w)``, no bias, one output column."""

    def __init__(self, n_features: int) -> None:
        """Call ``super().__init__()``, then create ``self.linear = nn.Linear(n_features, 1, bias=False)``."""
        super().__init__()
        self.linear = nn.Linear(n_features, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``sigmoid(self.linear(x))``: one probability per row, shape ``(n, 1)``."""
        return torch.sigmoid(self.linear(x))


class OneHiddenLayer(nn.Module):
    """The network of chapter 5: ``sigmoid(act(x @ W1) @ W2 + c)``."""

    def __init__(self, n_features: int, n_hidden: int = 20,
                 activation: Callable[[torch.Tensor], torch.Tensor] = F.relu) -> None:
        """After ``super().__init__()``, create in this order ``self.hidden = nn.Linear(n_features,
        n_hidden, bias=False)`` and ``self.output = nn.Linear(n_hidden, 1)``; keep ``self.activation``."""
        super().__init__()
        self.hidden = nn.Linear(n_features, n_hidden, bias=False)
        self.output = nn.Linear(n_hidden, 1)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``sigmoid(output(activation(hidden(x))))``: one probability per row, shape ``(n, 1)``."""
        return torch.sigmoid(self.output(self.activation(self.hidden(x))))


def fit_linear_sigmoid(seed: int, x: torch.Tensor, y: torch.Tensor, lr: float,
                       epochs: int) -> tuple[torch.Tensor, list[float]]:
    """Train a ``LinearSigmoid`` with ``torch.optim.SGD`` and ``nn.BCELoss`` on the full batch.

    Seed PyTorch with ``seed``, build ``LinearSigmoid(x.shape[1])``, an SGD optimiser over its
    parameters at learning rate ``lr`` and the criterion. Each epoch: zero the gradients, the loss of
    the model's output against ``y`` (an ``(n, 1)`` column), ``backward``, a step of the optimiser.
    Return ``(weight, losses)``: a detached copy of ``model.linear.weight`` after training and the
    loss of each epoch as a float.
    """
    torch.manual_seed(seed)
    model = LinearSigmoid(x.shape[1])
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    criterion = nn.BCELoss()
    losses = []
    for _ in range(epochs):
        optimiser.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return model.linear.weight.detach().clone(), losses


def load_hand_made_nn(model: OneHiddenLayer, coeffs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> None:
    """Copy chapter 5's ``(layer1, layer2, const)`` into ``model`` (``nn.Linear`` stores weights transposed)."""
    layer1, layer2, const = coeffs
    with torch.no_grad():
        model.hidden.weight.copy_(layer1.T)
        model.output.weight.copy_(layer2.T)
        model.output.bias.copy_(const.reshape(1))


def train_full_batch(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    lr: float,
    criterion: nn.Module | None = None,
) -> list[float]:
    """Full-batch training with ``torch.optim.SGD``: the hand-made loop, written with ``torch.nn``."""
    criterion = criterion if criterion is not None else nn.L1Loss()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def train_minibatch(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int = 64,
    criterion: nn.Module | None = None,
    device: torch.device | None = None,
    seed: int = MODULE_SEED,
) -> list[float]:
    """Mini-batch training with ``Adam`` over a shuffled ``DataLoader``; returns each epoch's mean loss."""
    device = device if device is not None else pick_device()
    criterion = criterion if criterion is not None else nn.BCELoss()
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=generator)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
            count += len(xb)
        losses.append(total / count)
    return losses


def predict_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Validation accuracy of a model that outputs probabilities: ``(p > 0.5) == y``."""
    device = next(model.parameters()).device
    with torch.no_grad():
        preds = model(x.to(device)).cpu()
    return ((preds > 0.5) == y.bool()).float().mean().item()


def fit_linear_module(
    x: torch.Tensor,
    y: torch.Tensor,
    make_optimiser: OptimiserFactory,
    epochs: int,
    make_scheduler: SchedulerFactory | None = None,
    batch_size: int | None = None,
    seed: int = SOURDOUGH_SEED,
) -> LinearFit:
    """Fit ``nn.Linear(k, m)`` to ``x`` (n x k) and ``y`` (n x m) with ``nn.MSELoss`` and an optimiser.

    Seed, create the layer (its own starting weights), then build the optimiser with
    ``make_optimiser(layer.parameters())`` and, if given, a scheduler with ``make_scheduler(optimiser)``,
    stepped once per epoch. With ``batch_size=None`` every step uses all rows (chapter 7's full
    batch); otherwise a ``DataLoader`` shuffles mini-batches with a generator seeded by ``seed``.
    ``losses`` holds the mean squared error on all rows after each epoch.
    """
    torch.manual_seed(seed)
    layer = nn.Linear(x.shape[1], y.shape[1])
    optimiser = make_optimiser(layer.parameters())
    scheduler = make_scheduler(optimiser) if make_scheduler is not None else None
    criterion = nn.MSELoss()
    if batch_size is None:
        batches: Iterable[tuple[torch.Tensor, torch.Tensor]] = [(x, y)]
    else:
        batches = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                             generator=torch.Generator().manual_seed(seed))
    losses = []
    for _ in range(epochs):
        for xb, yb in batches:
            optimiser.zero_grad()
            criterion(layer(xb), yb).backward()
            optimiser.step()
        if scheduler is not None:
            scheduler.step()
        with torch.no_grad():
            losses.append(criterion(layer(x), y).item())
    return LinearFit(layer.weight.detach().clone(), layer.bias.detach().clone(), losses)
