"""Check specs of chapter 4's exercises (matrix products).

Public cases are the chapter's visible examples: chapter 2's toy passengers with the toy
coefficients, as a vector for the loops and as a column for three epochs of the matrix model. Hidden
cases are random: shapes from one row or one feature up to line F's twelve features, and runs of at
least four epochs from random columns.
"""

from __future__ import annotations

import torch

from autograder.exercises.ch2 import EXAMPLE_COEFFS, EXAMPLE_LR, EXAMPLE_STEPS, EXAMPLE_X, EXAMPLE_Y, MIN_HIDDEN_STEPS, TOY
from autograder.runtime import STEPS
from autograder.specs import Spec
from solutions.ch4_matrix import one_epoch_matrix, weighted_sum_loop


def _loop_hidden(gen: torch.Generator) -> list[tuple]:
    """Line F's width, one row and one feature, a float64 batch (the totals keep its dtype)."""
    return [((torch.rand(12, generator=gen) - 0.5), torch.rand(7, 12, generator=gen)),
            ((torch.rand(1, generator=gen) - 0.5), torch.rand(1, 1, generator=gen)),
            ((torch.rand(3, generator=gen, dtype=torch.float64) - 0.5), torch.rand(5, 3, generator=gen, dtype=torch.float64))]


def _epoch_hidden(gen: torch.Generator) -> list[tuple]:
    """Runs of 4 to 6 epochs from random columns: line F's width, one row, a large learning rate."""
    cases = []
    for steps, n, k, lr in ((MIN_HIDDEN_STEPS, 9, 12, 1.0), (5, 1, 3, 0.5), (6, 20, 5, 50.0)):
        start = ((torch.rand(k, 1, generator=gen) - 0.5) * 2).requires_grad_()
        x = torch.rand(n, k, generator=gen)
        cases.append((steps, start, x, (torch.rand(n, generator=gen) > 0.5).float(), lr))
    return cases


SPECS = [
    Spec(
        id="weighted_sum_loop",
        reference=weighted_sum_loop,
        public=lambda: [(EXAMPLE_COEFFS.clone(), EXAMPLE_X.clone())],
        hidden=_loop_hidden,
        shown={k: TOY[k] for k in ("toy_x", "toy_coeffs")},
    ),
    Spec(
        id="one_epoch_matrix",
        reference=one_epoch_matrix,
        kind=STEPS,
        public=lambda: [(EXAMPLE_STEPS, EXAMPLE_COEFFS[:, None].clone().requires_grad_(), EXAMPLE_X.clone(),
                         EXAMPLE_Y.clone(), EXAMPLE_LR)],
        hidden=_epoch_hidden,
        shown={k: TOY[k] for k in ("toy_x", "toy_coeffs", "toy_y")},
    ),
]
