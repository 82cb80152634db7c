"""Chapter 1's reference functions, each checked against a second way of computing the same thing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.model_selection import train_test_split

from solutions import ch1_titanic as ch1

pytestmark = pytest.mark.ch1

N_ROWS = 891


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return ch1.load_titanic()


def fill_by_column_loop(df: pd.DataFrame) -> pd.DataFrame:
    """The mode fill written the slow, obvious way: one column at a time."""
    out = df.copy()
    for col in out.columns:
        if out[col].isna().any():
            out[col] = out[col].fillna(out[col].mode().iloc[0])
    return out


def check_fill_missing_with_mode(fill: Callable[[pd.DataFrame], pd.DataFrame], df: pd.DataFrame) -> None:
    """``fill(df)`` equals the per-column loop, leaves ``df`` alone and leaves nothing missing."""
    before = df.copy()
    filled = fill(df)
    pd.testing.assert_frame_equal(df, before)  # the input is not changed
    pd.testing.assert_frame_equal(filled, fill_by_column_loop(df))
    assert not filled.isna().any().any()


def test_load_titanic_has_the_required_columns(raw: pd.DataFrame) -> None:
    assert len(raw) == N_ROWS
    assert set(ch1.REQUIRED_COLUMNS) <= set(raw.columns)


def test_fill_missing_with_mode_on_titanic(raw: pd.DataFrame) -> None:
    check_fill_missing_with_mode(ch1.fill_missing_with_mode, raw)


# Small frames: an integer column and a text column with holes; every column keeps one value.
_ints = st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=1, max_size=12).filter(
    lambda v: any(x is not None for x in v))


@given(ints=_ints, data=st.data())
def test_fill_missing_with_mode_property(ints: list[int | None], data: st.DataObject) -> None:
    words = data.draw(st.lists(st.one_of(st.none(), st.sampled_from("abc")), min_size=len(ints),
                               max_size=len(ints)).filter(lambda v: any(x is not None for x in v)))
    df = pd.DataFrame({"n": pd.array(ints, dtype="Float64").astype("float64"), "w": words})
    check_fill_missing_with_mode(ch1.fill_missing_with_mode, df)


@pytest.mark.parametrize("broken", [
    pytest.param(lambda df: df.fillna(df.mean(numeric_only=True)), id="mean-not-mode"),
    pytest.param(lambda df: df.fillna(df.mode().iloc[-1]), id="last-mode"),
    pytest.param(lambda df: df.dropna(), id="drops-rows"),
])
def test_fill_check_catches_mutants(raw: pd.DataFrame, broken: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    with pytest.raises(AssertionError):
        check_fill_missing_with_mode(broken, raw)


def test_add_log_fare(raw: pd.DataFrame) -> None:
    out = ch1.add_log_fare(raw)
    np.testing.assert_allclose(out["LogFare"], np.log1p(raw["Fare"].to_numpy()))
    assert "LogFare" not in raw.columns


def test_add_dummies_one_hot(raw: pd.DataFrame) -> None:
    out = ch1.add_dummies(ch1.fill_missing_with_mode(raw))
    for col in ch1.DUMMY_COLUMNS:
        assert col not in out.columns
        group = [c for c in out.columns if c.startswith(f"{col}_")]
        assert sorted(group) == sorted(f"{col}_{v}" for v in raw[col].dropna().unique())
        assert (out[group].sum(axis=1) == 1).all()  # exactly one dummy per row


def test_to_tensors_shapes_and_order(raw: pd.DataFrame) -> None:
    frame = ch1.prepare_frame(raw)
    x, y = ch1.to_tensors(frame)
    assert x.shape == (N_ROWS, len(ch1.FEATURES)) and x.dtype == torch.float32
    assert y.shape == (N_ROWS,) and y.dtype == torch.float32
    for j, name in enumerate(ch1.FEATURES):
        np.testing.assert_allclose(x[:, j].numpy(), frame[name].astype("float32").to_numpy())
    np.testing.assert_array_equal(y.numpy(), raw["Survived"].to_numpy(dtype="float32"))
    # the dummies cover every row, so a constant column is redundant (the brief's reason for no intercept)
    assert torch.equal(x[:, 4] + x[:, 5], torch.ones(N_ROWS))
    assert torch.equal(x[:, 6:9].sum(1), torch.ones(N_ROWS))


_matrices = st.integers(1, 6).flatmap(lambda rows: st.integers(1, 4).flatmap(lambda cols: st.lists(
    st.lists(st.floats(0.01, 1e3), min_size=cols, max_size=cols), min_size=rows, max_size=rows)))


@given(_matrices)
def test_scale_by_max_properties(rows: list[list[float]]) -> None:
    x = torch.tensor(rows, dtype=torch.float64)
    s = ch1.scale_by_max(x)
    assert s.shape == x.shape
    assert torch.allclose(s.max(dim=0).values, torch.ones(x.shape[1], dtype=x.dtype))
    assert bool(((s > 0) & (s <= 1 + 1e-12)).all())
    # another way: each column divided by its own maximum, one at a time
    for j in range(x.shape[1]):
        assert torch.allclose(s[:, j], x[:, j] / max(x[:, j].tolist()))


@given(_matrices.filter(lambda r: len(r) >= 3), st.floats(0.5, 20), st.floats(-50, 50))
def test_standardise_properties(rows: list[list[float]], scale: float, shift: float) -> None:
    x = torch.tensor(rows, dtype=torch.float64)
    spread = x.std(dim=0)
    # a (nearly) constant column has no meaningful standardisation
    assume(not bool((spread < 1e-3 * x.abs().max(dim=0).values + 1e-6).any()))
    z = ch1.standardise(x)
    assert torch.allclose(z.mean(dim=0), torch.zeros(x.shape[1], dtype=x.dtype), atol=1e-9)
    assert torch.allclose(z.std(dim=0), torch.ones(x.shape[1], dtype=x.dtype))
    # invariant under a positive affine change of units, as standardising should be
    assert torch.allclose(ch1.standardise(x * scale + shift), z, atol=1e-7)
    # another way: numpy with the sample standard deviation (ddof=1, torch's default)
    np.testing.assert_allclose(z.numpy(), (x.numpy() - x.numpy().mean(0)) / x.numpy().std(0, ddof=1), atol=1e-9)


def index_split(split_fn: Callable[..., ch1.Split]) -> tuple[list[int], list[int]]:
    """Run a split on the row numbers themselves; return its training and validation row numbers."""
    rows = torch.arange(N_ROWS, dtype=torch.float32)
    split = split_fn(rows[:, None], rows)
    # the targets travel with their rows
    assert torch.equal(split.trn_x[:, 0], split.trn_y) and torch.equal(split.val_x[:, 0], split.val_y)
    return [int(i) for i in split.trn_y], [int(i) for i in split.val_y]


def test_split_line_f_sizes_and_indices() -> None:
    trn, val = index_split(ch1.split_line_f)
    assert (len(trn), len(val)) == (713, 178)
    assert not set(trn) & set(val)
    assert sorted(trn + val) == list(range(N_ROWS))
    # another way: the brief's recipe, seed then randperm, first int(0.2 * 891) = 178 for validation
    torch.manual_seed(42)
    idx = torch.randperm(N_ROWS).tolist()
    assert (val, trn) == (idx[:178], idx[178:])


def test_split_line_c_sizes_and_indices() -> None:
    trn, val = index_split(ch1.split_line_c)
    assert (len(trn), len(val)) == (712, 179)
    assert not set(trn) & set(val)
    assert sorted(trn + val) == list(range(N_ROWS))
    expected_trn, expected_val = train_test_split(np.arange(N_ROWS), test_size=0.2, random_state=808)
    assert (trn, val) == (expected_trn.tolist(), expected_val.tolist())


def test_line_f_data(line_f_split: ch1.Split) -> None:
    x, _ = ch1.to_tensors(ch1.prepare_frame(ch1.load_titanic()))
    assert (len(line_f_split.trn_x), len(line_f_split.val_x)) == (713, 178)
    both = torch.cat([line_f_split.trn_x, line_f_split.val_x])
    assert torch.allclose(both.max(dim=0).values, torch.ones(x.shape[1]))
    assert float(both.min()) >= 0


def test_line_c_data(line_c_split: ch1.Split) -> None:
    assert (len(line_c_split.trn_x), len(line_c_split.val_x)) == (712, 179)
    both = torch.cat([line_c_split.trn_x, line_c_split.val_x])
    assert torch.allclose(both.mean(dim=0), torch.zeros(both.shape[1]), atol=1e-5)
    assert torch.allclose(both.std(dim=0), torch.ones(both.shape[1]), atol=1e-5)


def test_dummies_stand_in_for_an_intercept_under_max_scaling_only() -> None:
    """What chapters 1 to 3 teach about the intercept: least squares can rebuild a column of ones from line
    F's max-scaled columns exactly, and not at all from line C's standardised ones (whose columns all have
    mean 0, so their best fit to a constant is 0); z(Sex_male) + z(Sex_female) is 0 on every row."""
    ones = torch.ones(N_ROWS, 1, dtype=torch.float64)
    x_f, _ = ch1.line_f_all_rows()
    x_c, _ = ch1.line_c_all_rows()
    male, female = ch1.FEATURES.index("Sex_male"), ch1.FEATURES.index("Sex_female")
    assert torch.equal(x_f[:, male] + x_f[:, female], torch.ones(N_ROWS))
    assert float((x_c[:, male] + x_c[:, female]).abs().max()) < 1e-6
    # both sets of columns are collinear (Sex_male and Sex_female): a least-squares solver that drops
    # directions with singular values below rcond (relative) gives the minimum-norm fit
    fits = [x.double() @ torch.linalg.lstsq(x.double(), ones, rcond=1e-6, driver="gelsd").solution
            for x in (x_f, x_c)]
    assert torch.allclose(fits[0], ones, atol=1e-6)
    assert float(fits[1].abs().max()) < 1e-4


def test_random_split_partitions_the_rows_and_keeps_pairs() -> None:
    """Every row lands once, in the shuffled order of a seeded randperm; rows and targets stay paired."""
    x = torch.arange(30.0).reshape(10, 3)
    y = torch.arange(10.0)
    trn_x, trn_y, val_x, val_y = ch1.random_split(x, y, 7, 0.35)
    assert (len(val_x), len(trn_x)) == (int(0.35 * 10), 10 - int(0.35 * 10))
    torch.manual_seed(7)
    order = torch.randperm(10)
    assert torch.equal(torch.cat([val_y, trn_y]), y[order])
    assert torch.equal(torch.cat([val_x, trn_x]), x[order])
    assert torch.equal(x, torch.arange(30.0).reshape(10, 3))  # the arguments are not changed


def test_split_line_f_is_random_split_with_line_f_settings() -> None:
    x, y = torch.rand(20, 2), torch.rand(20)
    got = ch1.split_line_f(x, y)
    want = ch1.random_split(x, y, ch1.LINE_F_SPLIT_SEED, ch1.LINE_F_VALID_PCT)
    assert all(torch.equal(a, b) for a, b in zip(got, want))
