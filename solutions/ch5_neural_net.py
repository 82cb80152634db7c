"""Chapter 5, a neural network: one hidden layer between the features and the output."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

#: Line F's network: 20 hidden units, 30 epochs, learning rate 20 (1.4 trains more slowly).
N_HIDDEN: int = 20
NN_EPOCHS: int = 30
NN_LR: float = 20.0
NN_SLOW_LR: float = 1.4
#: Line C's network: line F's initialisation, Mish on the hidden layer, MSE, 50 epochs at learning rate 1.
LINE_C_NN_EPOCHS: int = 50
LINE_C_NN_LR: float = 1.0

NNCoeffs = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
Activation = Callable[[torch.Tensor], torch.Tensor]


def init_coeffs_nn(n_coeff: int, n_hidden: int = 20) -> NNCoeffs:
    """Weights ``(n_coeff, n_hidden)`` and ``(n_hidden, 1)`` and a scalar constant, ready for gradients.

    Draw, in this order: ``layer1 = (rand(n_coeff, n_hidden) - 0.5) / n_hidden``,
    ``layer2 = rand(n_hidden, 1) - 0.3``, ``const = rand(1)[0]`` (a 0-d tensor); return them as a
    tuple, each with ``requires_grad`` set. The first layer is divided by ``n_hidden`` so that the sum
    over the hidden units starts small.
    """
    layer1 = (torch.rand(n_coeff, n_hidden) - 0.5) / n_hidden
    layer2 = torch.rand(n_hidden, 1) - 0.3
    const = torch.rand(1)[0]
    return layer1.requires_grad_(), layer2.requires_grad_(), const.requires_grad_()


def calc_preds_nn(coeffs: NNCoeffs, indeps: torch.Tensor, activation: Activation = F.relu) -> torch.Tensor:
    """``sigmoid(activation(indeps @ layer1) @ layer2 + const)``, a column of probabilities."""
    layer1, layer2, const = coeffs
    hidden = activation(indeps @ layer1)
    return torch.sigmoid(hidden @ layer2 + const)


def one_epoch_nn(coeffs: NNCoeffs, x: torch.Tensor, y: torch.Tensor, lr: float,
                 activation: Activation = F.relu) -> float:
    """One epoch of gradient descent on the network's three tensors, in place; return the loss before the step.

    Predict with ``calc_preds_nn(coeffs, x, activation)``, take the mean absolute error against the
    targets ``y`` (a plain vector of 0/1) made a column, back-propagate, then, without recording it,
    subtract ``lr`` times its gradient from each of ``layer1``, ``layer2`` and ``const`` and zero the
    gradients. Return the loss as a Python float.
    """
    loss = torch.abs(calc_preds_nn(coeffs, x, activation) - y[:, None]).mean()
    loss.backward()
    with torch.no_grad():
        for c in coeffs:
            c.sub_(c.grad * lr)
            c.grad.zero_()
    return loss.item()


def relu(x: torch.Tensor) -> torch.Tensor:
    """Rectified linear unit: negative values become zero."""
    return x.clamp(min=0)


def mish(x: torch.Tensor) -> torch.Tensor:
    """Mish: ``x * tanh(softplus(x))``, a smooth relu (line C's activation)."""
    return x * torch.tanh(F.softplus(x))
