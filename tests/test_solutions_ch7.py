"""Chapter 7: three ways to solve least squares agree with numpy; gradient descent meets the closed form."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from solutions import ch7_normal_equation as ch7
from solutions.ch1_titanic import standardise
from solutions.paths import SOURDOUGH_CSV

pytestmark = pytest.mark.ch7

Solver = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SOLVERS = [ch7.normal_equation, ch7.solve_normal_equation, ch7.lstsq]


def well_posed_problem(rows: int, cols: int, outputs: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A float64 least-squares problem with an intercept column and full column rank."""
    g = torch.Generator().manual_seed(seed)
    x = ch7.add_intercept(torch.randn(rows, cols, generator=g, dtype=torch.float64))
    y = torch.randn(rows, outputs, generator=g, dtype=torch.float64)
    return x, y


def check_solver(solver: Solver, rows: int = 12, cols: int = 3, outputs: int = 2, seed: int = 0) -> None:
    """The solver's theta equals numpy's ``lstsq`` and satisfies the normal equation ``X^T (X theta - y) = 0``."""
    x, y = well_posed_problem(rows, cols, outputs, seed)
    theta = solver(x, y)
    expected, *_ = np.linalg.lstsq(x.numpy(), y.numpy(), rcond=None)
    np.testing.assert_allclose(theta.numpy(), expected, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(x.T @ (x @ theta - y), torch.zeros_like(theta), atol=1e-9, rtol=0)


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda f: f.__name__)
def test_solver_matches_numpy(solver: Solver) -> None:
    check_solver(solver)


