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


class Baselines(NamedTuple):
    """Validation accuracies of the default scikit-learn and LightGBM models on one split."""

    linear_regression: float
    logistic_regression: float
    lightgbm: float


def baseline_accuracies(
    trn_x: torch.Tensor, trn_y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor
) -> Baselines:
    """Fit ``LinearRegression``, ``LogisticRegression`` and ``LGBMClassifier`` with default settings.

    The linear regression's output is cut at 0.5 like the hand-made linear model's.
    """
    xt, yt, xv, yv = (np.asarray(t) for t in (trn_x, trn_y, val_x, val_y))
    lin = LinearRegression().fit(xt, yt)
    lin_acc = float(((lin.predict(xv) > 0.5) == yv.astype(bool)).mean())
    logit = LogisticRegression().fit(xt, yt)
    logit_acc = float((logit.predict(xv) == yv).mean())
    gbm = lightgbm.LGBMClassifier(verbose=-1).fit(xt, yt)
    gbm_acc = float((gbm.predict(xv) == yv).mean())
    return Baselines(lin_acc, logit_acc, gbm_acc)


def improvement_over(reference: float, value: float) -> float:
    """Percentage improvement of ``value`` over ``reference``: ``100 * (value - reference) / reference``."""
    return 100.0 * (value - reference) / reference
