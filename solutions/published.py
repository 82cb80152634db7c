"""The published figures the course reproduces, in one place, and how each is computed.

Every number a write-up published is typed here once, as the write-up gives it (the course brief,
``COURSE_BRIEF.md``, "Two published lines"). :data:`FIGURES` says for each one which line it belongs
to, what it is, and to how many places it was published; :func:`reproduce` computes it again with
the reference solutions and the write-up's exact procedure. The book's chapters compute the same
figures with the same functions, glue them (``myst_nb.glue``) under the figure's name and print
:func:`caption`; ``tests/test_published_figures.py`` checks :func:`reproduce` against the typed
value, and ``tests/test_book.py`` checks each glued value and caption on its page.

Line F is the fast.ai "linear model and neural net from scratch" write-up; line C the "deep linear
models" write-up with baselines. Both are deterministic on CPU: the figures match exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import torch

from solutions.ch1_titanic import Split, line_c_data, line_f_all_rows, line_f_data
from solutions.ch2_gradient_descent import (
    FIRST_STEP_LR, LINE_C_LINEAR_EPOCHS, LINE_C_LINEAR_LR, LINEAR_EPOCHS, LINEAR_LR, TRAIN_SEED, TrainResult,
    accuracy, calc_preds, init_coeffs, mae_loss, train_model)
from solutions.ch3_sigmoid import (
    LINE_C_SIGMOID_EPOCHS, LINE_C_SIGMOID_LR, SIGMOID_EPOCHS, SIGMOID_LR, calc_preds_sigmoid)
from solutions.ch4_matrix import MATRIX_EPOCHS, MATRIX_LR, calc_preds_matrix, init_coeffs_matrix
from solutions.ch5_neural_net import (
    LINE_C_NN_EPOCHS, LINE_C_NN_LR, NN_EPOCHS, NN_LR, NN_SLOW_LR, calc_preds_nn, init_coeffs_nn, mish)
from solutions.ch6_deep import (
    DEEP_EPOCHS, DEEP_LR, LINE_C_DEEP_EPOCHS, LINE_C_DEEP_HIDDENS, LINE_C_DEEP_LR, baseline_accuracies,
    calc_preds_deep, calc_preds_deep_as_published, init_coeffs_deep)

# --- the figures, as published ----------------------------------------------------------------


class Figure(NamedTuple):
    """One published figure: its line (``"F"`` or ``"C"``), value(s), places and what it measures."""

    line: str
    value: float | tuple[float, ...]
    places: int
    what: str


FIGURES: dict[str, Figure] = {
    # line F, first steps on all 891 rows, before the split
    "line_f_first_mae": Figure("F", 0.5382, 4, "MAE of the seed-442 coefficients on all 891 rows"),
    "line_f_first_step_mae": Figure("F", 0.4945, 4, "MAE on all rows after one step at lr 0.1"),
    # line F, on its randperm split (validation accuracies; first training losses)
    "line_f_linear_first_losses": Figure("F", (0.536, 0.502), 3, "linear model, first training losses"),
    "line_f_linear_accuracy": Figure("F", 0.7865, 4, "linear model, validation accuracy"),
    "line_f_sigmoid_accuracy": Figure("F", 0.8258, 4, "sigmoid model, validation accuracy"),
    "line_f_matrix_accuracy": Figure("F", 0.8258, 4, "matrix-product model, validation accuracy"),
    "line_f_nn_first_losses": Figure("F", (0.543, 0.400, 0.260, 0.390), 3,
                                     "one hidden layer at lr 20, first training losses"),
    "line_f_nn_accuracy": Figure("F", 0.8258, 4, "one hidden layer at lr 20, validation accuracy"),
    "line_f_deep_accuracy": Figure("F", 0.8258, 4, "deep network [10, 10], validation accuracy"),
    # line C, on the train_test_split(random_state=808) split of the standardised data
    "line_c_linear_accuracy": Figure("C", 0.6425, 4, "linear model (MSE, lr 0.2, 50 epochs), validation accuracy"),
    "line_c_sigmoid_accuracy": Figure("C", 0.7989, 4, "sigmoid model (MSE, lr 1, 500 epochs), validation accuracy"),
    "line_c_linear_regression_coef_accuracy": Figure(
        "C", 0.7821, 4, "LinearRegression's coef_ through the sigmoid model, validation accuracy"),
    "line_c_logistic_accuracy": Figure("C", 0.782123, 6, "LogisticRegression(), validation accuracy"),
    "line_c_lightgbm_accuracy": Figure("C", 0.849162, 6, "LGBMClassifier(), validation accuracy"),
    "line_c_nn_accuracy": Figure("C", 0.8045, 4, "one hidden layer of 20 (Mish, MSE, lr 1), validation accuracy"),
    "line_c_deep_accuracy": Figure("C", 0.804469, 6, "deep network [500, 250, 100] (BCE, lr 1e-4), validation accuracy"),
}


def caption(name: str, computed: float | tuple[float, ...] | list[float]) -> str:
    """The line a chapter prints beside a reproduced figure: its line, what it is, ours and the published.

    >>> caption("line_f_linear_accuracy", 0.78651685)
    'line F, linear model, validation accuracy: 0.7865 (published: 0.7865)'
    """
    fig = FIGURES[name]

    def fmt(v: float | tuple[float, ...] | list[float]) -> str:
        if isinstance(v, (tuple, list)):
            return ", ".join(f"{x:.{fig.places}f}" for x in v)
        return f"{v:.{fig.places}f}"

    shown = computed[: len(fig.value)] if isinstance(fig.value, tuple) else computed
    return f"line {fig.line}, {fig.what}: {fmt(shown)} (published: {fmt(fig.value)})"


def matches(name: str, computed: float | tuple[float, ...] | list[float]) -> bool:
    """Whether ``computed``, rounded to the figure's places, is the published figure."""
    fig = FIGURES[name]
    if isinstance(fig.value, tuple):
        return tuple(round(x, fig.places) for x in list(computed)[: len(fig.value)]) == fig.value
    return round(float(computed), fig.places) == fig.value  # type: ignore[arg-type]


