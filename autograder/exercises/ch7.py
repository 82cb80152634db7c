"""Check specs of chapter 7's exercises (the normal equation, autograd on one number, the sourdough model).

Public cases are the chapter's visible examples: four points on a line, ``Y = W * X + B`` with
``W = 2, X = 1, B = 3``, and two loaves through a small weight matrix. Hidden cases are random,
from the seeded generator they are given: one row, several outputs, float64 data. The systems of the
normal equation are well conditioned, so that any sound way of solving them passes.
"""

from __future__ import annotations

import torch

from autograder.specs import Spec
from solutions.ch7_normal_equation import add_intercept, autograd_one_number, linear_model, normal_equation

#: The chapter's small regression: four values of x and their y, roughly y = 1 + 1.5 x.
EXAMPLE_X = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
EXAMPLE_Y = torch.tensor([[2.4], [4.2], [5.3], [7.1]])
#: The chapter's autograd example: Y = W * X + B with W = 2, X = 1, B = 3.
EXAMPLE_WXB = (2.0, 1.0, 3.0)
#: The chapter's sourdough-shaped example: two loaves (standardised inputs), two outputs.
EXAMPLE_LOAVES = torch.tensor([[0.5, -1.0, 0.2], [-0.3, 0.8, 1.5]])
EXAMPLE_WEIGHT = torch.tensor([[1.0, -0.5, 0.25], [0.5, 0.5, -1.0]])
EXAMPLE_BIAS = torch.tensor([6.0, 5.0])


def _intercept_hidden(gen: torch.Generator) -> list[tuple]:
    """One row and one column, a wider float32 matrix, a float64 matrix (the ones must match its dtype)."""
    return [(torch.randn(1, 1, generator=gen),), (torch.randn(6, 3, generator=gen),),
            (torch.randn(4, 2, generator=gen, dtype=torch.float64),)]


def _normal_hidden(gen: torch.Generator) -> list[tuple]:
    """Well-conditioned float64 systems: one output column, a square system, two outputs, a flat target."""
    cases = []
    for n, k, y_shape in ((20, 3, (20, 1)), (5, 5, (5, 1)), (12, 4, (12, 2)), (30, 2, (30,))):
        x = torch.randn(n, k, generator=gen, dtype=torch.float64)
        cases.append((x, torch.randn(*y_shape, generator=gen, dtype=torch.float64)))
    return cases


def _autograd_hidden(gen: torch.Generator) -> list[tuple]:
    """Random weights, inputs and biases, negative ones included."""
    return [tuple(float(v) for v in torch.randn(3, generator=gen) * 3) for _ in range(3)]


def _linear_hidden(gen: torch.Generator) -> list[tuple]:
    """The sourdough shape with one loaf, more outputs and inputs, a single input and output."""
    cases = []
    for n, k, m in ((1, 3, 2), (10, 4, 3), (5, 1, 1)):
        cases.append((torch.randn(n, k, generator=gen), torch.randn(m, k, generator=gen),
                      torch.randn(m, generator=gen)))
    return cases


SPECS = [
    Spec(
        id="add_intercept",
        reference=add_intercept,
        public=lambda: [(EXAMPLE_X,)],
        hidden=_intercept_hidden,
    ),
    Spec(
        id="normal_equation",
        reference=normal_equation,
        public=lambda: [(add_intercept(EXAMPLE_X), EXAMPLE_Y)],
        hidden=_normal_hidden,
        # float32 inverses of the public example differ from other sound solvers in the 6th digit.
        rtol=1e-3,
        atol=1e-4,
    ),
    Spec(
        id="autograd_one_number",
        reference=autograd_one_number,
        public=lambda: [EXAMPLE_WXB],
        hidden=_autograd_hidden,
    ),
    Spec(
        id="linear_model",
        reference=linear_model,
        public=lambda: [(EXAMPLE_LOAVES, EXAMPLE_WEIGHT, EXAMPLE_BIAS)],
        hidden=_linear_hidden,
    ),
]
