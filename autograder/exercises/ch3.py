"""Check specs of chapter 3's exercises (the sigmoid and binary cross-entropy).

Public cases are the chapter's visible examples: a handful of raw predictions for the sigmoid,
chapter 2's toy passengers for the sigmoid predictions, and the toy predictions 0.9, 0.2, 0.4 for
the loss. Hidden cases are random, drawn from the seeded generator, with one-element edges and, for
the loss, predictions of exactly 0 and 1 that the clipping must handle.
"""

from __future__ import annotations

import torch

from autograder.exercises.ch2 import EXAMPLE_COEFFS, EXAMPLE_PREDS, EXAMPLE_X, EXAMPLE_Y, TOY
from autograder.specs import Spec
from solutions.ch3_sigmoid import binary_cross_entropy, calc_preds_sigmoid, sigmoid

#: The chapter's raw predictions, from far below 0 to far above 1.
EXAMPLE_RAW = torch.tensor([-4.0, -1.0, 0.0, 0.5, 1.0, 3.0])
#: The chapter's toy probabilities (chapter 2's toy predictions) for ``EXAMPLE_Y``.
EXAMPLE_PROBS = EXAMPLE_PREDS


def _targets(gen: torch.Generator, n: int) -> torch.Tensor:
    return (torch.rand(n, generator=gen) > 0.5).float()


def _probs(gen: torch.Generator, n: int) -> torch.Tensor:
    """Probabilities safely inside (0, 1): the loss must not depend on how the clipping is done."""
    return torch.rand(n, generator=gen) * 0.98 + 0.01


def _bce_hidden(gen: torch.Generator) -> list[tuple]:
    edge = (torch.tensor([0.0, 1.0, 0.5, 1.0]), torch.tensor([1.0, 0.0, 1.0, 1.0]))
    # Confident and right at the edges too: a column of shape (n, 1), as the matrix models give.
    column = (torch.tensor([[1.0], [0.0], [0.3]]), torch.tensor([[1.0], [0.0], [0.0]]))
    return [(_probs(gen, 10), _targets(gen, 10)), (_probs(gen, 1), _targets(gen, 1)),
            (_probs(gen, 200), _targets(gen, 200)), edge, column]


SPECS = [
    Spec(
        id="sigmoid",
        reference=sigmoid,
        public=lambda: [(EXAMPLE_RAW.clone(),)],
        shown={"raw": EXAMPLE_RAW},
        hidden=lambda g: [(torch.randn(12, generator=g) * 5,), (torch.randn(1, generator=g),),
                          (torch.randn(6, 3, generator=g) * 3,)],
    ),
    Spec(
        id="calc_preds_sigmoid",
        reference=calc_preds_sigmoid,
        public=lambda: [(EXAMPLE_COEFFS.clone(), EXAMPLE_X.clone())],
        shown={k: TOY[k] for k in ("toy_x", "toy_coeffs")},
        hidden=lambda g: [((torch.rand(k, generator=g) - 0.5) * 4, torch.rand(n, k, generator=g))
                          for n, k in ((7, 12), (1, 3), (25, 5))],
    ),
    Spec(
        id="binary_cross_entropy",
        reference=binary_cross_entropy,
        public=lambda: [(EXAMPLE_PROBS.clone(), EXAMPLE_Y.clone())],
        hidden=_bce_hidden,
        shown={"toy_probs": EXAMPLE_PROBS, "toy_y": EXAMPLE_Y},
    ),
]