# --- how each figure is computed: one recipe per run, used by the tests and the book's checks -----


class Recipe(NamedTuple):
    """One training run of a published line: schedule, model, loss, and targets as a column or not."""

    epochs: int
    lr: float
    init: Callable
    predict: Callable
    column: bool
    loss_fn: Callable = mae_loss


class Run(NamedTuple):
    """A finished run: the training result and its training and validation accuracies."""

    result: TrainResult
    train_accuracy: float
    valid_accuracy: float


def _mish_nn(coeffs, indeps: torch.Tensor) -> torch.Tensor:
    return calc_preds_nn(coeffs, indeps, mish)


def _init_line_c_deep(n_coeff: int):
    return init_coeffs_deep(n_coeff, LINE_C_DEEP_HIDDENS)


LINE_F_RECIPES: dict[str, Recipe] = {
    "linear": Recipe(LINEAR_EPOCHS, LINEAR_LR, init_coeffs, calc_preds, False),
    "sigmoid": Recipe(SIGMOID_EPOCHS, SIGMOID_LR, init_coeffs, calc_preds_sigmoid, False),
    "matrix": Recipe(MATRIX_EPOCHS, MATRIX_LR, init_coeffs_matrix, calc_preds_matrix, True),
    "nn": Recipe(NN_EPOCHS, NN_LR, init_coeffs_nn, calc_preds_nn, True),
    "nn_slow": Recipe(NN_EPOCHS, NN_SLOW_LR, init_coeffs_nn, calc_preds_nn, True),
    "deep": Recipe(DEEP_EPOCHS, DEEP_LR, init_coeffs_deep, calc_preds_deep, True),
}

LINE_C_RECIPES: dict[str, Recipe] = {
    "linear": Recipe(LINE_C_LINEAR_EPOCHS, LINE_C_LINEAR_LR, init_coeffs, calc_preds, False, torch.nn.MSELoss()),
    "sigmoid": Recipe(LINE_C_SIGMOID_EPOCHS, LINE_C_SIGMOID_LR, init_coeffs, calc_preds_sigmoid, False,
                      torch.nn.MSELoss()),
    "nn": Recipe(LINE_C_NN_EPOCHS, LINE_C_NN_LR, init_coeffs_nn, _mish_nn, True, torch.nn.MSELoss()),
    "deep": Recipe(LINE_C_DEEP_EPOCHS, LINE_C_DEEP_LR, _init_line_c_deep, calc_preds_deep_as_published, True,
                   torch.nn.BCELoss()),
}


def run_recipe(recipe: Recipe, split: Split) -> Run:
    """Train one recipe on one split with the reference's ``train_model``; score both parts."""
    trn_y, val_y = (split.trn_y[:, None], split.val_y[:, None]) if recipe.column else (split.trn_y, split.val_y)
    result = train_model(split.trn_x, trn_y, recipe.epochs, recipe.lr, init=recipe.init, predict=recipe.predict,
                         loss_fn=recipe.loss_fn)
    with torch.no_grad():
        trn_acc = accuracy(recipe.predict(result.coeffs, split.trn_x), trn_y)
        val_acc = accuracy(recipe.predict(result.coeffs, split.val_x), val_y)
    return Run(result, trn_acc, val_acc)


