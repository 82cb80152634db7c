"""Chapter 8: the ``torch.nn`` rewrite reaches the hand-made models' losses and weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from solutions import ch8_modules as ch8
from solutions.ch1_titanic import Split, standardise
from solutions.ch2_gradient_descent import TRAIN_SEED, Coeffs, InitFn, accuracy, mae_loss, parameters, train_model
from solutions.ch4_matrix import calc_preds_matrix, init_coeffs_matrix
from solutions.ch5_neural_net import NN_EPOCHS, NN_LR, calc_preds_nn, init_coeffs_nn
from solutions.ch7_normal_equation import SOURDOUGH_EPOCHS, SOURDOUGH_LR, SOURDOUGH_SEED, LinearFit, load_sourdough

pytestmark = pytest.mark.ch8

#: Training the same model two ways differs only in float32 rounding (nn.Linear multiplies by the
#: transposed weight); over these runs they stay below 1e-6 (observed: 3e-8 in the losses, 4e-7 in the
#: weights of the 30-epoch network at lr 20), so 1e-4 leaves room for other CPUs and BLAS builds.
TRAIN_ATOL = 1e-4


def seeded(init: InitFn, n_features: int, seed: int = TRAIN_SEED) -> Coeffs:
    """The hand-made initial coefficients that ``train_model`` starts from with ``seed``."""
    torch.manual_seed(seed)
    return init(n_features)


def test_pick_device() -> None:
    device = ch8.pick_device()
    assert isinstance(device, torch.device)
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_one_hidden_layer_forward_equals_hand_made() -> None:
    coeffs = seeded(init_coeffs_nn, 12)
    model = ch8.OneHiddenLayer(12)
    ch8.load_hand_made_nn(model, coeffs)
    x = torch.rand(7, 12, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model(x), calc_preds_nn(coeffs, x))
    # the same number of tensors and of numbers as the hand-made coefficients
    assert len(list(model.parameters())) == len(parameters(coeffs)) == 3
    assert sum(p.numel() for p in model.parameters()) == sum(t.numel() for t in parameters(coeffs))


def test_one_hidden_layer_trains_like_hand_made(line_f_split: Split) -> None:
    x, y = line_f_split.trn_x, line_f_split.trn_y[:, None]
    hand = train_model(x, y, epochs=NN_EPOCHS, lr=NN_LR, init=init_coeffs_nn, predict=calc_preds_nn)
    model = ch8.OneHiddenLayer(x.shape[1])
    ch8.load_hand_made_nn(model, seeded(init_coeffs_nn, x.shape[1]))
    losses = ch8.train_full_batch(model, x, y, epochs=NN_EPOCHS, lr=NN_LR, criterion=nn.L1Loss())
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(hand.losses), atol=TRAIN_ATOL, rtol=0)
    layer1, layer2, const = hand.coeffs
    torch.testing.assert_close(model.hidden.weight.detach(), layer1.detach().T, atol=TRAIN_ATOL, rtol=0)
    torch.testing.assert_close(model.output.weight.detach(), layer2.detach().T, atol=TRAIN_ATOL, rtol=0)
    torch.testing.assert_close(model.output.bias.detach(), const.detach().reshape(1), atol=TRAIN_ATOL, rtol=0)
    assert ch8.predict_accuracy(model, line_f_split.val_x, line_f_split.val_y[:, None]) == accuracy(
        calc_preds_nn(hand.coeffs, line_f_split.val_x), line_f_split.val_y[:, None])


def test_linear_sigmoid_trains_like_the_matrix_model(line_f_split: Split) -> None:
    x, y = line_f_split.trn_x, line_f_split.trn_y[:, None]
    hand = train_model(x, y, epochs=30, lr=100, init=init_coeffs_matrix, predict=calc_preds_matrix)
    model = ch8.LinearSigmoid(x.shape[1])
    with torch.no_grad():
        model.linear.weight.copy_(seeded(init_coeffs_matrix, x.shape[1]).T)
    losses = ch8.train_full_batch(model, x, y, epochs=30, lr=100)  # default criterion: L1, the hand-made MAE
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(hand.losses), atol=TRAIN_ATOL, rtol=0)
    torch.testing.assert_close(model.linear.weight.detach(), hand.coeffs.detach().T, atol=TRAIN_ATOL, rtol=0)


def test_l1_criterion_is_the_hand_made_mae() -> None:
    g = torch.Generator().manual_seed(1)
    p, t = torch.rand(9, 1, generator=g), torch.rand(9, 1, generator=g)
    torch.testing.assert_close(nn.L1Loss()(p, t), mae_loss(p, t))


def hand_adam_full_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float) -> list[float]:
    """Adam on the whole batch with BCE, written out without a data loader."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_train_minibatch_with_one_batch_is_full_batch_adam(line_f_split: Split) -> None:
    """With a batch as large as the data, the shuffled loader changes only the row order."""
    x, y = line_f_split.trn_x, line_f_split.trn_y[:, None]
    torch.manual_seed(0)
    a = ch8.OneHiddenLayer(x.shape[1])
    b = ch8.OneHiddenLayer(x.shape[1])
    b.load_state_dict(a.state_dict())
    got = ch8.train_minibatch(a, x, y, epochs=5, lr=0.01, batch_size=len(x), device=torch.device("cpu"))
    want = hand_adam_full_batch(b, x, y, epochs=5, lr=0.01)
    torch.testing.assert_close(torch.tensor(got), torch.tensor(want), atol=1e-5, rtol=0)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, atol=1e-5, rtol=0)


