"""Check specs of chapter 5's exercises (one hidden layer).

Public cases are the chapter's visible examples: a seed with a tiny network, three passengers with
two features, a handful of activation inputs. Hidden cases are random, drawn from the seeded
generator they are given, with shapes from one row or one hidden unit up to line F's 12 x 20.
"""

from __future__ import annotations

import torch

from autograder.runtime import SEEDED
from autograder.specs import Spec
from solutions.ch5_neural_net import calc_preds_nn, init_coeffs_nn, mish

#: The chapter's running example: three passengers, two features (as in chapter 2) ...
EXAMPLE_X = torch.tensor([[0.5, 1.0], [0.25, 0.0], [1.0, 0.5]])
#: ... and a network with three hidden units: layer1 (2, 3), layer2 (3, 1), a scalar constant.
EXAMPLE_LAYER1 = torch.tensor([[0.2, -0.1, 0.4], [-0.3, 0.5, 0.1]])
EXAMPLE_LAYER2 = torch.tensor([[1.0], [-2.0], [0.5]])
EXAMPLE_CONST = torch.tensor(0.1)
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
    """Line F's size, a single passenger, a single hidden unit (with negative inputs for relu to cut)."""
    cases = []
    for n, k, h in ((7, 12, 20), (1, 3, 4), (30, 5, 1)):
        cases.append((_coeffs(gen, k, h), torch.rand(n, k, generator=gen) * 2 - 0.5))
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
        public=lambda: [((EXAMPLE_LAYER1, EXAMPLE_LAYER2, EXAMPLE_CONST), EXAMPLE_X)],
        hidden=_preds_hidden,
    ),
]
