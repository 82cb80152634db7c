"""Check specs of chapter 6's exercises (deep networks and the comparison with baselines).

Public cases are the chapter's visible examples: a seeded network of two tiny hidden layers, and
three passengers through a three-layer network (for the predictions, the dead units and the
multiplied-out linear model). Hidden cases are random, from the seeded generator they are given: no
hidden layer at all, one, several, a single passenger; other activations passed by name; networks
whose hidden layers are partly or wholly dead.
"""

from __future__ import annotations

import torch

from autograder.exercises.ch2 import EXAMPLE_X
from autograder.exercises.ch5 import ACTIVATIONS
from autograder.runtime import SEEDED
from autograder.specs import Spec
from solutions.ch6_deep import calc_preds_deep, collapse_linear_layers, dead_units, init_coeffs_deep

#: The chapter's initialiser example: ``init_coeffs_deep(2, [3, 2])`` after ``torch.manual_seed(42)``.
EXAMPLE_INIT = (42, 2, [3, 2])
#: The chapter's running example: chapter 2's three passengers with two features (``EXAMPLE_X``),
#: through layers of sizes 2 -> 3 -> 2 -> 1, each with its constant.
EXAMPLE_LAYERS = [
    torch.tensor([[0.2, -0.1, 0.4], [-0.3, 0.5, 0.1]]),
    torch.tensor([[1.0, -0.5], [-2.0, 0.3], [0.5, 0.8]]),
    torch.tensor([[1.5], [-1.0]]),
]
EXAMPLE_CONSTS = [torch.tensor(0.1), torch.tensor(-0.2), torch.tensor(0.05)]
EXAMPLE_COEFFS = (EXAMPLE_LAYERS, EXAMPLE_CONSTS)
SHOWN = {"example_coeffs": EXAMPLE_COEFFS, "example_x": EXAMPLE_X}


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
    for activation, sizes in zip(ACTIVATIONS, ([4, 3, 3, 1], [4, 1], [2, 5, 1])):
        cases.append((_deep_coeffs(gen, sizes), torch.rand(6, sizes[0], generator=gen) * 2 - 0.5, activation))
    return cases


def _dead_hidden(gen: torch.Generator) -> list[tuple]:
    """Layers shifted down so that some units, or a whole layer, never fire; no hidden layer; one row."""
    cases = []
    for n, sizes, shift in ((12, [5, 8, 6, 1], 0.5), (6, [3, 4, 4, 4, 1], 1.5), (9, [4, 1], 0.0), (1, [3, 6, 1], 0.3)):
        layers, consts = _deep_coeffs(gen, sizes)
        consts = [c - shift for c in consts]
        cases.append(((layers, consts), torch.rand(n, sizes[0], generator=gen)))
    return cases


def _collapse_hidden(gen: torch.Generator) -> list[tuple]:
    """Line F's widths, a single layer, several outputs, a deep narrow stack."""
    return [(_deep_coeffs(gen, sizes),) for sizes in ([12, 10, 10, 1], [4, 1], [3, 5, 2], [2, 3, 3, 3, 3, 1])]


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
        public=lambda: [(EXAMPLE_COEFFS, EXAMPLE_X)],
        hidden=_preds_hidden,
        shown=SHOWN,
    ),
    Spec(
        id="dead_units",
        reference=dead_units,
        public=lambda: [(EXAMPLE_COEFFS, EXAMPLE_X)],
        hidden=_dead_hidden,
        shown=SHOWN,
    ),
    Spec(
        id="collapse_linear_layers",
        reference=collapse_linear_layers,
        public=lambda: [(EXAMPLE_COEFFS,)],
        hidden=_collapse_hidden,
        shown={"example_coeffs": EXAMPLE_COEFFS},
    ),
]
