"""The committed data files are what their provenance and generator say they are."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from solutions.paths import DATA_DIR, SOURDOUGH_CSV, TITANIC_TEST, TITANIC_TRAIN

pytestmark = pytest.mark.data

PROVENANCE = DATA_DIR / "titanic" / "PROVENANCE.md"
GENERATOR = DATA_DIR / "sourdough" / "generate.py"


def provenance_table() -> dict[str, tuple[int, str]]:
    """``{file name: (rows, sha256)}`` from the table of ``PROVENANCE.md``."""
    rows = re.findall(r"^\|\s*(\S+\.csv)\s*\|\s*(\d+)\s*\|\s*([0-9a-f]{64})\s*\|", PROVENANCE.read_text(), re.M)
    return {name: (int(n), digest) for name, n, digest in rows}


def provenance_facts() -> tuple[dict[str, int], dict[str, float]]:
    """The "known facts" paragraph of ``PROVENANCE.md``: missing counts and column means."""
    text = " ".join(PROVENANCE.read_text().split())
    missing_clause = re.search(r"missing values ([^;]+);", text)
    assert missing_clause, "PROVENANCE.md no longer states the missing-value counts"
    missing = {col: int(n) for col, n in re.findall(r"(\w+) (\d+)", missing_clause.group(1))}
    means = {col: float(v) for col, v in re.findall(r"mean (\w+) (\d+(?:\.\d+)?)", text)}
    return missing, means


def load_generator() -> ModuleType:
    """Import ``data/sourdough/generate.py`` (a script, not a package module) by its path."""
    spec = importlib.util.spec_from_file_location("sourdough_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return pd.read_csv(TITANIC_TRAIN)


@pytest.mark.parametrize("path", [TITANIC_TRAIN, TITANIC_TEST], ids=lambda p: p.name)
def test_titanic_checksum_and_rows_match_provenance(path: Path) -> None:
    table = provenance_table()
    assert set(table) == {"train.csv", "test.csv"}, f"unexpected provenance table: {table}"
    rows, digest = table[path.name]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert len(pd.read_csv(path)) == rows


def test_titanic_row_counts(train: pd.DataFrame) -> None:
    assert len(train) == 891
    assert len(pd.read_csv(TITANIC_TEST)) == 418
    assert "Survived" not in pd.read_csv(TITANIC_TEST).columns


def test_titanic_missing_counts_match_provenance(train: pd.DataFrame) -> None:
    missing, _ = provenance_facts()
    assert missing == {"Age": 177, "Cabin": 687, "Embarked": 2}  # the parser read all three
    counts = train.isna().sum()
    assert {col: int(counts[col]) for col in missing} == missing
    # and nothing else is missing
    assert int(counts.drop(list(missing)).sum()) == 0


def test_titanic_means_match_provenance(train: pd.DataFrame) -> None:
    _, means = provenance_facts()
    assert set(means) == {"Survived", "Fare", "Pclass"}
    for col, value in means.items():
        assert round(float(train[col].mean()), 6) == value, col


def test_sourdough_generator_gives_the_committed_bytes() -> None:
    assert load_generator().generate().encode("utf-8") == SOURDOUGH_CSV.read_bytes()


def test_sourdough_script_writes_the_committed_bytes(tmp_path: Path) -> None:
    out = tmp_path / "sourdough.csv"
    result = subprocess.run([sys.executable, str(GENERATOR), str(out)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == SOURDOUGH_CSV.read_bytes()


def test_sourdough_seed_matters() -> None:
    gen = load_generator()
    assert gen.generate(seed=gen.SEED + 1) != gen.generate()


def test_sourdough_least_squares_recovers_the_true_weights() -> None:
    gen = load_generator()
    df = pd.read_csv(SOURDOUGH_CSV)
    assert list(df.columns) == [*gen.INPUTS, *gen.OUTPUTS]
    assert len(df) == gen.N_LOAVES
    inputs = df[list(gen.INPUTS)].to_numpy()
    z = (inputs - gen.INPUT_MEAN) / gen.INPUT_STD  # the generator's own standardisation
    design = np.column_stack([np.ones(len(z)), z])
    theta, *_ = np.linalg.lstsq(design, df[list(gen.OUTPUTS)].to_numpy(), rcond=None)
    bias, weight = theta[0], theta[1:].T
    # Each estimate has a standard error of about NOISE_STD / sqrt(N_LOAVES) = 0.3 / sqrt(120) = 0.027
    # (standardised inputs have unit variance; rounding and clipping of the inputs add far less).
    # 0.15 is more than 5 standard errors, and still half the smallest gap between two true weights
    # (0.3), so a swapped, negated or wrong weight fails. The observed worst error is about 0.08.
    tolerance = 0.15
    np.testing.assert_allclose(weight, gen.TRUE_WEIGHT, atol=tolerance)
    np.testing.assert_allclose(bias, gen.TRUE_BIAS, atol=tolerance)
    residual_std = float(np.std(df[list(gen.OUTPUTS)].to_numpy() - design @ theta, axis=0).mean())
    assert abs(residual_std - gen.NOISE_STD) < 0.1
