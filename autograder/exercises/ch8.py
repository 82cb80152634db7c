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

from autograder.exercises.ch2 import EXAMPLE_STEPS, MIN_HIDDEN_STEPS
from autograder.runtime import MODULE, TRAJECTORY
from autograder.specs import Spec
from solutions.ch8_modules import LinearSigmoid, OneHiddenLayer, fit_linear_sigmoid

#: The chapter's example batch: two passengers with three features.
EXAMPLE_X = torch.tensor([[0.5, 1.0, 0.0], [0.25, 0.0, 1.0]])
#: The chapter's module examples: (seed, constructor arguments, batch).
EXAMPLE_LINEAR_SIGMOID = (0, (3,), EXAMPLE_X)
EXAMPLE_ONE_HIDDEN = (0, (3, 4), EXAMPLE_X)
#: Whether the two passengers survived, a column; the training example: seed 0, lr 0.5, three epochs.
EXAMPLE_Y = torch.tensor([[0.0], [1.0]])
EXAMPLE_FIT = (0, EXAMPLE_X, EXAMPLE_Y, 0.5, EXAMPLE_STEPS)


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


def _fit_hidden(gen: torch.Generator) -> list[tuple]:
    """Runs of 4 to 6 epochs from random seeds: line F's width, one passenger, a large learning rate."""
    cases = []
    for n, k, lr, epochs in ((9, 12, 1.0, MIN_HIDDEN_STEPS), (1, 3, 0.5, 5), (16, 5, 5.0, 6)):
        y = (torch.rand(n, 1, generator=gen) > 0.5).float()
        cases.append((_seed(gen), torch.rand(n, k, generator=gen), y, lr, epochs))
    return cases


SPECS = [
    Spec(
        id="LinearSigmoid",
        reference=LinearSigmoid,
        kind=MODULE,
        public=lambda: [EXAMPLE_LINEAR_SIGMOID],
        hidden=_linear_hidden,
        shown={"example_x": EXAMPLE_X},
    ),
    Spec(
        id="OneHiddenLayer",
        reference=OneHiddenLayer,
        kind=MODULE,
        public=lambda: [EXAMPLE_ONE_HIDDEN],
        hidden=_hidden_layer_hidden,
        shown={"example_x": EXAMPLE_X},
    ),
    Spec(
        id="fit_linear_sigmoid",
        reference=fit_linear_sigmoid,
        kind=TRAJECTORY,
        public=lambda: [EXAMPLE_FIT],
        hidden=_fit_hidden,
        shown={"example_x": EXAMPLE_X, "example_y": EXAMPLE_Y},
    ),
]
