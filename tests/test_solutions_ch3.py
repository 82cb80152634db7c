"""Chapter 3's sigmoid and binary cross-entropy against torch's own and hand-derived gradients."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from solutions import ch3_sigmoid as ch3
from solutions.ch2_gradient_descent import calc_preds

pytestmark = pytest.mark.ch3

Unary = Callable[[torch.Tensor], torch.Tensor]
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def check_sigmoid(sigmoid: Unary) -> None:
    """Equals ``torch.sigmoid`` and has the derivative ``s (1 - s)``; finite at the extremes."""
    x = torch.linspace(-12, 12, 97, dtype=torch.float64, requires_grad=True)
    s = sigmoid(x)
    torch.testing.assert_close(s, torch.sigmoid(x))
    s.sum().backward()
    torch.testing.assert_close(x.grad, (s * (1 - s)).detach())
    extremes = sigmoid(torch.tensor([-200.0, 200.0]))
    assert not bool(extremes.isnan().any())
    torch.testing.assert_close(extremes, torch.tensor([0.0, 1.0]))


def test_sigmoid() -> None:
    check_sigmoid(ch3.sigmoid)


@given(st.floats(-15, 15))
def test_sigmoid_properties(value: float) -> None:
    x = torch.tensor(value, dtype=torch.float64)
    s = ch3.sigmoid(x)
    assert 0 < float(s) < 1
    torch.testing.assert_close(ch3.sigmoid(-x), 1 - s)


@given(st.lists(st.floats(-30, 30), min_size=2, max_size=20, unique=True))
def test_sigmoid_is_increasing(values: list[float]) -> None:
    x = torch.tensor(sorted(values), dtype=torch.float64)
    s = ch3.sigmoid(x)
    assert bool((s[1:] >= s[:-1]).all())


@pytest.mark.parametrize("broken", [
    pytest.param(lambda x: 1 / (1 + torch.exp(x)), id="sign-flipped"),
    pytest.param(lambda x: torch.tanh(x), id="tanh"),
    pytest.param(lambda x: torch.exp(x) / (1 + torch.exp(x)), id="overflows-to-nan"),
])
def test_sigmoid_check_catches_mutants(broken: Unary) -> None:
    with pytest.raises(AssertionError):
        check_sigmoid(broken)


def test_calc_preds_sigmoid_is_sigmoid_of_linear() -> None:
    g = torch.Generator().manual_seed(0)
    x, c = torch.rand(9, 5, generator=g), torch.randn(5, generator=g)
    torch.testing.assert_close(ch3.calc_preds_sigmoid(c, x), ch3.sigmoid(calc_preds(c, x)))


def probabilities_and_targets(seed: int, n: int = 11) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities well inside (0, 1) (where clipping does nothing) and 0/1 targets."""
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(n, generator=g, dtype=torch.float64) * 0.98 + 0.01
    y = (torch.rand(n, generator=g) > 0.5).double()
    return p, y


def check_binary_cross_entropy(bce: Loss, seed: int = 0) -> None:
    """Equals ``nn.BCELoss`` and ``F.binary_cross_entropy``; gradient ``(p - y) / (p (1 - p) n)``."""
    p, y = probabilities_and_targets(seed)
    p.requires_grad_()
    loss = bce(p, y)
    torch.testing.assert_close(loss, nn.BCELoss()(p, y))
    torch.testing.assert_close(loss, F.binary_cross_entropy(p, y))
    loss.backward()
    pd, yd = p.detach(), y
    torch.testing.assert_close(p.grad, (pd - yd) / (pd * (1 - pd)) / len(yd))
    # on probabilities from logits it equals the numerically stable logits version
    z = torch.linspace(-4, 4, len(y), dtype=torch.float64)
    torch.testing.assert_close(bce(torch.sigmoid(z), y), F.binary_cross_entropy_with_logits(z, y))


@pytest.mark.parametrize("seed", range(3))
def test_binary_cross_entropy(seed: int) -> None:
    check_binary_cross_entropy(ch3.binary_cross_entropy, seed)


def test_binary_cross_entropy_clips_certain_wrong_answers() -> None:
    p, y = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0])
    assert torch.isfinite(ch3.binary_cross_entropy(p, y))
    # in float64 both clipped terms are -log(eps); (in float32, 1 - 1e-7 rounds to 1 - 2**-23)
    eps = 1e-7
    loss = ch3.binary_cross_entropy(p.double(), y.double())
    torch.testing.assert_close(loss, -torch.log(torch.tensor(eps, dtype=torch.float64)))
    assert float(ch3.binary_cross_entropy(y, y)) == pytest.approx(0, abs=1e-6)


@given(st.lists(st.tuples(st.floats(0.001, 0.999), st.sampled_from([0.0, 1.0])), min_size=1, max_size=20))
def test_binary_cross_entropy_matches_bceloss(pairs: list[tuple[float, float]]) -> None:
    p = torch.tensor([a for a, _ in pairs], dtype=torch.float64)
    y = torch.tensor([b for _, b in pairs], dtype=torch.float64)
    loss = ch3.binary_cross_entropy(p, y)
    assert float(loss) >= 0
    torch.testing.assert_close(loss, nn.BCELoss()(p, y))


@pytest.mark.parametrize("broken", [
    pytest.param(lambda p, y: -(y * torch.log(p)).mean(), id="positive-term-only"),
    pytest.param(lambda p, y: -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).sum(), id="sum-not-mean"),
    pytest.param(lambda p, y: -(y * torch.log(1 - p) + (1 - y) * torch.log(p)).mean(), id="swapped"),
])
def test_binary_cross_entropy_check_catches_mutants(broken: Loss) -> None:
    with pytest.raises(AssertionError):
        check_binary_cross_entropy(broken)
