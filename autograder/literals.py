"""Case values written as readable Python source, for the assignment notebooks.

The public and hidden cases of an exercise (arguments and the reference's outputs) are written into
nbgrader's notebooks as Python expressions that rebuild the values exactly:

- tensors as ``torch.tensor([...], dtype=torch.float32)``, with ``.requires_grad_()`` when they need
  gradients and ``with_grad(tensor, grad)`` when they carry a ``.grad``; empty tensors as
  ``torch.empty((0, 3), dtype=...)``;
- numpy arrays as ``np.array([...], dtype=np.float64)``, numpy scalars as ``np.float64(1.5)``;
- pandas frames as ``pd.DataFrame({"col": pd.Series([...], dtype="float64"), ...})`` and series as
  ``pd.Series([...], dtype=..., name=...)``, with the index when it is not the default;
- tuples, lists, dicts, strings, floats (``math.nan``, ``math.inf``), ints, bools, ``None``,
  ``pd.NA``, ``torch.device(...)`` and torch dtypes.

Floats are written with the shortest text that gives back the same bits in their dtype (``0.2`` for a
float32 0.2, not ``0.20000000298023224``), so every value round-trips exactly: ``tests/test_assign.py``
checks it with hypothesis. The expressions need ``math``, ``np``, ``pd``, ``torch`` and the helper of
:data:`PRELUDE` in scope, as a release notebook's setup cell provides; :func:`evaluate` reads one back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

#: Lines are broken to stay within this many characters where a value allows it.
WIDTH: int = 100
INDENT: str = "    "
#: Name of the helper that sets a tensor's ``.grad`` inside an expression.
WITH_GRAD: str = "with_grad"
#: Helper definitions the literals rely on; a release notebook's setup cell includes them.
PRELUDE: str = f'''def {WITH_GRAD}(tensor, grad):
    """Return ``tensor`` with its ``.grad`` set to ``grad`` (how case literals write gradients)."""
    tensor.grad = grad
    return tensor'''


class LiteralError(TypeError):
    """A value has no literal form here; the message names its type and where it was found."""


@dataclass
class _Seq:
    """A bracketed sequence of parts: laid out flat if it fits, else broken over lines."""

    open: str
    items: list[Any]  # each a str or a _Seq
    close: str
    sep: str = ", "
    hug: bool = False  # never broken itself: its items break in place (calls, dict entries)
    fill: bool = False  # when broken, pack atoms onto lines (rows of numbers)
    one_tuple: bool = False  # a tuple of one needs its trailing comma even when flat
    suffix: str = field(default="")


def _flat(doc: Any) -> str:
    """One-line text of a layout document."""
    if isinstance(doc, str):
        return doc
    inner = doc.sep.join(_flat(i) for i in doc.items)
    return doc.open + inner + ("," if doc.one_tuple else "") + doc.close + doc.suffix


def _last_line(text: str) -> int:
    """Length of the last line of ``text``."""
    return len(text) - text.rfind("\n") - 1 if "\n" in text else len(text)


def _render(doc: Any, indent: int, col: int, width: int, reserve: int = 0) -> str:
    """Lay ``doc`` out starting at column ``col``; lines it breaks start at ``indent``.

    ``reserve`` is how many characters follow the value on its last line (closing brackets).
    """
    flat = _flat(doc)
    if isinstance(doc, str) or col + len(flat) + reserve <= width or not doc.items:
        return flat
    if doc.hug:
        out = doc.open
        tail = doc.close + doc.suffix
        for k, item in enumerate(doc.items):
            if k:
                out += doc.sep
            rest = doc.sep.join(_flat(i) for i in doc.items[k + 1:])
            after = (len(doc.sep) + len(rest) if rest else 0) + len(tail) + reserve
            col_now = col + len(out) if "\n" not in out else _last_line(out)
            out += _render(item, indent, col_now, width, after)
        return out + tail
    inner = indent + len(INDENT)
    pad = " " * inner
    if doc.fill and all(isinstance(i, str) for i in doc.items):
        lines, line = [], ""
        for item in doc.items:
            piece = item + ","
            if line and inner + len(line) + 1 + len(piece) > width:
                lines.append(line)
                line = piece
            else:
                line = f"{line} {piece}" if line else piece
        lines.append(line)
        body = "".join(f"{pad}{ln}\n" for ln in lines)
    else:
        body = "".join(f"{pad}{_render(i, inner, inner, width, 1)},\n" for i in doc.items)
    return f"{doc.open}\n{body}{' ' * indent}{doc.close}{doc.suffix}"


# --- numbers ---------------------------------------------------------------------------------------

def _special_float(x: float) -> str | None:
    """``math.nan`` / ``math.inf`` / ``-math.inf`` for non-finite floats, else ``None``."""
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "-math.inf"
    return None


def _float_text(x: float, dtype: torch.dtype = torch.float64) -> str:
    """The shortest text for ``x`` that gives back the same value in ``dtype``."""
    special = _special_float(x)
    if special:
        return special
    exact = repr(float(x))
    short = {torch.float32: np.float32, torch.float16: np.float16}.get(dtype)
    if short is None:
        return exact
    text = str(short(x))
    if "inf" in text or "nan" in text:
        return exact
    same = torch.tensor([float(text)], dtype=dtype).view(-1)
    return text if torch.equal(same, torch.tensor([x], dtype=dtype)) else exact


def _scalar_doc(x: Any, dtype: torch.dtype) -> str:
    """One tensor or array element as text."""
    if isinstance(x, bool):
        return repr(x)
    if isinstance(x, int):
        return repr(x)
    if isinstance(x, float):
        return _float_text(x, dtype)
    raise LiteralError(f"cannot write a tensor element of type {type(x).__name__} (complex tensors are not supported)")


def _nested(values: Any, dtype: torch.dtype) -> Any:
    """Nested lists of elements (from ``tolist()``) as a layout document."""
    if isinstance(values, list):
        items = [_nested(v, dtype) for v in values]
        return _Seq("[", items, "]", fill=all(isinstance(i, str) for i in items))
    return _scalar_doc(values, dtype)


# --- tensors and arrays ----------------------------------------------------------------------------

def _tensor_doc(t: torch.Tensor) -> Any:
    """A CPU tensor, with ``requires_grad`` and ``.grad``."""
    if t.device.type != "cpu":
        raise LiteralError(f"cannot write a tensor on {t.device}; move case values to the CPU")
    if t.is_complex() or t.is_quantized or t.is_sparse:
        raise LiteralError(f"cannot write a tensor of layout/dtype {t.layout}/{t.dtype}")
    values = t.detach()
    dtype = str(t.dtype)
    if values.numel() == 0 and values.dim() > 1:
        doc: Any = _Seq("torch.empty(", [repr(tuple(values.shape)), f"dtype={dtype}"], ")", hug=True)
    else:
        data = values.tolist()
        doc = _Seq("torch.tensor(", [_nested(data, t.dtype), f"dtype={dtype}"], ")", hug=True)
    if t.requires_grad:
        doc.suffix = ".requires_grad_()"
    if t.is_leaf and t.grad is not None:  # only leaves keep a .grad
        doc = _Seq(f"{WITH_GRAD}(", [doc, _tensor_doc(t.grad)], ")")
    return doc


def _np_dtype(dtype: np.dtype) -> str:
    """A numpy dtype as ``np.<name>`` (booleans, integers and floats only)."""
    if dtype.kind not in "biuf":
        raise LiteralError(f"cannot write a numpy array of dtype {dtype}")
    return f"np.{dtype.name}"


def _array_doc(a: np.ndarray) -> Any:
    """A numpy array as ``np.array([...], dtype=...)``."""
    dtype = _np_dtype(a.dtype)
    if a.size == 0 and a.ndim > 1:
        return _Seq("np.empty(", [repr(tuple(a.shape)), f"dtype={dtype}"], ")", hug=True)
    tdtype = {"float32": torch.float32, "float16": torch.float16}.get(a.dtype.name, torch.float64)
    return _Seq("np.array(", [_nested(a.tolist(), tdtype), f"dtype={dtype}"], ")", hug=True)


def _np_scalar_doc(x: np.generic) -> str:
    """A numpy scalar as ``np.<dtype>(value)``."""
    dtype = _np_dtype(x.dtype)
    item = x.item()
    if isinstance(item, float):
        tdtype = {"float32": torch.float32, "float16": torch.float16}.get(x.dtype.name, torch.float64)
        return f"{dtype}({_float_text(item, tdtype)})"
    return f"{dtype}({item!r})"


# --- pandas ----------------------------------------------------------------------------------------

def _pd_dtype(dtype: Any) -> Any:
    """A pandas dtype as text that gives it back, e.g. ``"float64"``, ``"str"``, ``"Int64"``."""
    if isinstance(dtype, pd.CategoricalDtype):
        cats = _doc(list(dtype.categories), "categories")
        return _Seq("pd.CategoricalDtype(", [cats, f"ordered={bool(dtype.ordered)!r}"], ")", hug=True)
    text = str(dtype)
    try:
        same = pd.api.types.pandas_dtype(text) == dtype
    except TypeError:
        same = False
    if not same:
        raise LiteralError(f"cannot write the pandas dtype {dtype!r}")
    return repr(text)


def _pd_value(x: Any, where: str) -> Any:
    """One value of a pandas Series or Index (``pd.NA``, numpy scalars as Python ones)."""
    if x is pd.NA:
        return "pd.NA"
    if isinstance(x, np.generic):
        x = x.item()
    return _doc(x, where)


def _index_doc(index: pd.Index) -> Any:
    """A pandas index as ``pd.RangeIndex(...)`` or ``pd.Index([...], dtype=...)``."""
    if isinstance(index, pd.RangeIndex):
        items = [repr(index.start), repr(index.stop), repr(index.step)]
        if index.name is not None:
            items.append(f"name={_flat(_doc(index.name, 'an index name'))}")
        return _Seq("pd.RangeIndex(", items, ")", hug=True)
    if isinstance(index, pd.MultiIndex):
        raise LiteralError("cannot write a pandas MultiIndex")
    values = _Seq("[", [_pd_value(v, "an index") for v in index.tolist()], "]", fill=True)
    items = [values, _Seq("dtype=", [_pd_dtype(index.dtype)], "", hug=True)]
    if index.name is not None:
        items.append(f"name={_flat(_doc(index.name, 'an index name'))}")
    return _Seq("pd.Index(", items, ")", hug=True)


def _default_index(index: pd.Index) -> bool:
    """Whether an index is the default ``RangeIndex(n)`` without a name."""
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None


def _series_doc(s: pd.Series, with_index: bool = True, with_name: bool = True) -> Any:
    """A Series as ``pd.Series([...], dtype=..., index=..., name=...)``."""
    values = _Seq("[", [_pd_value(v, "a Series") for v in s.tolist()], "]", fill=True)
    items: list[Any] = [values, _Seq("dtype=", [_pd_dtype(s.dtype)], "", hug=True)]
    if with_index and not _default_index(s.index):
        items.append(_Seq("index=", [_index_doc(s.index)], "", hug=True))
    if with_name and s.name is not None:
        items.append(_Seq("name=", [_doc(s.name, "a Series name")], "", hug=True))
    return _Seq("pd.Series(", items, ")", hug=True)


def _frame_doc(df: pd.DataFrame) -> Any:
    """A DataFrame as a dict of typed Series, with ``.set_axis(...)`` for a non-default index."""
    if not df.columns.is_unique:
        raise LiteralError(f"cannot write a DataFrame with repeated column names {list(df.columns)}")
    if isinstance(df.columns, pd.MultiIndex) or df.columns.name is not None:
        raise LiteralError("cannot write a DataFrame with a MultiIndex or named columns")
    if df.shape[1] == 0:
        return _Seq("pd.DataFrame(", [_Seq("index=", [_index_doc(df.index)], "", hug=True)], ")", hug=True)
    entries = [_Seq("", [_doc(col, "a column name"), _series_doc(df[col], with_index=False, with_name=False)],
                    "", sep=": ", hug=True) for col in df.columns]
    doc = _Seq("pd.DataFrame(", [_Seq("{", entries, "}")], ")", hug=True)
    if _default_index(df.index):
        return doc
    return _Seq("", [doc, _Seq(".set_axis(", [_index_doc(df.index)], ")", hug=True)], "", sep="", hug=True)


# --- everything ------------------------------------------------------------------------------------

def _doc(value: Any, where: str = "a case") -> Any:
    """Any supported value as a layout document; a clear error for the rest."""
    if value is None or isinstance(value, (bool, str, bytes)):
        return repr(value)
    if value is pd.NA:
        return "pd.NA"
    if isinstance(value, torch.Tensor):
        return _tensor_doc(value)
    if isinstance(value, np.ndarray):
        return _array_doc(value)
    if isinstance(value, np.generic):
        return _np_scalar_doc(value)
    if isinstance(value, pd.DataFrame):
        return _frame_doc(value)
    if isinstance(value, pd.Series):
        return _series_doc(value)
    if type(value) is int:
        return repr(value)
    if type(value) is float:
        return _float_text(value)
    if isinstance(value, torch.device):
        return f"torch.device({str(value)!r})"
    if isinstance(value, torch.dtype):
        return str(value)
    if type(value) is tuple:
        return _Seq("(", [_doc(v, where) for v in value], ")", one_tuple=len(value) == 1)
    if type(value) is list:
        return _Seq("[", [_doc(v, where) for v in value], "]")
    if type(value) is dict:
        return _Seq("{", [_Seq("", [_doc(k, where), _doc(v, where)], "", sep=": ", hug=True)
                          for k, v in value.items()], "}")
    raise LiteralError(f"cannot write a value of type {type(value).__module__}.{type(value).__qualname__} "
                       f"found in {where} as a Python literal; use tensors, arrays, pandas objects, "
                       f"tuples, lists, dicts, numbers, strings or None")


def to_literal(value: Any, indent: int = 0, width: int = WIDTH, start: int | None = None, reserve: int = 0) -> str:
    """Python source that rebuilds ``value`` exactly, laid out for lines of at most ``width`` characters.

    Continuation lines are indented by ``indent``; the first line is not indented and starts at column
    ``start`` (default ``indent``), after whatever precedes it; ``reserve`` characters follow it.
    """
    return _render(_doc(value), indent, indent if start is None else start, width, reserve)


def namespace() -> dict[str, Any]:
    """The names the literals use: ``math``, ``np``, ``pd``, ``torch`` and the :data:`PRELUDE` helper."""
    names: dict[str, Any] = {"math": math, "np": np, "pd": pd, "torch": torch}
    exec(PRELUDE, names)  # noqa: S102 - our own constant helper source
    return names


def evaluate(text: str) -> Any:
    """Read back a value written by :func:`to_literal`."""
    return eval(text, namespace())  # noqa: S307 - literals we wrote, in the names they need
