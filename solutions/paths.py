"""Where the course's data lives, found from this package, not from the working directory."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT: Path = Path(__file__).resolve().parent.parent
DATA_DIR: Path = PROJECT_ROOT / "data"
TITANIC_TRAIN: Path = DATA_DIR / "titanic" / "train.csv"
TITANIC_TEST: Path = DATA_DIR / "titanic" / "test.csv"
SOURDOUGH_CSV: Path = DATA_DIR / "sourdough" / "sourdough.csv"
