"""Check specs of chapter 1's exercises (the Titanic setup).

Public cases are the chapter's visible examples: the first six passengers of ``train.csv`` (a few
columns, typed in here so that checks never read the CSV; the chapter's ``small`` must equal them)
and the first four rows of three numeric columns as a tensor with their targets, split in two.
Hidden cases are small random frames and tensors drawn from the seeded generator, with missing
values, ties and one-row edges; the splits vary the seed, the share and the shapes.
"""

from __future__ import annotations

import pandas as pd
import torch

from autograder.specs import Spec
from solutions.ch1_titanic import fill_missing_with_mode, random_split

NAN = float("nan")
#: The chapter's running example: ``df.loc[:5, EXAMPLE_COLUMNS]`` of the Titanic training data.
EXAMPLE_COLUMNS: tuple[str, ...] = ("Survived", "Pclass", "Sex", "Age", "Fare", "Cabin", "Embarked")
EXAMPLE_ROWS: dict[str, list] = {
    "Survived": [0, 1, 1, 1, 0, 0],
    "Pclass": [3, 1, 3, 1, 3, 3],
    "Sex": ["male", "female", "female", "female", "male", "male"],
    "Age": [22.0, 38.0, 26.0, 35.0, 35.0, NAN],
    "Fare": [7.25, 71.2833, 7.925, 53.1, 8.05, 8.4583],
    "Cabin": [NAN, "C85", NAN, "C123", NAN, NAN],
    "Embarked": ["S", "C", "S", "S", "S", "Q"],
}
#: The chapter's tensor example: ``Age``, ``SibSp`` and ``Fare`` of the first four passengers.
EXAMPLE_TENSOR_COLUMNS: tuple[str, ...] = ("Age", "SibSp", "Fare")
EXAMPLE_TENSOR_ROWS: list[list[float]] = [
    [22.0, 1.0, 7.25],
    [38.0, 1.0, 71.2833],
    [26.0, 0.0, 7.925],
    [35.0, 1.0, 53.1],
]

#: ``Survived`` of the same four passengers, as float32 targets.
EXAMPLE_TENSOR_TARGETS: list[float] = [0.0, 1.0, 1.0, 1.0]
#: The chapter's split example: seed 42, half of the four rows for validation.
EXAMPLE_SPLIT_SEED: int = 42
EXAMPLE_SPLIT_PCT: float = 0.5

_SEXES = ("male", "female")
_PORTS = ("S", "C", "Q")


def example_frame() -> pd.DataFrame:
    """A fresh copy of the chapter's six-passenger frame."""
    return pd.DataFrame({c: list(EXAMPLE_ROWS[c]) for c in EXAMPLE_COLUMNS})


def example_tensor() -> torch.Tensor:
    """A fresh copy of the chapter's 4 x 3 tensor (float32)."""
    return torch.tensor(EXAMPLE_TENSOR_ROWS, dtype=torch.float32)


def example_targets() -> torch.Tensor:
    """A fresh copy of the four passengers' targets (float32)."""
    return torch.tensor(EXAMPLE_TENSOR_TARGETS, dtype=torch.float32)


def _missing(gen: torch.Generator, n: int, share: float) -> list[bool]:
    """Which of ``n`` rows are missing; row 0 never is, so every column keeps a mode."""
    mask = (torch.rand(n, generator=gen) < share).tolist()
    return [False, *mask[1:]]


def random_frame(gen: torch.Generator, n: int, share_missing: float = 0.3, zero_fare: bool = False) -> pd.DataFrame:
    """A random Titanic-like frame of ``n`` rows with missing ``Age``, ``Embarked`` and ``Cabin`` values.

    Ages come from a handful of values, so modes have ties and repeats as in the real data.
    """
    pick = lambda options: [options[int(i)] for i in torch.randint(len(options), (n,), generator=gen)]  # noqa: E731
    ages = [float(a) for a in (torch.randint(1, 6, (n,), generator=gen) * 10).tolist()]
    fares = [round(f, 4) for f in (torch.rand(n, generator=gen) * 100).tolist()]
    if zero_fare:
        fares[-1] = 0.0
    cabins = pick(("A10", "B22", "C85", "E46"))
    frame = pd.DataFrame({
        "Survived": torch.randint(2, (n,), generator=gen).tolist(),
        "Pclass": torch.randint(1, 4, (n,), generator=gen).tolist(),
        "Sex": pick(_SEXES),
        "Age": [NAN if m else a for a, m in zip(ages, _missing(gen, n, share_missing))],
        "Fare": fares,
        "Cabin": [NAN if m else c for c, m in zip(cabins, _missing(gen, n, 0.7))],
        "Embarked": [NAN if m else p for p, m in zip(pick(_PORTS), _missing(gen, n, share_missing))],
    })
    return frame


def _split_hidden(gen: torch.Generator) -> list[tuple]:
    """Seeds, shares and shapes: a wide batch, one column, a share that rounds down, no validation row."""
    cases = []
    for n, k, pct in ((20, 3, 0.2), (7, 1, 0.5), (11, 4, 0.33), (3, 2, 0.1)):
        seed = int(torch.randint(0, 10_000, (), generator=gen))
        x = torch.rand(n, k, generator=gen)
        cases.append((x, (torch.rand(n, generator=gen) > 0.5).float(), seed, pct))
    return cases


SPECS = [
    Spec(
        id="fill_missing_with_mode",
        reference=fill_missing_with_mode,
        public=lambda: [(example_frame(),)],
        hidden=lambda g: [(random_frame(g, 8),), (random_frame(g, 15, 0.5),), (random_frame(g, 1),),
                          (random_frame(g, 4, 0.0),)],
        shown={"small": example_frame()},
    ),
    Spec(
        id="random_split",
        reference=random_split,
        public=lambda: [(example_tensor(), example_targets(), EXAMPLE_SPLIT_SEED, EXAMPLE_SPLIT_PCT)],
        hidden=_split_hidden,
        shown={"small_x": example_tensor(), "small_y": example_targets()},
    ),
]
