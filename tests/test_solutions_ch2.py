"""Chapter 2's reference functions against hand-derived gradients, torch's own losses and numpy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from solutions import ch2_gradient_descent as ch2
from solutions.ch1_titanic import Split
from solutions.ch4_matrix import weighted_sum_loop

pytestmark = pytest.mark.ch2

Predict = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def random_problem(seed: int, rows: int = 7, cols: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features, 0/1 targets and coefficients from a private generator (float64)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(rows, cols, generator=g, dtype=torch.float64)
    y = (torch.rand(rows, generator=g) > 0.5).double()
    c = torch.rand(cols, generator=g, dtype=torch.float64) - 0.5
    return x, y, c


# --- predictions ---------------------------------------------------------------------------------

def check_calc_preds(calc_preds: Predict, seed: int = 0) -> None:
    """``calc_preds`` equals ``X @ c`` and the plain Python loop, and is linear in the coefficients."""
    x, _, c = random_problem(seed)
    preds = calc_preds(c, x)
    assert preds.shape == (x.shape[0],)
    torch.testing.assert_close(preds, x @ c)
    torch.testing.assert_close(preds, weighted_sum_loop(c, x))
    c2 = torch.rand(c.shape, dtype=c.dtype, generator=torch.Generator().manual_seed(seed + 1))
    torch.testing.assert_close(calc_preds(2 * c - 3 * c2, x), 2 * preds - 3 * calc_preds(c2, x))


@pytest.mark.parametrize("seed", range(3))
def test_calc_preds(seed: int) -> None:
    check_calc_preds(ch2.calc_preds, seed)


@given(st.integers(1, 9), st.integers(1, 6), st.integers(0, 2**16),
       st.floats(-5, 5), st.floats(-5, 5))
def test_calc_preds_shape_and_linearity(rows: int, cols: int, seed: int, a: float, b: float) -> None:
    x, _, c1 = random_problem(seed, rows, cols)
    c2 = torch.randn(cols, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    assert ch2.calc_preds(c1, x).shape == (rows,)
    torch.testing.assert_close(ch2.calc_preds(a * c1 + b * c2, x),
                               a * ch2.calc_preds(c1, x) + b * ch2.calc_preds(c2, x))


@pytest.mark.parametrize("broken", [
    pytest.param(lambda c, x: (x * c).sum(axis=0), id="wrong-axis"),
    pytest.param(lambda c, x: (x * c).mean(axis=1), id="mean-not-sum"),
    pytest.param(lambda c, x: (x * c).sum(axis=1) + 1, id="offset"),
])
def test_calc_preds_check_catches_mutants(broken: Predict) -> None:
    with pytest.raises(AssertionError):
        check_calc_preds(broken)


# --- losses and their gradients -------------------------------------------------------------------

def hand_gradient(loss_name: str, x: torch.Tensor, y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """d loss / d coeffs for the linear model, derived by hand.

    MAE: mean |Xc - y|, gradient X^T sign(Xc - y) / n. MSE: mean (Xc - y)^2, gradient 2 X^T (Xc - y) / n.
    """
    residual = x @ c - y
    if loss_name == "mae":
        return x.T @ torch.sign(residual) / len(y)
    return 2 * x.T @ residual / len(y)


def check_loss(loss_fn: Loss, loss_name: str, seed: int = 0) -> None:
    """The loss equals torch's functional version and its autograd gradient equals the hand one."""
    x, y, c = random_problem(seed)
    torch_version = F.l1_loss if loss_name == "mae" else F.mse_loss
    torch.testing.assert_close(loss_fn(x @ c, y), torch_version(x @ c, y))
    c = c.clone().requires_grad_()
    loss_fn(ch2.calc_preds(c, x), y).backward()
    torch.testing.assert_close(c.grad, hand_gradient(loss_name, x, y, c.detach()))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("loss_name, loss_fn", [("mae", ch2.mae_loss), ("mse", ch2.mse_loss)])
def test_loss_and_gradient(loss_name: str, loss_fn: Loss, seed: int) -> None:
    check_loss(loss_fn, loss_name, seed)


