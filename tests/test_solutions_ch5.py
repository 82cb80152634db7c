"""Chapter 5's network: activations against torch's, predictions against numpy, gradients by gradcheck."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from solutions import ch5_neural_net as ch5
from solutions.ch2_gradient_descent import parameters

pytestmark = pytest.mark.ch5

Unary = Callable[[torch.Tensor], torch.Tensor]


def check_activation(activation: Unary, reference: Unary) -> None:
    """Values and gradients equal torch's version on a grid through zero."""
    x = torch.linspace(-6, 6, 121, dtype=torch.float64, requires_grad=True)
    ref_x = x.detach().clone().requires_grad_()
    out, ref = activation(x), reference(ref_x)
    torch.testing.assert_close(out, ref)
    out.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(x.grad, ref_x.grad)


@pytest.mark.parametrize("ours, theirs", [(ch5.relu, F.relu), (ch5.mish, F.mish)], ids=["relu", "mish"])
def test_activation_equals_torch(ours: Unary, theirs: Unary) -> None:
    check_activation(ours, theirs)


@given(st.lists(st.floats(-50, 50), min_size=1, max_size=20))
def test_activation_properties(values: list[float]) -> None:
    x = torch.tensor(values, dtype=torch.float64)
    torch.testing.assert_close(ch5.relu(x), F.relu(x))
    torch.testing.assert_close(ch5.mish(x), F.mish(x))
    assert bool((ch5.relu(x) >= 0).all())
    assert bool((ch5.mish(x) >= -0.31).all())  # mish's minimum is about -0.3088
    assert bool((ch5.mish(x) <= torch.clamp(x, min=0) + 1e-12).all())


@pytest.mark.parametrize("reference, broken", [
    pytest.param(F.relu, lambda x: x.clamp(max=0), id="relu-clamps-wrong-side"),
    pytest.param(F.relu, lambda x: x.abs(), id="relu-abs"),
    pytest.param(F.mish, lambda x: x * torch.tanh(x), id="mish-no-softplus"),
    pytest.param(F.mish, lambda x: x * torch.sigmoid(F.softplus(x)), id="mish-sigmoid"),
])
def test_activation_check_catches_mutants(reference: Unary, broken: Unary) -> None:
    with pytest.raises(AssertionError):
        check_activation(broken, reference)


def test_init_coeffs_nn() -> None:
    torch.manual_seed(11)
    layer1, layer2, const = ch5.init_coeffs_nn(12)
    torch.manual_seed(11)
    expected = ((torch.rand(12, 20) - 0.5) / 20, torch.rand(20, 1) - 0.3, torch.rand(1)[0])
    for got, want in zip((layer1, layer2, const), expected):
        assert got.requires_grad and got.is_leaf
        torch.testing.assert_close(got.detach(), want)
    assert const.shape == ()
    assert float(layer1.detach().abs().max()) <= 0.5 / 20
    assert len(parameters(ch5.init_coeffs_nn(3, n_hidden=4))) == 3


def numpy_nn(coeffs: ch5.NNCoeffs, x: torch.Tensor) -> np.ndarray:
    """The one-hidden-layer network in float64 numpy, written from the formula."""
    l1, l2, c = (t.detach().double().numpy() for t in coeffs)
    hidden = np.maximum(x.double().numpy() @ l1, 0)
    return 1 / (1 + np.exp(-(hidden @ l2 + c)))


@given(st.integers(1, 8), st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**16))
def test_calc_preds_nn_matches_numpy(rows: int, cols: int, hidden: int, seed: int) -> None:
    torch.manual_seed(seed)
    coeffs = ch5.init_coeffs_nn(cols, n_hidden=hidden)
    x = torch.randn(rows, cols)
    out = ch5.calc_preds_nn(coeffs, x)
    assert out.shape == (rows, 1)
    np.testing.assert_allclose(out.detach().numpy(), numpy_nn(coeffs, x), rtol=1e-5, atol=1e-6)


def test_calc_preds_nn_uses_the_activation() -> None:
    torch.manual_seed(0)
    coeffs = ch5.init_coeffs_nn(4, n_hidden=3)
    x = torch.randn(6, 4)
    l1, l2, c = coeffs
    expected = torch.sigmoid(F.mish(x @ l1) @ l2 + c)
    torch.testing.assert_close(ch5.calc_preds_nn(coeffs, x, activation=F.mish), expected)


def test_calc_preds_nn_gradients_by_finite_differences() -> None:
    torch.manual_seed(1)
    coeffs = tuple(t.detach().double().requires_grad_() for t in ch5.init_coeffs_nn(4, n_hidden=3))
    x = torch.rand(5, 4, dtype=torch.float64)
    # mish is smooth, so central differences are reliable everywhere (relu has a kink at 0)
    assert torch.autograd.gradcheck(lambda *c: ch5.calc_preds_nn(c, x, activation=F.mish), coeffs)


def test_one_epoch_nn_is_chapter_2s_epoch_with_the_network() -> None:
    """Same steps as one_epoch with calc_preds_nn (and its activation) and the targets as a column."""
    from functools import partial

    from solutions.ch2_gradient_descent import one_epoch

    g = torch.Generator().manual_seed(4)
    x, y = torch.rand(8, 3, generator=g) * 2 - 0.5, (torch.rand(8, generator=g) > 0.5).float()
    start = (torch.rand(3, 5, generator=g) - 0.5, torch.rand(5, 1, generator=g) - 0.3, torch.rand((), generator=g))
    a = tuple(t.clone().requires_grad_() for t in start)
    b = tuple(t.clone().requires_grad_() for t in start)
    for _ in range(4):
        assert ch5.one_epoch_nn(a, x, y, 3.0, ch5.mish) == \
            one_epoch(b, x, y[:, None], 3.0, partial(ch5.calc_preds_nn, activation=ch5.mish))
    for s, t in zip(a, b):
        assert torch.equal(s.detach(), t.detach()) and torch.equal(s.grad, t.grad)
