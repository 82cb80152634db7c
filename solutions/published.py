"""The published figures the course reproduces, in one place.

The book's chapters quote these and ``tests/test_published_figures.py`` checks that the reference
solutions, run with the stated seeds, reproduce them. Change a figure here only with its source.

Line F (the fast.ai "linear model and neural net from scratch" line): the figures are the published
write-up's, as stated in the course brief (``/work/shared/COURSE_BRIEF.md``, "Two published lines").
Accuracies are validation accuracies on line F's split, rounded to 4 places; losses are the first
epochs' training losses, rounded to 3 places.

Line C (the "deep linear models" line): validation accuracies of the default scikit-learn
``LogisticRegression`` and LightGBM ``LGBMClassifier`` on the ``random_state=808`` split, to six
decimals. These are as computed by the reference; the brief did not state them; confirm against the
write-up. (They are 140/179 and 152/179.)
"""

from __future__ import annotations

#: Line F, linear model (18 epochs at lr 0.2, MAE): validation accuracy, 4 places.
LINE_F_LINEAR_ACCURACY: float = 0.7865
#: Line F, linear model: the first two epochs' losses, 3 places.
LINE_F_LINEAR_FIRST_LOSSES: tuple[float, ...] = (0.536, 0.502)
#: Line F, sigmoid model (30 epochs at lr 100): validation accuracy, 4 places.
LINE_F_SIGMOID_ACCURACY: float = 0.8258
#: Line F, matrix-product model (30 epochs at lr 100): validation accuracy, 4 places.
LINE_F_MATRIX_ACCURACY: float = 0.8258
#: Line F, one hidden layer of 20 at lr 20 (30 epochs): validation accuracy, 4 places.
LINE_F_NN_ACCURACY: float = 0.8258
#: Line F, one hidden layer at lr 20: the first four epochs' losses, 3 places.
LINE_F_NN_FIRST_LOSSES: tuple[float, ...] = (0.543, 0.400, 0.260, 0.390)
#: Line F, deep network with hidden sizes [10, 10] (30 epochs at lr 4): validation accuracy, 4 places.
LINE_F_DEEP_ACCURACY: float = 0.8258

#: Decimal places the published line F accuracies and losses are given to.
LINE_F_ACCURACY_PLACES: int = 4
LINE_F_LOSS_PLACES: int = 3

#: Line C, default ``LogisticRegression`` on the 808 split: validation accuracy (140/179), 6 places.
#: As computed by the reference; the brief did not state it; confirm against the write-up.
LINE_C_LOGISTIC_ACCURACY: float = 0.782123
#: Line C, default ``LGBMClassifier`` on the 808 split: validation accuracy (152/179), 6 places.
#: As computed by the reference; the brief did not state it; confirm against the write-up.
LINE_C_LIGHTGBM_ACCURACY: float = 0.849162
#: Decimal places line C's accuracies are compared to.
LINE_C_ACCURACY_PLACES: int = 6


# --- how each line F figure is computed: one recipe, used by the tests and the book's checks ------

from collections.abc import Callable  # noqa: E402  (kept beside the recipes they type)
from typing import NamedTuple  # noqa: E402

from solutions.ch1_titanic import Split, line_f_data  # noqa: E402
from solutions.ch2_gradient_descent import (  # noqa: E402
    LINEAR_EPOCHS, LINEAR_LR, TrainResult, accuracy, calc_preds, init_coeffs, train_model)
from solutions.ch3_sigmoid import SIGMOID_EPOCHS, SIGMOID_LR, calc_preds_sigmoid  # noqa: E402
from solutions.ch4_matrix import MATRIX_EPOCHS, MATRIX_LR, calc_preds_matrix, init_coeffs_matrix  # noqa: E402
from solutions.ch5_neural_net import NN_EPOCHS, NN_LR, NN_SLOW_LR, calc_preds_nn, init_coeffs_nn  # noqa: E402
from solutions.ch6_deep import DEEP_EPOCHS, DEEP_LR, calc_preds_deep, init_coeffs_deep  # noqa: E402


class LineFRecipe(NamedTuple):
    """One line F training run: schedule, model, and whether targets are a column (matrix models)."""

    epochs: int
    lr: float
    init: Callable
    predict: Callable
    column: bool


LINE_F_RECIPES: dict[str, LineFRecipe] = {
    "linear": LineFRecipe(LINEAR_EPOCHS, LINEAR_LR, init_coeffs, calc_preds, False),
    "sigmoid": LineFRecipe(SIGMOID_EPOCHS, SIGMOID_LR, init_coeffs, calc_preds_sigmoid, False),
    "matrix": LineFRecipe(MATRIX_EPOCHS, MATRIX_LR, init_coeffs_matrix, calc_preds_matrix, True),
    "nn": LineFRecipe(NN_EPOCHS, NN_LR, init_coeffs_nn, calc_preds_nn, True),
    "nn_slow": LineFRecipe(NN_EPOCHS, NN_SLOW_LR, init_coeffs_nn, calc_preds_nn, True),
    "deep": LineFRecipe(DEEP_EPOCHS, DEEP_LR, init_coeffs_deep, calc_preds_deep, True),
}


def run_line_f(name: str, split: Split | None = None) -> tuple[TrainResult, float]:
    """Train line F's model ``name`` with the reference; return the run and its validation accuracy."""
    r = LINE_F_RECIPES[name]
    s = split if split is not None else line_f_data()
    trn_y, val_y = (s.trn_y[:, None], s.val_y[:, None]) if r.column else (s.trn_y, s.val_y)
    result = train_model(s.trn_x, trn_y, r.epochs, r.lr, init=r.init, predict=r.predict)
    return result, accuracy(r.predict(result.coeffs, s.val_x), val_y)
