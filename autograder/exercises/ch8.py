"""Check specs of chapter 8's exercises (the ``torch.nn`` rewrite).

The two modules are checked by output (kind ``module``): the check seeds PyTorch, builds the class
with the constructor arguments and compares its output on a batch; the same layers created in the
same order give the same starting weights, hence the same output. Public cases are the chapter's
visible examples; hidden cases are random batches, from one row and one feature up to line F's size.

``pick_device`` is shown in the chapter but is not an exercise: a function without arguments has no
hidden case that differs from its public one.
"""

from __future__ import annotations

import torch

from autograder.runtime import MODULE
from autograder.specs import Spec
from solutions.ch8_modules import LinearSigmoid, OneHiddenLayer

#: The chapter's example batch: two passengers with three features.
EXAMPLE_X = torch.tensor([[0.5, 1.0, 0.0], [0.25, 0.0, 1.0]])
#: The chapter's module examples: (seed, constructor arguments, batch).
EXAMPLE_LINEAR_SIGMOID = (0, (3,), EXAMPLE_X)
EXAMPLE_ONE_HIDDEN = (0, (3, 4), EXAMPLE_X)


def _seed(gen: torch.Generator) -> int:
    return int(torch.randint(0, 10_000, (), generator=gen))


def _linear_hidden(gen: torch.Generator) -> list[tuple]:
    """Line F's twelve features, a single feature and row, a wider batch."""
    return [(_seed(gen), (k,), torch.rand(n, k, generator=gen)) for n, k in ((7, 12), (1, 1), (20, 5))]


def _hidden_layer_hidden(gen: torch.Generator) -> list[tuple]:
    """The default of 20 hidden units, a single hidden unit and row, another size."""
    cases = []
    for n, args in ((5, (12,)), (1, (3, 1)), (10, (6, 8))):
        cases.append((_seed(gen), args, torch.rand(n, args[0], generator=gen) * 2 - 0.5))
    return cases


SPECS = [
    Spec(
        id="LinearSigmoid",
        reference=LinearSigmoid,
        kind=MODULE,
        public=lambda: [EXAMPLE_LINEAR_SIGMOID],
        hidden=_linear_hidden,
    ),
    Spec(
        id="OneHiddenLayer",
        reference=OneHiddenLayer,
        kind=MODULE,
        public=lambda: [EXAMPLE_ONE_HIDDEN],
        hidden=_hidden_layer_hidden,
    ),
]
