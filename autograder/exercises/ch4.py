"""Check specs of chapter 4's exercises (matrix products).

Public cases are the chapter's visible examples: the initialiser with seed 0 and three features, and
chapter 2's toy passengers with the toy coefficients as a column. Hidden cases are random: seeds and
sizes for the initialiser (one feature as the edge), shapes for the predictions (one row as the edge).
"""

from __future__ import annotations

import torch

from autograder.exercises.ch2 import EXAMPLE_COEFFS, EXAMPLE_X
from autograder.runtime import SEEDED
from autograder.specs import Spec
from solutions.ch4_matrix import calc_preds_matrix, init_coeffs_matrix

#: The chapter's example call of the initialiser: ``torch.manual_seed(0)``, then three coefficients.
EXAMPLE_SEED: int = 0
EXAMPLE_N_COEFF: int = 3


def _seed(gen: torch.Generator) -> int:
    return int(torch.randint(0, 2**31 - 1, (1,), generator=gen))


SPECS = [
    Spec(
        id="init_coeffs_matrix",
        reference=init_coeffs_matrix,
        kind=SEEDED,
        public=lambda: [(EXAMPLE_SEED, EXAMPLE_N_COEFF)],
        hidden=lambda g: [(_seed(g), n) for n in (12, 1, 5)],
    ),
    Spec(
        id="calc_preds_matrix",
        reference=calc_preds_matrix,
        public=lambda: [(EXAMPLE_COEFFS[:, None].clone(), EXAMPLE_X.clone())],
        hidden=lambda g: [((torch.rand(k, 1, generator=g) - 0.5) * 4, torch.rand(n, k, generator=g))
                          for n, k in ((7, 12), (1, 3), (25, 5))],
    ),
]