@given(st.lists(st.floats(-100, 100), min_size=1, max_size=20), st.data())
def test_losses_are_non_negative_and_zero_on_targets(preds: list[float], data: st.DataObject) -> None:
    p = torch.tensor(preds, dtype=torch.float64)
    t = torch.tensor(data.draw(st.lists(st.floats(-100, 100), min_size=len(preds), max_size=len(preds))),
                     dtype=torch.float64)
    for loss_fn in (ch2.mae_loss, ch2.mse_loss):
        assert float(loss_fn(p, t)) >= 0
        assert float(loss_fn(p, p)) == 0
    torch.testing.assert_close(ch2.mse_loss(p, t), ((p - t) ** 2).mean())


@pytest.mark.parametrize("loss_name, broken", [
    pytest.param("mae", lambda p, t: (p - t).mean(), id="mae-without-abs"),
    pytest.param("mae", lambda p, t: torch.abs(p - t).sum(), id="mae-sum"),
    pytest.param("mse", lambda p, t: ((p - t) ** 2).mean().sqrt(), id="rmse"),
])
def test_loss_check_catches_mutants(loss_name: str, broken: Loss) -> None:
    with pytest.raises(AssertionError):
        check_loss(broken, loss_name)


# --- update, parameters, init --------------------------------------------------------------------

def check_update_coeffs(update: Callable[..., None]) -> None:
    """One step in place on a tensor and on a list: ``c - lr * grad``, same objects, grads zeroed."""
    lr = 0.3
    tensors = [torch.tensor([1.0, -2.0, 0.5], requires_grad=True), torch.tensor([[3.0], [4.0]], requires_grad=True)]
    for t in tensors:
        (t ** 2).sum().backward()  # grad = 2 t
    expected = [t.detach() - lr * 2 * t.detach() for t in tensors]
    storage = [t.data_ptr() for t in tensors]
    assert update(tensors, lr) is None
    for t, e, ptr in zip(tensors, expected, storage):
        torch.testing.assert_close(t.detach(), e)
        assert t.data_ptr() == ptr, "the update must happen in place"
        assert t.requires_grad and t.is_leaf
        assert t.grad is not None and bool((t.grad == 0).all()), "the gradient must be zeroed, not set to None"
    single = torch.tensor([2.0, 1.0], requires_grad=True)
    (single * torch.tensor([5.0, -1.0])).sum().backward()
    update(single, lr)
    torch.testing.assert_close(single.detach(), torch.tensor([2.0 - 1.5, 1.0 + 0.3]))
    assert bool((single.grad == 0).all())


def test_update_coeffs() -> None:
    check_update_coeffs(ch2.update_coeffs)


def _no_zeroing(coeffs: torch.Tensor | list[torch.Tensor], lr: float) -> None:
    with torch.no_grad():
        for c in coeffs if isinstance(coeffs, list) else [coeffs]:
            c.sub_(c.grad * lr)


def _grad_set_to_none(coeffs: torch.Tensor | list[torch.Tensor], lr: float) -> None:
    with torch.no_grad():
        for c in coeffs if isinstance(coeffs, list) else [coeffs]:
            c.sub_(c.grad * lr)
            c.grad = None


def _ascent(coeffs: torch.Tensor | list[torch.Tensor], lr: float) -> None:
    with torch.no_grad():
        for c in coeffs if isinstance(coeffs, list) else [coeffs]:
            c.add_(c.grad * lr)
            c.grad.zero_()


@pytest.mark.parametrize("broken", [_no_zeroing, _grad_set_to_none, _ascent])
def test_update_check_catches_mutants(broken: Callable[..., None]) -> None:
    with pytest.raises(AssertionError):
        check_update_coeffs(broken)


# Nested coefficient structures: tensors in lists and tuples, as the models of chapters 2 to 6 use.
_leaf = st.integers(1, 4).map(lambda n: torch.zeros(n))
_nested = st.recursive(_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.lists(inner, max_size=3).map(tuple)), max_leaves=8)


def count_leaves(value: object) -> int:
    return 1 if isinstance(value, torch.Tensor) else sum(count_leaves(v) for v in value)  # type: ignore[union-attr]


@given(_nested)
def test_parameters_flattens_every_tensor_once(coeffs: object) -> None:
    flat = ch2.parameters(coeffs)
    assert len(flat) == count_leaves(coeffs)
    assert all(isinstance(t, torch.Tensor) for t in flat)
    assert len({id(t) for t in flat}) == len(flat)  # the same objects, not copies


def test_parameters_rejects_other_things() -> None:
    with pytest.raises(TypeError, match="tensors"):
        ch2.parameters([torch.zeros(2), 3.0])


