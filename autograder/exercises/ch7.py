"""Check specs of chapter 7's exercises (the intercept column, autograd on one number, the sourdough fit).

Public cases are the chapter's visible examples: four points on a line, ``Y = W * X + B`` with
``W = 2, X = 1, B = 3``, and three epochs of gradient descent on two loaves. Hidden cases are random,
from the seeded generator they are given: one row, several outputs, float64 data; runs of at least
four epochs, and one long enough to reach the normal equation's weights (``tests/test_solutions_ch7.py``
checks that it does).
"""

from __future__ import annotations

import torch

from autograder.exercises.ch2 import EXAMPLE_STEPS, MIN_HIDDEN_STEPS
from autograder.runtime import TRAJECTORY
from autograder.specs import Spec
from solutions.ch7_normal_equation import add_intercept, autograd_one_number, fit_linear_gd

#: The chapter's small regression: four values of x and their y, roughly y = 1 + 1.5 x.
EXAMPLE_X = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
EXAMPLE_Y = torch.tensor([[2.4], [4.2], [5.3], [7.1]])
#: The chapter's autograd example: Y = W * X + B with W = 2, X = 1, B = 3.
EXAMPLE_WXB = (2.0, 1.0, 3.0)
#: The chapter's sourdough-shaped example: two loaves (standardised inputs), two outputs.
EXAMPLE_LOAVES = torch.tensor([[0.5, -1.0, 0.2], [-0.3, 0.8, 1.5]])
EXAMPLE_WEIGHT = torch.tensor([[1.0, -0.5, 0.25], [0.5, 0.5, -1.0]])
EXAMPLE_BIAS = torch.tensor([6.0, 5.0])
#: The two loaves' (flavour, crustiness) scores.
EXAMPLE_SCORES = torch.tensor([[6.5, 4.0], [5.2, 5.5]])
EXAMPLE_GD_LR = 0.1
#: The hidden run that converges: this many epochs at ``LONG_RUN_LR`` on well-scaled data.
LONG_RUN_EPOCHS = 300
LONG_RUN_LR = 0.3


def _intercept_hidden(gen: torch.Generator) -> list[tuple]:
    """One row and one column, a wider float32 matrix, a float64 matrix (the ones must match its dtype)."""
    return [(torch.randn(1, 1, generator=gen),), (torch.randn(6, 3, generator=gen),),
            (torch.randn(4, 2, generator=gen, dtype=torch.float64),)]


def _autograd_hidden(gen: torch.Generator) -> list[tuple]:
    """Random weights, inputs and biases, negative ones included."""
    return [tuple(float(v) for v in torch.randn(3, generator=gen) * 3) for _ in range(3)]


def _gd_hidden(gen: torch.Generator) -> list[tuple]:
    """Runs of 4 to 6 epochs (the sourdough shape, one loaf, one input and output), then a long run."""
    cases = []
    for n, k, m, epochs, lr in ((10, 3, 2, MIN_HIDDEN_STEPS, 0.1), (1, 4, 3, 5, 0.2), (6, 1, 1, 6, 0.5),
                                (8, 2, 2, LONG_RUN_EPOCHS, LONG_RUN_LR)):
        x = torch.randn(n, k, generator=gen)
        cases.append((x, torch.randn(n, m, generator=gen) + 3, torch.randn(m, k, generator=gen),
                      torch.randn(m, generator=gen), lr, epochs))
    return cases


SPECS = [
    Spec(
        id="add_intercept",
        reference=add_intercept,
        public=lambda: [(EXAMPLE_X,)],
        hidden=_intercept_hidden,
        shown={"example_x": EXAMPLE_X},
    ),
    Spec(
        id="autograd_one_number",
        reference=autograd_one_number,
        public=lambda: [EXAMPLE_WXB],
        hidden=_autograd_hidden,
    ),
    Spec(
        id="fit_linear_gd",
        reference=fit_linear_gd,
        kind=TRAJECTORY,
        public=lambda: [(EXAMPLE_LOAVES, EXAMPLE_SCORES, EXAMPLE_WEIGHT, EXAMPLE_BIAS, EXAMPLE_GD_LR, EXAMPLE_STEPS)],
        hidden=_gd_hidden,
        shown={"example_loaves": EXAMPLE_LOAVES, "example_scores": EXAMPLE_SCORES,
               "example_weight": EXAMPLE_WEIGHT, "example_bias": EXAMPLE_BIAS},
    ),
]
