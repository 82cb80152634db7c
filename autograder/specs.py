"""How each exercise is checked: its reference, its public example, its seeded random cases.

Each chapter's specs live in ``autograder/exercises/chN.py`` as a module-level list ``SPECS``.
A spec never holds expected values: they are always computed by calling the reference from
``solutions`` on the case's inputs, so a check can only agree with the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from autograder.runtime import DEFAULT_ATOL, DEFAULT_RTOL, KINDS, RETURN, observe
from autograder.seed import HIDDEN_SEED, HIDDEN_SEED_ENV, hidden_seed

#: The seed's names are defined in the torch-free ``autograder.seed`` and re-exported here.
__all__ = ["Args", "Spec", "HIDDEN_SEED", "HIDDEN_SEED_ENV", "hidden_seed"]

Args = tuple[Any, ...]


@dataclass(frozen=True)
class Spec:
    """One exercise's check: ``id`` is the function's name, unique across the course."""

    id: str
    reference: Callable[..., Any]
    #: The chapter's visible example(s): a function returning a list of argument tuples.
    public: Callable[[], Sequence[Args]]
    #: Random cases: a function of a seeded ``torch.Generator`` returning argument tuples.
    hidden: Callable[[torch.Generator], Sequence[Args]]
    kind: str = RETURN
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    #: The example values the task statement refers to by name (``{"raw": EXAMPLE_RAW}``): the
    #: chapter must show these very values under these names before the check (``book_checks.check``
    #: verifies it), and the release notebook's setup cell defines them.
    shown: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: unknown kind {self.kind!r}; expected one of {KINDS}")
        if self.reference.__name__ != self.id:
            raise ValueError(f"spec id {self.id!r} must be the reference function's name {self.reference.__name__!r}")

    def public_args(self) -> list[Args]:
        """The public cases' arguments."""
        return [tuple(a) for a in self.public()]

    def hidden_args(self, seed: int | None = None) -> list[Args]:
        """The hidden cases' arguments, the same for the same seed (default: :func:`hidden_seed`)."""
        seed = hidden_seed() if seed is None else seed
        gen = torch.Generator().manual_seed(seed + sum(map(ord, self.id)))
        return [tuple(a) for a in self.hidden(gen)]

    def expected(self, args_list: Sequence[Args]) -> list[tuple[Args, Any]]:
        """Pair each argument tuple with the reference's observed output."""
        return [(args, observe(self.reference, args, self.kind)) for args in args_list]

    def public_cases(self) -> list[tuple[Args, Any]]:
        """``(args, expected)`` for the public cases."""
        return self.expected(self.public_args())

    def hidden_cases(self, seed: int | None = None) -> list[tuple[Args, Any]]:
        """``(args, expected)`` for the hidden cases."""
        return self.expected(self.hidden_args(seed))
