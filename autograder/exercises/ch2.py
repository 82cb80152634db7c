"""Check specs of chapter 2's exercises (loss and gradient descent).

Public cases are the chapter's visible examples: small, readable tensors. Hidden cases are random,
drawn from the seeded generator they are given, with shapes and values a correct answer must handle.
"""

from __future__ import annotations

import torch

from autograder.runtime import INPLACE
from autograder.specs import Spec
from solutions.ch2_gradient_descent import accuracy, calc_preds, mae_loss, update_coeffs

#: The chapter's running example: three passengers, two features.
EXAMPLE_X = torch.tensor([[0.5, 1.0], [0.25, 0.0], [1.0, 0.5]])
EXAMPLE_COEFFS = torch.tensor([0.2, -0.4])
EXAMPLE_Y = torch.tensor([1.0, 0.0, 1.0])


def _rows(gen: torch.Generator, n: int, k: int) -> torch.Tensor:
    return torch.rand(n, k, generator=gen)


def _with_grad(gen: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    t = (torch.rand(*shape, generator=gen) - 0.5).requires_grad_()
    t.grad = torch.randn(*shape, generator=gen)
    return t


def _update_public() -> list[tuple]:
    coeffs = EXAMPLE_COEFFS.clone().requires_grad_()
    coeffs.grad = torch.tensor([0.1, -0.3])
    return [(coeffs, 0.5)]


SPECS = [
    Spec(
        id="calc_preds",
        reference=calc_preds,
        public=lambda: [(EXAMPLE_COEFFS, EXAMPLE_X)],
        hidden=lambda g: [(torch.rand(k, generator=g) - 0.5, _rows(g, n, k)) for n, k in ((7, 12), (1, 3), (20, 5))],
    ),
    Spec(
        id="mae_loss",
        reference=mae_loss,
        public=lambda: [(torch.tensor([0.9, 0.2, 0.4]), EXAMPLE_Y)],
        hidden=lambda g: [(torch.randn(n, generator=g), (torch.rand(n, generator=g) > 0.5).float()) for n in (5, 1, 50)],
    ),
    Spec(
        id="update_coeffs",
        reference=update_coeffs,
        kind=INPLACE,
        public=_update_public,
        hidden=lambda g: [(_with_grad(g, (12,)), 0.1), (_with_grad(g, (4,)), 3.0),
                          ([_with_grad(g, (3, 2)), _with_grad(g, (2, 1))], 0.5)],
    ),
    Spec(
        id="accuracy",
        reference=accuracy,
        public=lambda: [(torch.tensor([0.9, 0.2, 0.4]), EXAMPLE_Y)],
        hidden=lambda g: [(torch.rand(n, generator=g), (torch.rand(n, generator=g) > 0.5).float()) for n in (9, 2, 40)],
    ),
]
