"""The hidden cases' seed: its default and the environment variable that overrides it.

Standard library only, so that what must stay light (``autograder.inputs``, the build's up-to-date
check in ``autograder.uptodate``) can read it without importing torch, as ``autograder.specs`` does.
``autograder.specs`` re-exports all three names.
"""

from __future__ import annotations

import os

#: Default seed of the hidden cases; each exercise mixes in its own id so cases differ between exercises.
HIDDEN_SEED: int = 20261122
#: For a graded term, set this environment variable to a private whole number when running both
#: ``assign`` and ``grade``/``grade-all``: the hidden inputs then cannot be derived from the public
#: repository. Use the same value for both, or nbgrader's own hidden blocks will test other inputs.
#: Make it long and random (128 bits): digests of it are stored with results, and a short one could be
#: found from them by trying every candidate.
HIDDEN_SEED_ENV: str = "AUTOGRADER_HIDDEN_SEED"


def hidden_seed() -> int:
    """The seed of the hidden cases: ``$AUTOGRADER_HIDDEN_SEED`` if set, else :data:`HIDDEN_SEED`."""
    value = os.environ.get(HIDDEN_SEED_ENV, "").strip()
    if not value:
        return HIDDEN_SEED
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{HIDDEN_SEED_ENV} must be a whole number, got {value!r}") from None
