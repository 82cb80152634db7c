"""The reference, run with the write-ups' procedures, reproduces every figure of solutions/published.py.

Each figure is computed by :func:`solutions.published.reproduce` (the reference solutions, the stated
seeds) and compared with the value typed once, from the write-up, in ``published.FIGURES``. Both lines
are deterministic on CPU, so the rounded figures must match exactly.
"""

from __future__ import annotations

import pytest
import torch
from sklearn.linear_model import LogisticRegression

from solutions import published as pub
from solutions.ch1_titanic import Split
from solutions.ch2_gradient_descent import TrainResult
from solutions.ch6_deep import Baselines, calc_preds_deep, collapse_linear_layers
from solutions.published import FIGURES, reproduce, run_line_c, run_line_f

#: The chapter each figure belongs to (its pytest marker).
CHAPTER_OF = {
    "line_f_first_mae": "ch2", "line_f_first_step_mae": "ch2", "line_f_linear_first_losses": "ch2",
    "line_f_linear_accuracy": "ch2", "line_c_linear_accuracy": "ch2",
    "line_f_sigmoid_accuracy": "ch3", "line_c_sigmoid_accuracy": "ch3",
    "line_c_linear_regression_coef_accuracy": "ch3",
    "line_f_matrix_accuracy": "ch4",
    "line_f_nn_first_losses": "ch5", "line_f_nn_accuracy": "ch5", "line_c_nn_accuracy": "ch5",
    "line_f_deep_accuracy": "ch6", "line_c_deep_accuracy": "ch6", "line_c_logistic_accuracy": "ch6",
    "line_c_lightgbm_accuracy": "ch6",
}


def test_every_figure_has_a_chapter_and_a_recipe() -> None:
    assert set(CHAPTER_OF) == set(FIGURES)
    assert set(pub._COMPUTE) == set(FIGURES)


@pytest.mark.parametrize("name", [pytest.param(n, marks=getattr(pytest.mark, CHAPTER_OF[n])) for n in FIGURES])
def test_reference_reproduces_the_published_figure(name: str) -> None:
    computed = reproduce(name)
    fig = FIGURES[name]
    assert pub.matches(name, computed), f"{name}: computed {computed}, published {fig.value} ({fig.places} places)"
    assert f"line {fig.line}," in pub.caption(name, computed)


def test_matches_rejects_a_figure_off_in_its_last_place() -> None:
    """The comparison can fail: one unit in the last published place is a mismatch."""
    fig = FIGURES["line_c_linear_accuracy"]
    assert pub.matches("line_c_linear_accuracy", fig.value)
    assert not pub.matches("line_c_linear_accuracy", fig.value + 10 ** -fig.places)
    assert not pub.matches("line_f_nn_first_losses", (0.543, 0.400, 0.261, 0.390))


@pytest.mark.ch2
def test_first_steps_gradients_accumulate() -> None:
    """Each ``backward()`` adds the same gradient again: after two it is doubled, after three tripled."""
    steps = pub.line_f_first_steps()
    once, twice, thrice = steps.grads
    torch.testing.assert_close(twice, 2 * once)
    torch.testing.assert_close(thrice, 3 * once)
    assert steps.loss_after_step < steps.loss


@pytest.mark.ch2
def test_line_c_linear_reports_train_and_validation() -> None:
    run = run_line_c("linear")
    assert len(run.result.losses) == pub.LINE_C_RECIPES["linear"].epochs
    assert 0 < run.train_accuracy <= 1 and run.train_accuracy != run.valid_accuracy


@pytest.fixture(scope="module")
def nn_runs(line_f_split: Split) -> dict[str, tuple[TrainResult, float]]:
    """The one-hidden-layer network at the published and the slow learning rate: (result, val accuracy)."""
    return {name: run_line_f(name, line_f_split) for name in ("nn", "nn_slow")}


@pytest.mark.ch5
def test_line_f_slow_learning_rate_trains_more_slowly(nn_runs: dict[str, tuple[TrainResult, float]]) -> None:
    fast, fast_acc = nn_runs["nn"]
    slow, slow_acc = nn_runs["nn_slow"]
    assert slow.losses[0] == fast.losses[0]  # same start
    assert slow.losses[-1] > fast.losses[-1]
    assert slow_acc < fast_acc


@pytest.mark.ch6
def test_line_c_split_and_baseline_order(line_c_split: Split, line_c_baselines: Baselines) -> None:
    assert (len(line_c_split.trn_x), len(line_c_split.val_x)) == (712, 179)
    # the closing message of line C: the default gradient-boosting model beats the GLM, and the
    # published deep (linear) model beats the GLM only slightly
    deep = reproduce("line_c_deep_accuracy")
    assert line_c_baselines.lightgbm > deep > line_c_baselines.logistic_regression
    assert 100 * (deep / line_c_baselines.logistic_regression - 1) < 5


@pytest.mark.ch6
def test_published_deep_net_is_one_linear_map(line_c_split: Split) -> None:
    """The trained published deep net equals its layers multiplied out: one linear map, which fits the
    training rows less well than the logistic regression (the best linear map for that loss)."""
    run = run_line_c("deep")
    weight, bias = collapse_linear_layers(run.result.coeffs)
    with torch.no_grad():
        deep = pub.LINE_C_RECIPES["deep"].predict(run.result.coeffs, line_c_split.val_x)
        linear = torch.sigmoid(line_c_split.val_x @ weight + bias)
        identity = calc_preds_deep(run.result.coeffs, line_c_split.val_x, lambda t: t)
    torch.testing.assert_close(linear, deep, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(identity, deep)
    glm = LogisticRegression().fit(line_c_split.trn_x.numpy(), line_c_split.trn_y.numpy())
    with torch.no_grad():
        deep_trn = pub.LINE_C_RECIPES["deep"].predict(run.result.coeffs, line_c_split.trn_x)[:, 0]
    glm_trn = torch.tensor(glm.predict_proba(line_c_split.trn_x.numpy())[:, 1], dtype=torch.float32)
    bce = torch.nn.BCELoss()
    assert bce(glm_trn, line_c_split.trn_y) < bce(deep_trn, line_c_split.trn_y)