def test_train_minibatch_is_seeded_and_learns(line_f_split: Split) -> None:
    x, y = line_f_split.trn_x, line_f_split.trn_y[:, None]
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = ch8.OneHiddenLayer(x.shape[1])
        runs.append(ch8.train_minibatch(model, x, y, epochs=4, lr=0.01, batch_size=64))
    assert runs[0] == runs[1]
    assert len(runs[0]) == 4 and runs[0][-1] < runs[0][0]
    acc = ch8.predict_accuracy(model, line_f_split.val_x, line_f_split.val_y[:, None])
    assert acc == accuracy(model(line_f_split.val_x), line_f_split.val_y[:, None])


# --- the sourdough regression served with torch.nn, against the normal equation --------------------


@pytest.fixture(scope="module")
def sourdough() -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Standardised sourdough inputs, the scores, and the least-squares [bias; weight.T] in float64 numpy."""
    x, y = load_sourdough()
    x = standardise(x)
    theta, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(x)), x.double().numpy()]), y.double().numpy(),
                                rcond=None)
    return x, y, theta


def _gap(fit: LinearFit, theta: np.ndarray) -> float:
    """Largest difference between a fit's weights and biases and numpy's least squares."""
    return max(np.abs(fit.bias.double().numpy() - theta[0]).max(),
               np.abs(fit.weight.double().numpy() - theta[1:].T).max())


def test_fit_linear_module_one_sgd_step_by_hand(sourdough: tuple[torch.Tensor, torch.Tensor, np.ndarray]) -> None:
    """One full-batch epoch is one SGD step on the MSE, its gradient written out in numpy."""
    x, y, _ = sourdough
    torch.manual_seed(SOURDOUGH_SEED)
    start = nn.Linear(3, 2)  # the layer fit_linear_module creates after the same seed
    w, b = start.weight.detach().double().numpy(), start.bias.detach().double().numpy()
    xs, ys = x.double().numpy(), y.double().numpy()
    err = xs @ w.T + b - ys
    lr = 0.1
    w_next = w - lr * 2 * err.T @ xs / err.size
    b_next = b - lr * 2 * err.sum(axis=0) / err.size
    fit = ch8.fit_linear_module(x, y, lambda p: torch.optim.SGD(p, lr=lr), epochs=1)
    np.testing.assert_allclose(fit.weight.numpy(), w_next, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fit.bias.numpy(), b_next, rtol=1e-5, atol=1e-5)
    assert fit.losses == pytest.approx([((xs @ w_next.T + b_next - ys) ** 2).mean()], rel=1e-5)


@pytest.mark.parametrize("make_optimiser", [lambda p: torch.optim.SGD(p, lr=SOURDOUGH_LR),
                                            lambda p: torch.optim.Adam(p, lr=SOURDOUGH_LR)], ids=["SGD", "Adam"])
def test_fit_linear_module_full_batch_reaches_the_normal_equation(
        sourdough: tuple[torch.Tensor, torch.Tensor, np.ndarray], make_optimiser: ch8.OptimiserFactory) -> None:
    x, y, theta = sourdough
    fit = ch8.fit_linear_module(x, y, make_optimiser, epochs=SOURDOUGH_EPOCHS)
    assert fit.weight.shape == (2, 3) and fit.bias.shape == (2,) and len(fit.losses) == SOURDOUGH_EPOCHS
    assert _gap(fit, theta) < 1e-4
    exact_loss = ((np.column_stack([np.ones(len(x)), x.double().numpy()]) @ theta - y.double().numpy()) ** 2).mean()
    assert fit.losses[-1] == pytest.approx(exact_loss, rel=1e-5)
    assert fit.losses[0] > 10 * fit.losses[-1]


def test_scheduler_settles_the_minibatch_fit(sourdough: tuple[torch.Tensor, torch.Tensor, np.ndarray]) -> None:
    """Mini-batch Adam at a constant rate keeps jittering; shrinking the rate lands it near the minimum."""
    x, y, theta = sourdough

    def fit(schedule: ch8.SchedulerFactory | None) -> LinearFit:
        return ch8.fit_linear_module(x, y, lambda p: torch.optim.Adam(p, lr=SOURDOUGH_LR), ch8.SOURDOUGH_MINIBATCH_EPOCHS,
                                     make_scheduler=schedule, batch_size=ch8.SOURDOUGH_BATCH_SIZE)

    constant = fit(None)
    scheduled = fit(lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, ch8.SOURDOUGH_MINIBATCH_EPOCHS))
    again = fit(lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, ch8.SOURDOUGH_MINIBATCH_EPOCHS))
    assert scheduled.losses == again.losses  # seeded: the same shuffles and steps
    torch.testing.assert_close(scheduled.weight, again.weight, rtol=0, atol=0)
    assert _gap(scheduled, theta) < _gap(constant, theta) / 3
    assert _gap(scheduled, theta) < 1e-2
    last = ch8.SOURDOUGH_MINIBATCH_EPOCHS // 5
    assert np.ptp(scheduled.losses[-last:]) < np.ptp(constant.losses[-last:]) / 10


def test_fit_linear_sigmoid_is_train_full_batch_with_bce() -> None:
    """The exercise's loop equals the library's train_full_batch on the same seeded module."""
    g = torch.Generator().manual_seed(8)
    x, y = torch.rand(10, 4, generator=g), (torch.rand(10, 1, generator=g) > 0.5).float()
    weight, losses = ch8.fit_linear_sigmoid(5, x, y, 0.7, 6)
    torch.manual_seed(5)
    model = ch8.LinearSigmoid(4)
    assert losses == ch8.train_full_batch(model, x, y, 6, 0.7, torch.nn.BCELoss())
    assert torch.equal(weight, model.linear.weight.detach())
