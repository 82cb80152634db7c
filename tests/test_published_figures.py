"""The reference, run with the stated seeds, reproduces the published figures of solutions/published.py.

Line F's runs are deterministic on CPU, so the rounded figures must match exactly; line C's baselines
must match to six decimals.
"""

from __future__ import annotations

import pytest
import torch

from solutions import published as pub
from solutions.ch1_titanic import Split
from solutions.ch2_gradient_descent import LINEAR_EPOCHS, LINEAR_LR, TrainResult, accuracy, calc_preds, train_model
from solutions.ch3_sigmoid import SIGMOID_EPOCHS, SIGMOID_LR, calc_preds_sigmoid
from solutions.ch4_matrix import MATRIX_EPOCHS, MATRIX_LR, calc_preds_matrix, init_coeffs_matrix
from solutions.ch5_neural_net import NN_EPOCHS, NN_LR, NN_SLOW_LR, calc_preds_nn, init_coeffs_nn
from solutions.ch6_deep import DEEP_EPOCHS, DEEP_LR, Baselines, calc_preds_deep, init_coeffs_deep


def rounded_accuracy(preds: torch.Tensor, targets: torch.Tensor) -> float:
    return round(accuracy(preds, targets), pub.LINE_F_ACCURACY_PLACES)


def rounded_losses(result: TrainResult, count: int) -> tuple[float, ...]:
    return tuple(round(loss, pub.LINE_F_LOSS_PLACES) for loss in result.losses[:count])


def columns(split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and validation targets as columns, as the matrix models use them."""
    return split.trn_y[:, None], split.val_y[:, None]


@pytest.mark.ch2
def test_line_f_linear(line_f_split: Split) -> None:
    s = line_f_split
    result = train_model(s.trn_x, s.trn_y, LINEAR_EPOCHS, LINEAR_LR)
    assert rounded_losses(result, len(pub.LINE_F_LINEAR_FIRST_LOSSES)) == pub.LINE_F_LINEAR_FIRST_LOSSES
    assert rounded_accuracy(calc_preds(result.coeffs, s.val_x), s.val_y) == pub.LINE_F_LINEAR_ACCURACY


@pytest.mark.ch3
def test_line_f_sigmoid(line_f_split: Split) -> None:
    s = line_f_split
    result = train_model(s.trn_x, s.trn_y, SIGMOID_EPOCHS, SIGMOID_LR, predict=calc_preds_sigmoid)
    assert rounded_accuracy(calc_preds_sigmoid(result.coeffs, s.val_x), s.val_y) == pub.LINE_F_SIGMOID_ACCURACY


@pytest.mark.ch4
def test_line_f_matrix(line_f_split: Split) -> None:
    s = line_f_split
    trn_y, val_y = columns(s)
    result = train_model(s.trn_x, trn_y, MATRIX_EPOCHS, MATRIX_LR, init=init_coeffs_matrix, predict=calc_preds_matrix)
    assert rounded_accuracy(calc_preds_matrix(result.coeffs, s.val_x), val_y) == pub.LINE_F_MATRIX_ACCURACY


@pytest.fixture(scope="module")
def nn_runs(line_f_split: Split) -> dict[float, tuple[TrainResult, float]]:
    """The one-hidden-layer network at the published and the slow learning rate: (result, val accuracy)."""
    s = line_f_split
    trn_y, val_y = columns(s)
    runs = {}
    for lr in (NN_LR, NN_SLOW_LR):
        result = train_model(s.trn_x, trn_y, NN_EPOCHS, lr, init=init_coeffs_nn, predict=calc_preds_nn)
        runs[lr] = (result, accuracy(calc_preds_nn(result.coeffs, s.val_x), val_y))
    return runs


@pytest.mark.ch5
def test_line_f_one_hidden_layer(nn_runs: dict[float, tuple[TrainResult, float]]) -> None:
    result, acc = nn_runs[NN_LR]
    assert rounded_losses(result, len(pub.LINE_F_NN_FIRST_LOSSES)) == pub.LINE_F_NN_FIRST_LOSSES
    assert round(acc, pub.LINE_F_ACCURACY_PLACES) == pub.LINE_F_NN_ACCURACY


@pytest.mark.ch5
def test_line_f_slow_learning_rate_trains_more_slowly(nn_runs: dict[float, tuple[TrainResult, float]]) -> None:
    fast, fast_acc = nn_runs[NN_LR]
    slow, slow_acc = nn_runs[NN_SLOW_LR]
    assert slow.losses[0] == fast.losses[0]  # same start
    assert slow.losses[-1] > fast.losses[-1]
    assert slow_acc < fast_acc


@pytest.mark.ch6
def test_line_f_deep(line_f_split: Split) -> None:
    s = line_f_split
    trn_y, val_y = columns(s)
    result = train_model(s.trn_x, trn_y, DEEP_EPOCHS, DEEP_LR, init=init_coeffs_deep, predict=calc_preds_deep)
    assert rounded_accuracy(calc_preds_deep(result.coeffs, s.val_x), val_y) == pub.LINE_F_DEEP_ACCURACY


@pytest.mark.ch6
def test_line_c_baselines(line_c_split: Split, line_c_baselines: Baselines) -> None:
    assert (len(line_c_split.trn_x), len(line_c_split.val_x)) == (712, 179)
    places = pub.LINE_C_ACCURACY_PLACES
    assert round(line_c_baselines.logistic_regression, places) == pub.LINE_C_LOGISTIC_ACCURACY
    assert round(line_c_baselines.lightgbm, places) == pub.LINE_C_LIGHTGBM_ACCURACY
    # the closing message of line C: the default gradient-boosting model beats the GLM
    assert line_c_baselines.lightgbm > line_c_baselines.logistic_regression
