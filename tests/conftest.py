"""Shared test set-up: a fast, reproducible hypothesis profile and the two published data splits.

Keep this file small and generic; fixtures used by one test file belong in that file.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from solutions.ch1_titanic import Split, line_c_data, line_f_data
from solutions.ch6_deep import Baselines, baseline_accuracies

#: Hypothesis profile of the course's suite: few examples, no per-example deadline (the machine is
#: shared and slow), and derandomised so that a run is reproducible. Choose another profile with
#: ``HYPOTHESIS_PROFILE=<name>`` (for instance ``thorough`` for a longer search before a release).
settings.register_profile("course", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "course"))


@pytest.fixture(scope="session")
def line_f_split() -> Split:
    """Line F's data: mode fill, max scaling, ``randperm`` split under seed 42 (713/178). Do not mutate."""
    return line_f_data()


@pytest.fixture(scope="session")
def line_c_split() -> Split:
    """Line C's data: mode fill, standardised, ``train_test_split`` with 808 (712/179). Do not mutate."""
    return line_c_data()


@pytest.fixture(scope="session")
def line_c_baselines(line_c_split: Split) -> Baselines:
    """Validation accuracies of the default baselines on line C's split (fitted once: LightGBM is slow)."""
    return baseline_accuracies(*line_c_split)
