"""Chapter 6's deep network against the one-layer models, and the baselines computed another way."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression

from solutions import ch6_deep as ch6
from solutions.ch1_titanic import Split
from solutions.ch2_gradient_descent import parameters
from solutions.ch5_neural_net import calc_preds_nn

pytestmark = pytest.mark.ch6


def test_init_coeffs_deep_draw_order_and_shapes() -> None:
    torch.manual_seed(4)
    layers, consts = ch6.init_coeffs_deep(12, (10, 10))
    torch.manual_seed(4)
    sizes = [12, 10, 10, 1]
    want_layers = [(torch.rand(sizes[i], sizes[i + 1]) - 0.3) / sizes[i + 1] * 4 for i in range(3)]
    want_consts = [(torch.rand(1)[0] - 0.5) * 0.1 for _ in range(3)]
    assert [tuple(t.shape) for t in layers] == [(12, 10), (10, 10), (10, 1)]
    assert all(c.shape == () for c in consts)
    for got, want in zip(layers + consts, want_layers + want_consts):
        assert got.requires_grad and got.is_leaf
        torch.testing.assert_close(got.detach(), want)


@given(st.lists(st.integers(1, 6), max_size=3), st.integers(1, 5))
def test_init_coeffs_deep_parameter_count(hiddens: list[int], n_in: int) -> None:
    coeffs = ch6.init_coeffs_deep(n_in, hiddens)
    flat = parameters(coeffs)
    assert len(flat) == 2 * (len(hiddens) + 1)
    sizes = [n_in, *hiddens, 1]
    assert sum(t.numel() for t in flat) == sum(a * b + 1 for a, b in zip(sizes, sizes[1:]))


def test_deep_with_one_hidden_layer_is_the_chapter_5_network() -> None:
    """With hiddens (h,) and a zero first constant, the deep model is ``calc_preds_nn``."""
    torch.manual_seed(2)
    layers, consts = ch6.init_coeffs_deep(5, (7,))
    consts[0] = torch.tensor(0.0)
    x = torch.randn(9, 5)
    for activation in (F.relu, F.mish):
        deep = ch6.calc_preds_deep((layers, consts), x, activation)
        torch.testing.assert_close(deep, calc_preds_nn((layers[0], layers[1], consts[1]), x, activation))


def test_deep_with_no_hidden_layer_is_logistic() -> None:
    torch.manual_seed(3)
    (layer,), (const,) = ch6.init_coeffs_deep(4, ())
    x = torch.randn(6, 4)
    torch.testing.assert_close(ch6.calc_preds_deep(([layer], [const]), x), torch.sigmoid(x @ layer + const))


def test_calc_preds_deep_matches_a_layer_loop_in_numpy() -> None:
    torch.manual_seed(5)
    layers, consts = ch6.init_coeffs_deep(6, (4, 3, 2))
    x = torch.randn(8, 6)
    res = x.double().numpy()
    for i, (w, c) in enumerate(zip(layers, consts)):
        res = res @ w.detach().double().numpy() + float(c.detach())
        if i < len(layers) - 1:
            res = np.maximum(res, 0)
    np.testing.assert_allclose(ch6.calc_preds_deep((layers, consts), x).detach().numpy(), 1 / (1 + np.exp(-res)),
                               rtol=1e-5, atol=1e-6)


def test_calc_preds_deep_gradients_by_finite_differences() -> None:
    torch.manual_seed(6)
    layers, consts = ch6.init_coeffs_deep(3, (4, 2))
    flat = [t.detach().double().requires_grad_() for t in layers + consts]
    x = torch.rand(5, 3, dtype=torch.float64)
    n = len(layers)
    assert torch.autograd.gradcheck(
        lambda *p: ch6.calc_preds_deep((list(p[:n]), list(p[n:])), x, F.mish), tuple(flat))


def test_baselines_computed_another_way(line_c_split: Split, line_c_baselines: ch6.Baselines) -> None:
    """``baseline_accuracies`` equals each model's own ``score`` and a numpy least-squares fit."""
    got = line_c_baselines
    xt, yt, xv, yv = (t.numpy() for t in line_c_split)
    assert got.logistic_regression == pytest.approx(LogisticRegression().fit(xt, yt).score(xv, yv), abs=1e-12)
    assert got.lightgbm == pytest.approx(LGBMClassifier(verbose=-1).fit(xt, yt).score(xv, yv), abs=1e-12)
    design = np.column_stack([np.ones(len(xt)), xt]).astype(np.float64)
    theta, *_ = np.linalg.lstsq(design, yt.astype(np.float64), rcond=None)
    preds = np.column_stack([np.ones(len(xv)), xv]) @ theta
    # float32 against float64 fits could disagree on a prediction within 1e-5 of the cut; none does here
    assert got.linear_regression == pytest.approx(float(((preds > 0.5) == yv.astype(bool)).mean()), abs=1e-12)
    for acc in got:
        assert 0 <= acc <= 1 and acc * len(yv) == pytest.approx(round(acc * len(yv)))


