"""Check specs of chapter 2's exercises (loss and gradient descent).

Public cases are the chapter's visible examples: small, readable tensors. Hidden cases are random,
drawn from the seeded generator they are given, with shapes and values a correct answer must handle.
"""

from __future__ import annotations

import torch

from autograder.runtime import INPLACE, STEPS
from autograder.specs import Spec
from solutions.ch2_gradient_descent import accuracy, calc_preds, mae_loss, one_epoch, update_coeffs

#: The chapter's running example: three passengers, two features.
EXAMPLE_X = torch.tensor([[0.5, 1.0], [0.25, 0.0], [1.0, 0.5]])
EXAMPLE_COEFFS = torch.tensor([0.2, -0.4])
EXAMPLE_Y = torch.tensor([1.0, 0.0, 1.0])
#: The chapter's toy predictions for ``EXAMPLE_Y``.
EXAMPLE_PREDS = torch.tensor([0.9, 0.2, 0.4])
#: The names under which the chapter shows them (``toy_x`` ...); tasks refer to these names.
TOY = {"toy_x": EXAMPLE_X, "toy_coeffs": EXAMPLE_COEFFS, "toy_y": EXAMPLE_Y, "toy_preds": EXAMPLE_PREDS}
#: The chapter's example of training steps: three epochs from ``EXAMPLE_COEFFS`` at learning rate 0.1.
EXAMPLE_STEPS = 3
EXAMPLE_LR = 0.1
#: Hidden runs take at least this many steps, so that an answer that leaves the reference's run only
#: after the third step still fails (``tests/test_grade.py`` grades such an answer).
MIN_HIDDEN_STEPS = 4


def _rows(gen: torch.Generator, n: int, k: int) -> torch.Tensor:
    return torch.rand(n, k, generator=gen)


def _with_grad(gen: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    t = (torch.rand(shape, generator=gen) - 0.5).requires_grad_()
    t.grad = torch.randn(shape, generator=gen)
    return t


def _update_public() -> list[tuple]:
    coeffs = EXAMPLE_COEFFS.clone().requires_grad_()
    coeffs.grad = torch.tensor([0.1, -0.3])
    return [(coeffs, 0.5)]


def _epoch_public() -> list[tuple]:
    return [(EXAMPLE_STEPS, EXAMPLE_COEFFS.clone().requires_grad_(), EXAMPLE_X.clone(), EXAMPLE_Y.clone(),
             EXAMPLE_LR)]


def _epoch_hidden(gen: torch.Generator) -> list[tuple]:
    """Runs of 4 to 6 steps from random starts: line F's width, one row, many rows with a large rate."""
    cases = []
    for steps, n, k, lr in ((MIN_HIDDEN_STEPS, 7, 12, 0.2), (5, 1, 3, 0.5), (6, 20, 5, 2.0)):
        start = (torch.rand(k, generator=gen) - 0.5).requires_grad_()
        cases.append((steps, start, _rows(gen, n, k), (torch.rand(n, generator=gen) > 0.5).float(), lr))
    return cases


SPECS = [
    Spec(
        id="calc_preds",
        reference=calc_preds,
        public=lambda: [(EXAMPLE_COEFFS, EXAMPLE_X)],
        shown={k: TOY[k] for k in ("toy_x", "toy_coeffs")},
        hidden=lambda g: [(torch.rand(k, generator=g) - 0.5, _rows(g, n, k)) for n, k in ((7, 12), (1, 3), (20, 5))],
    ),
    Spec(
        id="mae_loss",
        reference=mae_loss,
        public=lambda: [(EXAMPLE_PREDS, EXAMPLE_Y)],
        hidden=lambda g: [(torch.randn(n, generator=g), (torch.rand(n, generator=g) > 0.5).float()) for n in (5, 1, 50)],
        shown={k: TOY[k] for k in ("toy_preds", "toy_y")},
    ),
    Spec(
        id="update_coeffs",
        reference=update_coeffs,
        kind=INPLACE,
        public=_update_public,
        hidden=lambda g: [(_with_grad(g, (12,)), 0.1), (_with_grad(g, (4,)), 3.0),
                          ([_with_grad(g, (3, 2)), _with_grad(g, (2, 1))], 0.5),
                          # (layers, consts) of a deep network: a tuple of two lists, 0-d constants.
                          (([_with_grad(g, (2, 3)), _with_grad(g, (3, 1))], [_with_grad(g, ()), _with_grad(g, ())]),
                           0.2)],
    ),
    Spec(
        id="one_epoch",
        reference=one_epoch,
        kind=STEPS,
        public=_epoch_public,
        hidden=_epoch_hidden,
        shown={k: TOY[k] for k in ("toy_x", "toy_coeffs", "toy_y")},
    ),
    Spec(
        id="accuracy",
        reference=accuracy,
        public=lambda: [(EXAMPLE_PREDS, EXAMPLE_Y)],
        shown={k: TOY[k] for k in ("toy_preds", "toy_y")},
        hidden=lambda g: [(torch.rand(n, generator=g), (torch.rand(n, generator=g) > 0.5).float()) for n in (9, 2, 40)],
    ),
]
