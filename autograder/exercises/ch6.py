"""Check specs of chapter 6's exercises (deep networks and the comparison with baselines).

Public cases are the chapter's visible examples: a seeded network of two tiny hidden layers, three
passengers through a three-layer network, and one improvement over a reference accuracy. Hidden
cases are random, from the seeded generator they are given: no hidden layer at all, one, several,
a single passenger.
"""

from __future__ import annotations

import torch

from autograder.runtime import SEEDED
from autograder.specs import Spec
from solutions.ch6_deep import calc_preds_deep, improvement_over, init_coeffs_deep

#: The chapter's initialiser example: ``init_coeffs_deep(2, [3, 2])`` after ``torch.manual_seed(42)``.
EXAMPLE_INIT = (42, 2, [3, 2])
#: The chapter's running example: three passengers, two features (as in chapters 2 and 5) ...
EXAMPLE_X = torch.tensor([[0.5, 1.0], [0.25, 0.0], [1.0, 0.5]])
#: ... through layers of sizes 2 -> 3 -> 2 -> 1, each with its constant.
EXAMPLE_LAYERS = [
    torch.tensor([[0.2, -0.1, 0.4], [-0.3, 0.5, 0.1]]),
    torch.tensor([[1.0, -0.5], [-2.0, 0.3], [0.5, 0.8]]),
    torch.tensor([[1.5], [-1.0]]),
]
EXAMPLE_CONSTS = [torch.tensor(0.1), torch.tensor(-0.2), torch.tensor(0.05)]
#: The chapter's improvement example: from 0.80 to 0.85 accuracy.
EXAMPLE_IMPROVEMENT = (0.8, 0.85)


def _deep_coeffs(gen: torch.Generator, sizes: list[int]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Random weights and constants for layer sizes ``sizes`` (no gradients: the check compares values)."""
    layers = [torch.rand(a, b, generator=gen) - 0.3 for a, b in zip(sizes[:-1], sizes[1:])]
    consts = [torch.rand((), generator=gen) - 0.5 for _ in layers]
    return layers, consts


def _preds_hidden(gen: torch.Generator) -> list[tuple]:
    """Line F's shape, no hidden layer, three hidden layers with a single passenger, a wide one."""
    cases = []
    for n, sizes in ((9, [12, 10, 10, 1]), (5, [4, 1]), (1, [3, 6, 4, 2, 1]), (20, [5, 30, 1])):
        cases.append((_deep_coeffs(gen, sizes), torch.rand(n, sizes[0], generator=gen) * 2 - 0.5))
    return cases


def _improvement_hidden(gen: torch.Generator) -> list[tuple]:
    """Better, worse and equal accuracies."""
    ref, better, worse = (0.5 + 0.5 * torch.rand(3, generator=gen)).tolist()
    return [(ref, better), (better, worse), (worse, worse)]


SPECS = [
    Spec(
        id="init_coeffs_deep",
        reference=init_coeffs_deep,
        kind=SEEDED,
        public=lambda: [EXAMPLE_INIT],
        # Default hiddens, no hidden layer at all, one input feature, three hidden layers.
        hidden=lambda g: [(int(torch.randint(0, 10_000, (), generator=g)), *args)
                          for args in ((12,), (4, []), (1, [5]), (6, (8, 4, 2)))],
    ),
    Spec(
        id="calc_preds_deep",
        reference=calc_preds_deep,
        public=lambda: [((EXAMPLE_LAYERS, EXAMPLE_CONSTS), EXAMPLE_X)],
        hidden=_preds_hidden,
    ),
    Spec(
        id="improvement_over",
        reference=improvement_over,
        public=lambda: [EXAMPLE_IMPROVEMENT],
        hidden=_improvement_hidden,
    ),
]