@given(st.integers(1, 5), st.integers(1, 3), st.integers(0, 2**16), st.data())
def test_solvers_agree(cols: int, outputs: int, seed: int, data: st.DataObject) -> None:
    rows = data.draw(st.integers(cols + 4, 30))
    x, y = well_posed_problem(rows, cols, outputs, seed)
    assert torch.linalg.cond(x) < 1e3  # Gaussian designs this tall are well conditioned
    expected, *_ = np.linalg.lstsq(x.numpy(), y.numpy(), rcond=None)
    for solver in SOLVERS:
        theta = solver(x, y)
        assert theta.shape == (cols + 1, outputs)
        np.testing.assert_allclose(theta.numpy(), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("broken", [
    pytest.param(lambda x, y: torch.linalg.inv(x.T @ x) @ y[: x.shape[1]], id="drops-xt"),
    pytest.param(lambda x, y: torch.linalg.pinv(x) @ y * 0.99, id="scaled"),
    pytest.param(lambda x, y: torch.linalg.lstsq(x[:, 1:], y).solution, id="no-intercept"),
])
def test_solver_check_catches_mutants(broken: Solver) -> None:
    with pytest.raises(AssertionError):
        check_solver(broken)


def test_add_intercept() -> None:
    x = torch.arange(6.0).reshape(3, 2)
    out = ch7.add_intercept(x)
    assert out.shape == (3, 3) and out.dtype == x.dtype
    assert torch.equal(out[:, 0], torch.ones(3)) and torch.equal(out[:, 1:], x)


def test_autograd_one_number_brief_example() -> None:
    assert ch7.autograd_one_number() == (5.0, 2.0)


@given(st.integers(-20, 20), st.integers(-20, 20), st.integers(-20, 20))
def test_autograd_one_number_is_w_x_plus_b(w: int, x: int, b: int) -> None:
    y, dy_dx = ch7.autograd_one_number(float(w), float(x), float(b))
    assert (y, dy_dx) == (w * x + b, w)


def test_load_sourdough_matches_pandas() -> None:
    x, y = ch7.load_sourdough()
    df = pd.read_csv(SOURDOUGH_CSV)
    assert x.shape == (len(df), 3) and y.shape == (len(df), 2)
    assert x.dtype == y.dtype == torch.float32
    np.testing.assert_allclose(x.numpy(), df[list(ch7.SOURDOUGH_INPUTS)].to_numpy(dtype="float32"))
    np.testing.assert_allclose(y.numpy(), df[list(ch7.SOURDOUGH_OUTPUTS)].to_numpy(dtype="float32"))


@given(st.integers(1, 6), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**16))
def test_linear_model_equals_f_linear(rows: int, n_in: int, n_out: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x, w, b = (torch.randn(*s, generator=g) for s in ((rows, n_in), (n_out, n_in), (n_out,)))
    out = ch7.linear_model(x, w, b)
    assert out.shape == (rows, n_out)
    torch.testing.assert_close(out, F.linear(x, w, b))


@pytest.fixture(scope="module")
def sourdough_standardised() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = ch7.load_sourdough()
    return standardise(x), y


def test_gradient_descent_reaches_the_normal_equation(sourdough_standardised: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = sourdough_standardised
    gd = ch7.fit_gradient_descent(x, y)
    exact = ch7.fit_normal_equation(x, y)
    assert gd.weight.shape == exact.weight.shape == (2, 3)
    assert gd.bias.shape == exact.bias.shape == (2,)
    assert len(gd.losses) == ch7.SOURDOUGH_EPOCHS
    # on standardised inputs 500 steps at lr 0.1 converge to float32 precision
    torch.testing.assert_close(gd.weight, exact.weight, atol=1e-4, rtol=0)
    torch.testing.assert_close(gd.bias, exact.bias, atol=1e-4, rtol=0)
    assert gd.losses[-1] == pytest.approx(exact.losses[0], rel=1e-4)
    assert gd.losses[0] > 10 * gd.losses[-1]
    assert all(a >= b - 1e-7 for a, b in zip(gd.losses, gd.losses[1:]))  # MSE falls at every step


def test_normal_equation_fit_is_the_minimum(sourdough_standardised: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = sourdough_standardised
    exact = ch7.fit_normal_equation(x, y)
    theta, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(x)), x.double().numpy()]), y.double().numpy(), rcond=None)
    np.testing.assert_allclose(exact.bias.numpy(), theta[0], atol=1e-4)
    np.testing.assert_allclose(exact.weight.numpy(), theta[1:].T, atol=1e-4)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):  # any nudge of the weights raises the loss
        nudged = exact.weight + 0.01 * torch.randn(exact.weight.shape, generator=g)
        assert float(((ch7.linear_model(x, nudged, exact.bias) - y) ** 2).mean()) > exact.losses[0]


def test_fit_gradient_descent_is_chapter_2s_train_model() -> None:
    """fit_linear_gd from a seeded normal start reproduces train_model with the sourdough model, bit for bit."""
    from solutions.ch2_gradient_descent import mse_loss, train_model

    g = torch.Generator().manual_seed(11)
    x, y = torch.randn(15, 3, generator=g), torch.randn(15, 2, generator=g)

    def init(n_inputs: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(2, n_inputs, requires_grad=True), torch.randn(2, requires_grad=True)

    ref = train_model(x, y, 25, 0.1, init=init, predict=lambda c, inp: ch7.linear_model(inp, *c),
                      loss_fn=mse_loss, seed=ch7.SOURDOUGH_SEED)
    fit = ch7.fit_gradient_descent(x, y, 25, 0.1)
    assert fit.losses == ref.losses
    assert torch.equal(fit.weight, ref.coeffs[0].detach()) and torch.equal(fit.bias, ref.coeffs[1].detach())


def test_fit_linear_gd_leaves_its_start_alone() -> None:
    weight, bias = torch.zeros(1, 2), torch.zeros(1)
    w, b, losses = ch7.fit_linear_gd(torch.ones(3, 2), torch.ones(3, 1), weight, bias, 0.1, 4)
    assert len(losses) == 4 and losses[0] == 1.0 and losses[-1] < losses[0]
    assert torch.equal(weight, torch.zeros(1, 2)) and not w.requires_grad and not b.requires_grad
