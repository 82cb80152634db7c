"""Check specs of chapter 5's exercises (one hidden layer).

Public cases are the chapter's visible examples: a seed with a tiny network, three passengers with
two features, a handful of activation inputs. Hidden cases are random, drawn from the seeded
generator they are given, with shapes from one row or one hidden unit up to line F's 12 x 20.
"""

from __future__ import annotations

import torch

from autograder.exercises.ch2 import EXAMPLE_STEPS, EXAMPLE_X, EXAMPLE_Y, MIN_HIDDEN_STEPS  # noqa: F401 (EXAMPLE_Y: the chapter imports it from here)
from autograder.runtime import SEEDED, STEPS
from autograder.specs import Spec
from solutions.ch5_neural_net import calc_preds_nn, init_coeffs_nn, mish, one_epoch_nn

#: The chapter's running example: chapter 2's three passengers with two features (``EXAMPLE_X``),
#: and a network with three hidden units: layer1 (2, 3), layer2 (3, 1), a scalar constant.
EXAMPLE_LAYER1 = torch.tensor([[0.2, -0.1, 0.4], [-0.3, 0.5, 0.1]])
EXAMPLE_LAYER2 = torch.tensor([[1.0], [-2.0], [0.5]])
EXAMPLE_CONST = torch.tensor(0.1)
EXAMPLE_COEFFS = (EXAMPLE_LAYER1, EXAMPLE_LAYER2, EXAMPLE_CONST)
#: The learning rate of the chapter's three example epochs.
EXAMPLE_LR = 0.5
#: Activations the hidden cases pass by name (see ``runtime.FUNCTIONS``), beside the default relu.
ACTIVATIONS = ({"function": "mish"}, {"function": "identity"}, {"function": "tanh"})
#: The chapter's initialiser example: ``init_coeffs_nn(3, 2)`` after ``torch.manual_seed(42)``.
EXAMPLE_INIT = (42, 3, 2)
#: The chapter's activation example.
EXAMPLE_ACTIVATION_INPUT = torch.tensor([-3.0, -1.0, 0.0, 0.5, 2.0])


def _coeffs(gen: torch.Generator, n_coeff: int, n_hidden: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random network coefficients of the given sizes (no gradients: the check compares values)."""
    return (torch.rand(n_coeff, n_hidden, generator=gen) - 0.5,
            torch.rand(n_hidden, 1, generator=gen) - 0.3,
            torch.rand((), generator=gen))


def _preds_hidden(gen: torch.Generator) -> list[tuple]:
    """Line F's size, a single passenger, a single hidden unit (with negative inputs for relu to cut),
    with the default activation, then with each of :data:`ACTIVATIONS`."""
    cases = []
    for n, k, h in ((7, 12, 20), (1, 3, 4), (30, 5, 1)):
        cases.append((_coeffs(gen, k, h), torch.rand(n, k, generator=gen) * 2 - 0.5))
    for activation in ACTIVATIONS:
        cases.append((_coeffs(gen, 4, 3), torch.rand(5, 4, generator=gen) * 2 - 0.5, activation))
    return cases


def _grad_coeffs(coeffs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return tuple(c.clone().requires_grad_() for c in coeffs)


def _epoch_hidden(gen: torch.Generator) -> list[tuple]:
    """Runs of 4 to 6 epochs: line F's shape with relu, one passenger with Mish, one hidden unit with tanh."""
    cases = []
    for steps, n, k, h, lr, activation in ((MIN_HIDDEN_STEPS, 8, 12, 20, 20.0, None),
                                          (5, 1, 3, 4, 1.0, ACTIVATIONS[0]),
                                          (6, 12, 5, 1, 3.0, ACTIVATIONS[2])):
        x = torch.rand(n, k, generator=gen) * 2 - 0.5
        args = (steps, _grad_coeffs(_coeffs(gen, k, h)), x, (torch.rand(n, generator=gen) > 0.5).float(), lr)
        cases.append(args if activation is None else (*args, activation))
    return cases


SPECS = [
    Spec(
        id="init_coeffs_nn",
        reference=init_coeffs_nn,
        kind=SEEDED,
        public=lambda: [EXAMPLE_INIT],
        # (seed, n_coeff) uses the default of 20 hidden units; (seed, 1, 1) is the smallest network.
        hidden=lambda g: [(int(torch.randint(0, 10_000, (), generator=g)), *shape)
                          for shape in ((12, 20), (1, 1), (5, 8), (4,))],
    ),
    Spec(
        id="mish",
        reference=mish,
        public=lambda: [(EXAMPLE_ACTIVATION_INPUT,)],
        hidden=lambda g: [(torch.randn(10, generator=g) * 4,), (torch.randn(1, generator=g),),
                          (torch.randn(4, 5, generator=g) * 10,)],
    ),
    Spec(
        id="calc_preds_nn",
        reference=calc_preds_nn,
        public=lambda: [(EXAMPLE_COEFFS, EXAMPLE_X)],
        hidden=_preds_hidden,
        shown={"example_coeffs": EXAMPLE_COEFFS, "example_x": EXAMPLE_X},
    ),
    Spec(
        id="one_epoch_nn",
        reference=one_epoch_nn,
        kind=STEPS,
        public=lambda: [(EXAMPLE_STEPS, _grad_coeffs(EXAMPLE_COEFFS), EXAMPLE_X.clone(), EXAMPLE_Y.clone(), EXAMPLE_LR)],
        hidden=_epoch_hidden,
        shown={"example_coeffs": EXAMPLE_COEFFS, "example_x": EXAMPLE_X, "example_y": EXAMPLE_Y},
    ),
]
