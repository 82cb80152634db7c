"""Chapter 6, deep networks, and the honest baselines they are compared with."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import lightgbm
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LinearRegression, LogisticRegression

#: Line F's deep network: hidden sizes [10, 10], 30 epochs at learning rate 4.
DEEP_HIDDENS: tuple[int, ...] = (10, 10)
DEEP_EPOCHS: int = 30
DEEP_LR: float = 4.0
#: Line C's deep network: hidden sizes [500, 250, 100], binary cross-entropy (``torch.nn.BCELoss``),
#: 500 epochs at learning rate 1e-4, line F's deep initialisation.
LINE_C_DEEP_HIDDENS: tuple[int, ...] = (500, 250, 100)
LINE_C_DEEP_EPOCHS: int = 500
LINE_C_DEEP_LR: float = 1e-4

DeepCoeffs = tuple[list[torch.Tensor], list[torch.Tensor]]
Activation = Callable[[torch.Tensor], torch.Tensor]


def init_coeffs_deep(n_coeff: int, hiddens: tuple[int, ...] | list[int] = (10, 10)) -> DeepCoeffs:
    """One weight matrix and one scalar constant per layer, ready for gradients.

    Sizes run ``sizes = [n_coeff, *hiddens, 1]``; layer ``i`` is
    ``(rand(sizes[i], sizes[i+1]) - 0.3) / sizes[i+1] * 4`` and its constant
    ``(rand(1)[0] - 0.5) * 0.1`` (a 0-d tensor). Draw all the weights first, then all the constants;
    return ``(layers, consts)``, two lists, every tensor with ``requires_grad`` set.
    """
    sizes = [n_coeff, *hiddens, 1]
    n = len(sizes)
    layers = [(torch.rand(sizes[i], sizes[i + 1]) - 0.3) / sizes[i + 1] * 4 for i in range(n - 1)]
    consts = [(torch.rand(1)[0] - 0.5) * 0.1 for _ in range(n - 1)]
    for t in layers + consts:
        t.requires_grad_()
    return layers, consts


def calc_preds_deep(coeffs: DeepCoeffs, indeps: torch.Tensor, activation: Activation = F.relu) -> torch.Tensor:
    """Apply each layer and constant in turn, ``activation`` between layers, sigmoid at the end."""
    layers, consts = coeffs
    res = indeps
    for i, (layer, const) in enumerate(zip(layers, consts)):
        res = res @ layer + const
        if i != len(layers) - 1:
            res = activation(res)
    return torch.sigmoid(res)


def dead_units(coeffs: DeepCoeffs, x: torch.Tensor) -> list[int]:
    """Per hidden layer, how many relu units output zero for every row of the batch ``x``.

    Run the hidden layers only (every layer but the last: ``x = relu(x @ layer + const)``) and, for
    each hidden layer's output, count the columns (units) whose largest value over the rows is 0.
    Return the counts as a list of ints, one per hidden layer (empty if there is none).
    """
    layers, consts = coeffs
    counts = []
    with torch.no_grad():
        for layer, const in zip(layers[:-1], consts[:-1]):
            x = torch.relu(x @ layer + const)
            counts.append(int((x.max(dim=0).values == 0).sum()))
    return counts


def calc_preds_deep_as_published(coeffs: DeepCoeffs, indeps: torch.Tensor) -> torch.Tensor:
    """Line C's deep ``calc_preds`` exactly as its write-up prints it, indentation included.

    The Mish line sits *after* the loop, where ``i`` is already ``n - 1``, so its condition is
    never true: no activation is applied between the layers and the network is a product of linear
    maps followed by the sigmoid (a deep *linear* model).
    """
    layers, consts = coeffs
    n = len(layers)
    res = indeps
    for i, layer in enumerate(layers):
        res = res @ layer + consts[i]
    if i != n - 1:  # noqa: the published bug, kept on purpose: this is never true
        res = F.mish(res)
    return torch.sigmoid(res)


def collapse_linear_layers(coeffs: DeepCoeffs) -> tuple[torch.Tensor, torch.Tensor]:
    """Multiply a deep *linear* model out into one linear model with the same outputs.

    ``coeffs`` is ``(layers, consts)`` as from ``init_coeffs_deep``: ``res = res @ layer + const``
    per layer, each constant a scalar added to every unit, no activation in between. Return
    ``(weight, bias)``, a weight of shape ``(n_features, n_outputs)`` (the product of the layers)
    and a bias of shape ``(n_outputs,)``, such that ``indeps @ weight + bias`` equals the deep
    model's output before its final sigmoid. Gradients are not needed: work on detached values.
    """
    layers, consts = coeffs
    weight = layers[0].detach()
    bias = consts[0].detach() * torch.ones(layers[0].shape[1])
    for layer, const in zip(layers[1:], consts[1:]):
        weight = weight @ layer.detach()
        bias = bias @ layer.detach() + const.detach()
    return weight, bias


class Baselines(NamedTuple):
    """Validation accuracies of the default scikit-learn and LightGBM models on one split.

    ``linear_regression`` cuts ``LinearRegression().predict()`` at 0.5 (its intercept included);
    ``linear_regression_coef`` is the line C write-up's way: only ``coef_``, through the sigmoid
    model's accuracy (``sigmoid(x @ coef_) > 0.5``), no intercept.
    """

    linear_regression: float
    linear_regression_coef: float
    logistic_regression: float
    lightgbm: float


def baseline_accuracies(
    trn_x: torch.Tensor, trn_y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor
) -> Baselines:
    """Fit ``LinearRegression``, ``LogisticRegression`` and ``LGBMClassifier`` with default settings.

    The linear regression is scored both ways of :class:`Baselines`.
    """
    xt, yt, xv, yv = (np.asarray(t) for t in (trn_x, trn_y, val_x, val_y))
    lin = LinearRegression().fit(xt, yt)
    lin_acc = float(((lin.predict(xv) > 0.5) == yv.astype(bool)).mean())
    coef_preds = torch.sigmoid(torch.as_tensor(val_x) @ torch.as_tensor(lin.coef_, dtype=torch.float32))
    lin_coef_acc = float(((coef_preds > 0.5) == torch.as_tensor(val_y).bool()).float().mean())
    logit = LogisticRegression().fit(xt, yt)
    logit_acc = float((logit.predict(xv) == yv).mean())
    gbm = lightgbm.LGBMClassifier(verbose=-1).fit(xt, yt)
    gbm_acc = float((gbm.predict(xv) == yv).mean())
    return Baselines(lin_acc, lin_coef_acc, logit_acc, gbm_acc)


def improvement_over(reference: float, value: float) -> float:
    """Percentage improvement of ``value`` over ``reference``: ``100 * (value - reference) / reference``."""
    return 100.0 * (value - reference) / reference
