"""Chapter 4's matrix-product model: the loop, the element-wise sum and ``@`` agree."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from solutions import ch4_matrix as ch4
from solutions.ch1_titanic import Split
from solutions.ch2_gradient_descent import calc_preds, train_model
from solutions.ch3_sigmoid import calc_preds_sigmoid

pytestmark = pytest.mark.ch4

Predict = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def check_weighted_sum_loop(loop: Predict, rows: int = 5, cols: int = 3, seed: int = 0) -> None:
    """The loop equals ``calc_preds`` (element-wise product and sum) and ``X @ w``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, cols, generator=g, dtype=torch.float64)
    w = torch.randn(cols, generator=g, dtype=torch.float64)
    out = loop(w, x)
    torch.testing.assert_close(out, x @ w)
    torch.testing.assert_close(out, calc_preds(w, x))


@given(st.integers(1, 8), st.integers(1, 6), st.integers(0, 2**16))
def test_weighted_sum_loop_equals_calc_preds_equals_matmul(rows: int, cols: int, seed: int) -> None:
    check_weighted_sum_loop(ch4.weighted_sum_loop, rows, cols, seed)


def test_weighted_sum_loop_is_differentiable() -> None:
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    w = torch.randn(3, requires_grad=True)
    ch4.weighted_sum_loop(w, x).sum().backward()
    torch.testing.assert_close(w.grad, x.sum(0))


@pytest.mark.parametrize("broken", [
    pytest.param(lambda w, x: torch.stack([(row * w).sum() for row in x[:-1]]), id="skips-last-row"),
    pytest.param(lambda w, x: torch.stack([(row[:-1] * w[:-1]).sum() for row in x]), id="skips-last-column"),
    pytest.param(lambda w, x: torch.stack([(row * w.flip(0)).sum() for row in x]), id="weights-reversed"),
])
def test_weighted_sum_check_catches_mutants(broken: Predict) -> None:
    with pytest.raises(AssertionError):
        check_weighted_sum_loop(broken)


def test_init_coeffs_matrix() -> None:
    torch.manual_seed(3)
    c = ch4.init_coeffs_matrix(12)
    torch.manual_seed(3)
    expected = torch.rand(12, 1) * 0.1
    assert c.shape == (12, 1) and c.requires_grad and c.is_leaf
    torch.testing.assert_close(c.detach(), expected)
    assert 0 <= float(c.detach().min()) and float(c.detach().max()) < 0.1


@given(st.integers(1, 8), st.integers(1, 6), st.integers(0, 2**16))
def test_calc_preds_matrix_is_a_column_of_sigmoid_preds(rows: int, cols: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x, w = torch.randn(rows, cols, generator=g), torch.randn(cols, generator=g)
    out = ch4.calc_preds_matrix(w[:, None], x)
    assert out.shape == (rows, 1)
    torch.testing.assert_close(out[:, 0], calc_preds_sigmoid(w, x))


def test_matrix_model_trains_like_the_sigmoid_model(line_f_split: Split) -> None:
    """From the same starting coefficients, the column version follows the vector version exactly."""
    x, y = line_f_split.trn_x, line_f_split.trn_y
    start = torch.rand(x.shape[1], generator=torch.Generator().manual_seed(5)) * 0.1
    vector = train_model(x, y, epochs=10, lr=100, init=lambda n: start.clone().requires_grad_(),
                         predict=calc_preds_sigmoid)
    column = train_model(x, y[:, None], epochs=10, lr=100, init=lambda n: start[:, None].clone().requires_grad_(),
                         predict=ch4.calc_preds_matrix)
    torch.testing.assert_close(column.coeffs.detach()[:, 0], vector.coeffs.detach(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(torch.tensor(column.losses), torch.tensor(vector.losses), rtol=1e-4, atol=1e-5)


def test_one_epoch_matrix_is_chapter_2s_epoch_with_the_matrix_model() -> None:
    """Same steps as one_epoch with calc_preds_matrix and the targets as a column."""
    from solutions.ch2_gradient_descent import one_epoch

    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(9, 4, generator=g), (torch.rand(9, generator=g) > 0.5).float()
    start = torch.rand(4, 1, generator=g) - 0.5
    a, b = start.clone().requires_grad_(), start.clone().requires_grad_()
    for _ in range(5):
        assert ch4.one_epoch_matrix(a, x, y, 2.0) == one_epoch(b, x, y[:, None], 2.0, ch4.calc_preds_matrix)
    assert torch.equal(a.detach(), b.detach()) and torch.equal(a.grad, b.grad)
