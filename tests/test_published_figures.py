"""The reference, run with the stated seeds, reproduces the published figures of solutions/published.py.

Line F's runs are deterministic on CPU, so the rounded figures must match exactly; line C's baselines
must match to six decimals.
"""

from __future__ import annotations

import pytest

from solutions import published as pub
from solutions.ch1_titanic import Split
from solutions.ch2_gradient_descent import TrainResult
from solutions.ch6_deep import Baselines
from solutions.published import run_line_f


def rounded(acc: float) -> float:
    return round(acc, pub.LINE_F_ACCURACY_PLACES)


def rounded_losses(result: TrainResult, count: int) -> tuple[float, ...]:
    return tuple(round(loss, pub.LINE_F_LOSS_PLACES) for loss in result.losses[:count])


@pytest.mark.ch2
def test_line_f_linear(line_f_split: Split) -> None:
    result, acc = run_line_f("linear", line_f_split)
    assert rounded_losses(result, len(pub.LINE_F_LINEAR_FIRST_LOSSES)) == pub.LINE_F_LINEAR_FIRST_LOSSES
    assert rounded(acc) == pub.LINE_F_LINEAR_ACCURACY


@pytest.mark.ch3
def test_line_f_sigmoid(line_f_split: Split) -> None:
    assert rounded(run_line_f("sigmoid", line_f_split)[1]) == pub.LINE_F_SIGMOID_ACCURACY


@pytest.mark.ch4
def test_line_f_matrix(line_f_split: Split) -> None:
    assert rounded(run_line_f("matrix", line_f_split)[1]) == pub.LINE_F_MATRIX_ACCURACY


@pytest.fixture(scope="module")
def nn_runs(line_f_split: Split) -> dict[str, tuple[TrainResult, float]]:
    """The one-hidden-layer network at the published and the slow learning rate: (result, val accuracy)."""
    return {name: run_line_f(name, line_f_split) for name in ("nn", "nn_slow")}


@pytest.mark.ch5
def test_line_f_one_hidden_layer(nn_runs: dict[str, tuple[TrainResult, float]]) -> None:
    result, acc = nn_runs["nn"]
    assert rounded_losses(result, len(pub.LINE_F_NN_FIRST_LOSSES)) == pub.LINE_F_NN_FIRST_LOSSES
    assert rounded(acc) == pub.LINE_F_NN_ACCURACY


@pytest.mark.ch5
def test_line_f_slow_learning_rate_trains_more_slowly(nn_runs: dict[str, tuple[TrainResult, float]]) -> None:
    fast, fast_acc = nn_runs["nn"]
    slow, slow_acc = nn_runs["nn_slow"]
    assert slow.losses[0] == fast.losses[0]  # same start
    assert slow.losses[-1] > fast.losses[-1]
    assert slow_acc < fast_acc


@pytest.mark.ch6
def test_line_f_deep(line_f_split: Split) -> None:
    assert rounded(run_line_f("deep", line_f_split)[1]) == pub.LINE_F_DEEP_ACCURACY


@pytest.mark.ch6
def test_line_c_baselines(line_c_split: Split, line_c_baselines: Baselines) -> None:
    assert (len(line_c_split.trn_x), len(line_c_split.val_x)) == (712, 179)
    places = pub.LINE_C_ACCURACY_PLACES
    assert round(line_c_baselines.logistic_regression, places) == pub.LINE_C_LOGISTIC_ACCURACY
    assert round(line_c_baselines.lightgbm, places) == pub.LINE_C_LIGHTGBM_ACCURACY
    # the closing message of line C: the default gradient-boosting model beats the GLM
    assert line_c_baselines.lightgbm > line_c_baselines.logistic_regression
