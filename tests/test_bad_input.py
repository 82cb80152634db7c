"""Bad data gives a DataError whose message says what is wrong, never a bare pandas or torch error."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from solutions.ch1_titanic import FEATURES, REQUIRED_COLUMNS, DataError, load_titanic, prepare_frame, to_tensors
from solutions.ch7_normal_equation import SOURDOUGH_INPUTS, SOURDOUGH_OUTPUTS, load_sourdough
from solutions.paths import SOURDOUGH_CSV, TITANIC_TRAIN

# Titanic checks belong to chapter 1, sourdough checks to chapter 7 (select with -m ch1 / -m ch7).
LOADERS = [pytest.param(load_titanic, id="titanic", marks=pytest.mark.ch1),
           pytest.param(load_sourdough, id="sourdough", marks=pytest.mark.ch7)]
Loader = Callable[[Path], object]

#: Contents that are not a CSV file of any kind.
NOT_CSV = {
    "empty": b"",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
    "latin1-binary": bytes(range(128, 256)),
    "unterminated-quote": b'a,b\n1,2\n"never closed,3\n4,5\n',
}


@pytest.mark.ch1
def test_data_error_is_a_value_error() -> None:
    assert issubclass(DataError, ValueError)


@pytest.mark.parametrize("loader", LOADERS)
def test_missing_file(loader: Loader, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(DataError, match="not found") as err:
        loader(missing)
    assert str(missing) in str(err.value)


@pytest.mark.parametrize("loader", LOADERS)
def test_a_directory_is_not_a_data_file(loader: Loader, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        loader(tmp_path)


@pytest.mark.parametrize("content", list(NOT_CSV.values()), ids=list(NOT_CSV))
@pytest.mark.parametrize("loader", LOADERS)
def test_not_a_csv(loader: Loader, content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match="is not a readable CSV file") as err:
        loader(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("loader, columns", [
    pytest.param(load_titanic, REQUIRED_COLUMNS, id="titanic", marks=pytest.mark.ch1),
    pytest.param(load_sourdough, (*SOURDOUGH_INPUTS, *SOURDOUGH_OUTPUTS), id="sourdough", marks=pytest.mark.ch7),
])
def test_csv_without_the_expected_columns(loader: Loader, columns: tuple[str, ...], tmp_path: Path) -> None:
    kept, dropped = list(columns[:2]), list(columns[2:])
    path = tmp_path / "partial.csv"
    pd.DataFrame({c: [1, 2] for c in [*kept, "Unrelated"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match="lacks the column") as err:
        loader(path)
    listed = re.search(r"lacks the column\(s\) ([^;]+)", str(err.value))
    assert listed, str(err.value)
    assert listed.group(1).split(", ") == dropped  # exactly the missing ones, in order


@pytest.mark.ch1
def test_text_that_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("These are my notes about the Titanic.\nNo table here.\n")
    with pytest.raises(DataError, match="lacks the column"):
        load_titanic(path)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return prepare_frame(load_titanic(TITANIC_TRAIN))


@pytest.mark.ch1
@pytest.mark.parametrize("features", [FEATURES[:-1], [*FEATURES, "Fare"], []], ids=["11", "13", "0"])
def test_feature_list_of_the_wrong_length(frame: pd.DataFrame, features: list[str]) -> None:
    with pytest.raises(DataError) as err:
        to_tensors(frame, features)
    message = str(err.value)
    assert f"expected {len(FEATURES)} feature names" in message and f"got {len(features)}" in message


@pytest.mark.ch1
def test_feature_names_not_in_the_frame(frame: pd.DataFrame) -> None:
    features = [*FEATURES[:-1], "Deck"]
    with pytest.raises(DataError, match="lacks the column.*Deck.*prepare_frame"):
        to_tensors(frame, features)


@pytest.mark.ch1
def test_raw_frame_needs_preparing() -> None:
    with pytest.raises(DataError, match="run prepare_frame"):
        to_tensors(load_titanic(TITANIC_TRAIN))


@pytest.mark.ch1
def test_non_numeric_feature(frame: pd.DataFrame) -> None:
    bad = frame.copy()
    bad["Age"] = bad["Age"].astype(object)
    bad.loc[bad.index[0], "Age"] = "about thirty"
    with pytest.raises(DataError, match="must be numbers.*about thirty"):
        to_tensors(bad)


@pytest.mark.ch7
def test_non_numeric_sourdough_value(tmp_path: Path) -> None:
    df = pd.read_csv(SOURDOUGH_CSV)
    df["starter_acidity_ph"] = df["starter_acidity_ph"].astype(object)
    df.loc[3, "starter_acidity_ph"] = "sour"
    path = tmp_path / "sourdough.csv"
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match="not numbers.*starter_acidity_ph"):
        load_sourdough(path)