@given(st.floats(0.01, 10), st.floats(0, 10))
def test_improvement_over(reference: float, value: float) -> None:
    assert ch6.improvement_over(reference, reference) == 0
    assert ch6.improvement_over(reference, 2 * reference) == pytest.approx(100)
    got = ch6.improvement_over(reference, value)
    assert reference * (1 + got / 100) == pytest.approx(value, abs=1e-9)


@given(st.lists(st.integers(1, 6), max_size=3), st.integers(1, 5), st.integers(0, 2**16))
def test_published_calc_preds_applies_no_activation(hiddens: list[int], n_in: int, seed: int) -> None:
    """The write-up's printed ``calc_preds`` (Mish line after the loop) is the deep net with no activation."""
    torch.manual_seed(seed)
    coeffs = ch6.init_coeffs_deep(n_in, hiddens)
    x = torch.randn(7, n_in)
    with torch.no_grad():
        torch.testing.assert_close(ch6.calc_preds_deep_as_published(coeffs, x),
                                   ch6.calc_preds_deep(coeffs, x, lambda t: t))
        if hiddens:  # with a hidden layer, Mish inside the loop is a different model
            assert not torch.allclose(ch6.calc_preds_deep_as_published(coeffs, x),
                                      ch6.calc_preds_deep(coeffs, x, F.mish), atol=1e-7)


@given(st.lists(st.integers(1, 6), max_size=3), st.integers(1, 5), st.integers(0, 2**16))
def test_collapse_linear_layers_is_the_product_of_the_layers(hiddens: list[int], n_in: int, seed: int) -> None:
    """Multiplied out in float64 by numpy, layer by layer: the same weight, bias and predictions."""
    torch.manual_seed(seed)
    layers, consts = ch6.init_coeffs_deep(n_in, hiddens)
    weight, bias = ch6.collapse_linear_layers((layers, consts))
    assert weight.shape == (n_in, 1) and bias.shape == (1,) and not weight.requires_grad
    # affine maps compose: [x 1] @ [[W, 0], [c, 1]] per layer, in homogeneous coordinates
    total = np.eye(n_in + 1)
    for w, c in zip(layers, consts):
        w64 = w.detach().double().numpy()
        step = np.zeros((w64.shape[0] + 1, w64.shape[1] + 1))
        step[:-1, :-1], step[-1, :-1], step[-1, -1] = w64, float(c.detach()), 1.0
        total = total @ step
    np.testing.assert_allclose(weight.double().numpy(), total[:-1, :-1], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bias.double().numpy(), total[-1, :-1], rtol=1e-4, atol=1e-6)
    x = torch.randn(9, n_in)
    with torch.no_grad():
        torch.testing.assert_close(torch.sigmoid(x @ weight + bias), ch6.calc_preds_deep_as_published((layers, consts), x),
                                   rtol=1e-4, atol=1e-5)


def test_dead_units_counts_units_that_never_fire() -> None:
    """A unit whose relu output is 0 on every row is dead; one that fires on a single row is not."""
    layers = [torch.tensor([[1.0, -1.0, 0.0]]), torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]),
              torch.tensor([[1.0], [1.0]])]
    consts = [torch.tensor(0.0), torch.tensor(-10.0), torch.tensor(0.0)]
    x = torch.tensor([[1.0], [2.0], [-1.0]])  # unit 1 fires on the last row only; unit 2 never (its sum is 0)
    assert ch6.dead_units((layers, consts), x) == [1, 2]
    assert ch6.dead_units(([torch.ones(2, 1)], [torch.tensor(0.0)]), torch.ones(3, 2)) == []