def test_init_coeffs() -> None:
    torch.manual_seed(7)
    c = ch2.init_coeffs(12)
    torch.manual_seed(7)
    expected = torch.rand(12) - 0.5
    assert c.shape == (12,) and c.requires_grad and c.is_leaf
    torch.testing.assert_close(c.detach(), expected)
    assert float(c.detach().min()) >= -0.5 and float(c.detach().max()) < 0.5


# --- one epoch, training, accuracy ----------------------------------------------------------------

def test_one_epoch_is_one_hand_step() -> None:
    x, y, c0 = random_problem(3)
    lr = 0.2
    c = c0.clone().requires_grad_()
    loss = ch2.one_epoch(c, x, y, lr)
    assert loss == pytest.approx(float(ch2.mae_loss(x @ c0, y)))
    torch.testing.assert_close(c.detach(), c0 - lr * hand_gradient("mae", x, y, c0))
    assert bool((c.grad == 0).all())


def numpy_train_linear(x: np.ndarray, y: np.ndarray, c: np.ndarray, epochs: int, lr: float) -> tuple[np.ndarray, list[float]]:
    """Line F's linear model trained in numpy with the hand-derived MAE gradient: no autograd at all."""
    losses = []
    for _ in range(epochs):
        residual = x @ c - y
        losses.append(float(np.abs(residual).mean()))
        c = c - lr * x.T @ np.sign(residual) / len(y)
    return c, losses


def test_train_model_matches_numpy_with_hand_gradients(line_f_split: Split) -> None:
    x, y = line_f_split.trn_x, line_f_split.trn_y
    result = ch2.train_model(x, y)
    assert len(result.losses) == ch2.LINEAR_EPOCHS
    torch.manual_seed(ch2.TRAIN_SEED)
    c0 = (torch.rand(x.shape[1]) - 0.5).double().numpy()
    coeffs, losses = numpy_train_linear(x.double().numpy(), y.double().numpy(), c0, ch2.LINEAR_EPOCHS, ch2.LINEAR_LR)
    # float32 against float64: agreement to about 1e-5 over 18 epochs
    np.testing.assert_allclose(result.losses, losses, atol=1e-5)
    np.testing.assert_allclose(result.coeffs.detach().numpy(), coeffs, atol=1e-4)
    again = ch2.train_model(x, y)
    assert again.losses == result.losses  # deterministic


@given(st.lists(st.sampled_from([0.0, 1.0]), min_size=1, max_size=30), st.data())
def test_accuracy_properties(targets: list[float], data: st.DataObject) -> None:
    t = torch.tensor(targets)
    preds = torch.tensor(data.draw(st.lists(st.floats(-2, 3, allow_subnormal=False),
                                            min_size=len(targets), max_size=len(targets))))
    acc = ch2.accuracy(preds, t)
    assert 0 <= acc <= 1
    hits = sum((p > 0.5) == bool(y) for p, y in zip(preds.tolist(), targets))
    assert acc == pytest.approx(hits / len(targets))
    assert ch2.accuracy(t, t) == 1.0
    assert ch2.accuracy(1 - t, t) == 0.0


def test_one_epoch_is_loss_backward_and_update() -> None:
    """One epoch returns the loss before the step and leaves the coefficients stepped, gradients zero."""
    x, y, c = random_problem(5)
    coeffs = c.clone().requires_grad_()
    loss = ch2.one_epoch(coeffs, x, y, 0.3)
    expected_loss = ch2.mae_loss(ch2.calc_preds(c, x), y)
    sign = torch.sign(ch2.calc_preds(c, x) - y)
    grad = (sign[:, None] * x).mean(0)  # d/dc of mean |x @ c - y|
    assert loss == pytest.approx(expected_loss.item())
    torch.testing.assert_close(coeffs.detach(), c - 0.3 * grad)
    assert torch.equal(coeffs.grad, torch.zeros_like(c))


def test_update_coeffs_walks_nested_lists() -> None:
    tensors = [torch.ones(2, 3).requires_grad_(), torch.ones(3).requires_grad_(), torch.ones(()).requires_grad_()]
    for t in tensors:
        t.grad = torch.full_like(t, 2.0)
    ch2.update_coeffs(([tensors[0], tensors[1]], [tensors[2]]), 0.25)
    for t in tensors:
        assert torch.equal(t.detach(), torch.full_like(t, 0.5)) and torch.equal(t.grad, torch.zeros_like(t))
