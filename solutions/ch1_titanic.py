"""Chapter 1, the Titanic setup: load, clean, build features, scale and split.

Both published lines start here. Line F scales each column by its maximum and splits with
``torch.randperm`` under seed 42; line C standardises the columns and splits with scikit-learn's
``train_test_split`` under ``random_state=808``.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from solutions.paths import TITANIC_TRAIN

#: Columns a Titanic training CSV must have for the course's features and target.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "Survived", "Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked",
)
#: Columns turned into one-hot dummies.
DUMMY_COLUMNS: tuple[str, ...] = ("Sex", "Pclass", "Embarked")
#: The twelve features, in the order both published lines use.
FEATURES: tuple[str, ...] = (
    "Age", "SibSp", "Parch", "LogFare",
    "Sex_male", "Sex_female",
    "Pclass_1", "Pclass_2", "Pclass_3",
    "Embarked_C", "Embarked_Q", "Embarked_S",
)
TARGET: str = "Survived"

#: Line F's split: ``torch.manual_seed(42)`` then ``torch.randperm``; the first 20% are validation.
LINE_F_SPLIT_SEED: int = 42
LINE_F_VALID_PCT: float = 0.2
#: Line C's split: ``train_test_split(test_size=0.2, random_state=808)``.
LINE_C_SPLIT_SEED: int = 808
LINE_C_TEST_SIZE: float = 0.2


class DataError(ValueError):
    """The data given to a course function is not what it needs; the message says what is wrong."""


class Split(NamedTuple):
    """Training and validation tensors of one split."""

    trn_x: torch.Tensor
    trn_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor


def load_titanic(path: str | Path = TITANIC_TRAIN) -> pd.DataFrame:
    """Read a Titanic CSV and check that it has the columns the course needs."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"Titanic data not found at {path}. The course ships it as data/titanic/train.csv; "
            "pass the path of a copy of Kaggle's train.csv."
        )
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not a readable CSV file: {err}") from err
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{path} lacks the column(s) {', '.join(missing)}; a Titanic training CSV has "
            f"{', '.join(REQUIRED_COLUMNS)}."
        )
    return df


def fill_missing_with_mode(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` with every missing value replaced by its column's mode."""
    modes = df.mode().iloc[0]
    return df.fillna(modes)


def add_log_fare(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` with the column ``LogFare = log(Fare + 1)``."""
    out = df.copy()
    out["LogFare"] = np.log(out["Fare"] + 1)
    return out


def add_dummies(df: pd.DataFrame, columns: tuple[str, ...] = DUMMY_COLUMNS) -> pd.DataFrame:
    """Return ``df`` with one-hot dummy columns (such as ``Sex_male``) in place of ``columns``."""
    return pd.get_dummies(df, columns=list(columns))


def prepare_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Apply the course's cleaning to a raw Titanic frame: mode fill, ``LogFare``, dummies."""
    return add_dummies(add_log_fare(fill_missing_with_mode(df)))


def to_tensors(
    df: pd.DataFrame, features: tuple[str, ...] | list[str] = FEATURES, target: str = TARGET
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the feature matrix (rows x features) and the target vector, both float32."""
    features = list(features)
    if len(features) != len(FEATURES):
        raise DataError(
            f"expected {len(FEATURES)} feature names ({', '.join(FEATURES)}), got {len(features)}"
        )
    missing = [c for c in [*features, target] if c not in df.columns]
    if missing:
        raise DataError(
            f"the frame lacks the column(s) {', '.join(missing)}; run prepare_frame() on it first"
        )
    try:
        x_values = df[features].astype("float32").to_numpy()
        y_values = df[target].astype("float32").to_numpy()
    except (ValueError, TypeError) as err:
        raise DataError(f"the features and the target must be numbers: {err}") from err
    return torch.tensor(x_values, dtype=torch.float32), torch.tensor(y_values, dtype=torch.float32)


def scale_by_max(x: torch.Tensor) -> torch.Tensor:
    """Divide each column by its maximum (line F), so every feature lies in [0, 1]."""
    return x / x.max(dim=0).values


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Subtract each column's mean and divide by its standard deviation (line C)."""
    return (x - x.mean(dim=0)) / x.std(dim=0)


def random_split(
    x: torch.Tensor, y: torch.Tensor, seed: int, valid_pct: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split rows at random: seed, shuffle the row numbers, the first share of them is validation.

    Seed PyTorch with ``seed``, draw a random order of the row numbers with ``torch.randperm``, take
    the first ``int(valid_pct * n)`` of them as validation rows and the rest as training rows (in
    that shuffled order). Return ``(trn_x, trn_y, val_x, val_y)``; ``x`` and ``y`` are not changed.
    """
    torch.manual_seed(seed)
    idx = torch.randperm(len(x))
    cut = int(valid_pct * len(x))
    val_idx, trn_idx = idx[:cut], idx[cut:]
    return x[trn_idx], y[trn_idx], x[val_idx], y[val_idx]


def split_line_f(
    x: torch.Tensor, y: torch.Tensor, seed: int = LINE_F_SPLIT_SEED, valid_pct: float = LINE_F_VALID_PCT
) -> Split:
    """Line F's split: :func:`random_split` with seed 42, the first 20% of the shuffled rows are validation."""
    return Split(*random_split(x, y, seed, valid_pct))


def split_line_c(
    x: torch.Tensor, y: torch.Tensor, seed: int = LINE_C_SPLIT_SEED, test_size: float = LINE_C_TEST_SIZE
) -> Split:
    """Line C's split: scikit-learn's ``train_test_split`` with a fixed ``random_state``."""
    trn_x, val_x, trn_y, val_y = train_test_split(x, y, test_size=test_size, random_state=seed)
    return Split(trn_x, trn_y, val_x, val_y)


def line_f_all_rows(path: str | Path = TITANIC_TRAIN) -> tuple[torch.Tensor, torch.Tensor]:
    """Line F before the split: all 891 rows, cleaned and max-scaled, and the targets."""
    x, y = to_tensors(prepare_frame(load_titanic(path)))
    return scale_by_max(x), y


def line_c_all_rows(path: str | Path = TITANIC_TRAIN) -> tuple[torch.Tensor, torch.Tensor]:
    """Line C before the split: all 891 rows, cleaned and standardised over all rows, and the targets."""
    x, y = to_tensors(prepare_frame(load_titanic(path)))
    return standardise(x), y


def line_f_data(path: str | Path = TITANIC_TRAIN) -> Split:
    """Line F end to end: load, clean, max-scale, split."""
    return split_line_f(*line_f_all_rows(path))


def line_c_data(path: str | Path = TITANIC_TRAIN) -> Split:
    """Line C end to end: load, clean, standardise, split."""
    return split_line_c(*line_c_all_rows(path))