def run_line_f(name: str, split: Split | None = None) -> tuple[TrainResult, float]:
    """Train line F's model ``name`` with the reference; return the run and its validation accuracy."""
    run = run_recipe(LINE_F_RECIPES[name], split if split is not None else line_f_data())
    return run.result, run.valid_accuracy


def run_line_c(name: str, split: Split | None = None) -> Run:
    """Train line C's model ``name`` with the reference on line C's split (or ``split``)."""
    return run_recipe(LINE_C_RECIPES[name], split if split is not None else line_c_data())


class FirstSteps(NamedTuple):
    """Line F's first steps on all rows: the loss, the gradient after one, two and three
    ``backward()`` calls (they add up), and the loss after one step taken with the last of them."""

    loss: float
    grads: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    loss_after_step: float


def line_f_first_steps() -> FirstSteps:
    """Replay line F's first steps exactly as its write-up runs them, before any split.

    The write-up calls ``backward()`` once and shows the gradient, again (the gradient doubles,
    because ``.grad`` accumulates), then a third time before its first step at lr 0.1: the step is
    taken with three times the gradient, which is why the loss falls to 0.4945.
    """
    x, y = line_f_all_rows()
    torch.manual_seed(TRAIN_SEED)
    coeffs = init_coeffs(x.shape[1])
    grads = []
    for _ in range(3):
        loss = mae_loss(calc_preds(coeffs, x), y)
        loss.backward()
        grads.append(coeffs.grad.clone())
    with torch.no_grad():
        coeffs.sub_(coeffs.grad * FIRST_STEP_LR)
        coeffs.grad.zero_()
        after = mae_loss(calc_preds(coeffs, x), y).item()
    return FirstSteps(loss.item(), (grads[0], grads[1], grads[2]), after)


@functools.cache
def _line_f(model: str) -> tuple[TrainResult, float]:
    return run_line_f(model)


@functools.cache
def _line_c(model: str) -> Run:
    return run_line_c(model)


@functools.cache
def _line_c_baselines():
    return baseline_accuracies(*line_c_data())


@functools.cache
def _first_steps() -> FirstSteps:
    return line_f_first_steps()


def _first_losses(name: str, model: str) -> tuple[float, ...]:
    return tuple(_line_f(model)[0].losses[: len(FIGURES[name].value)])  # type: ignore[arg-type]


#: How each figure of :data:`FIGURES` is computed. Each run is made once (cached: they are
#: deterministic, and a figure such as line F's linear model gives two names).
_COMPUTE: dict[str, Callable[[], float | tuple[float, ...]]] = {
    "line_f_first_mae": lambda: _first_steps().loss,
    "line_f_first_step_mae": lambda: _first_steps().loss_after_step,
    "line_f_linear_first_losses": lambda: _first_losses("line_f_linear_first_losses", "linear"),
    "line_f_linear_accuracy": lambda: _line_f("linear")[1],
    "line_f_sigmoid_accuracy": lambda: _line_f("sigmoid")[1],
    "line_f_matrix_accuracy": lambda: _line_f("matrix")[1],
    "line_f_nn_first_losses": lambda: _first_losses("line_f_nn_first_losses", "nn"),
    "line_f_nn_accuracy": lambda: _line_f("nn")[1],
    "line_f_deep_accuracy": lambda: _line_f("deep")[1],
    "line_c_linear_accuracy": lambda: _line_c("linear").valid_accuracy,
    "line_c_sigmoid_accuracy": lambda: _line_c("sigmoid").valid_accuracy,
    "line_c_linear_regression_coef_accuracy": lambda: _line_c_baselines().linear_regression_coef,
    "line_c_logistic_accuracy": lambda: _line_c_baselines().logistic_regression,
    "line_c_lightgbm_accuracy": lambda: _line_c_baselines().lightgbm,
    "line_c_nn_accuracy": lambda: _line_c("nn").valid_accuracy,
    "line_c_deep_accuracy": lambda: _line_c("deep").valid_accuracy,
}


def reproduce(name: str) -> float | tuple[float, ...]:
    """Compute figure ``name`` of :data:`FIGURES` with the reference and the write-up's procedure."""
    if name not in _COMPUTE:
        raise KeyError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")
    return _COMPUTE[name]()
