"""Safe data across the grading boundary: values <-> JSON, never pickle, never code.

The grader sends case arguments into the sandboxed student process and receives the observed
outputs back with this module; its source is copied into the sandbox, so it is self-contained
(standard library, ``torch``, ``numpy``, ``pandas`` only, like :mod:`autograder.runtime`).

What can cross: ``None``, ``bool``, ``int``, ``float``, ``str``, lists, tuples, dicts (keys of those
scalar types), ``torch.Tensor`` (dense, CPU, whitelisted dtypes, with ``requires_grad`` and
``.grad``), ``numpy`` arrays and scalars, ``pandas`` Series, DataFrames and their indexes, and
``torch.device``. Anything else is refused with :class:`Unsupported` when encoding.

Decoding treats its input as hostile: it checks every tag and field, accepts only the whitelisted
dtypes, caps the nesting depth, the number of items and the total bytes of array data, and raises
:class:`WireError` on anything it does not accept. A decoded value holds only plain data.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import torch

TAG = "$"
#: Deepest nesting of containers accepted (a tensor's ``.grad`` counts as one level).
MAX_DEPTH = 32
#: Default cap on the raw bytes of array data in one decoded value.
MAX_BYTES = 64 * 1024 * 1024
#: Cap on the number of items (scalars, containers, arrays) in one decoded value.
MAX_ITEMS = 1_000_000
MAX_NDIM = 32
MAX_STR = 1_000_000

#: dtypes allowed for tensors and arrays, by name (``str(np.dtype)`` / ``torch`` attribute name).
TORCH_DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
    "float64": torch.float64, "complex64": torch.complex64, "complex128": torch.complex128,
    "uint8": torch.uint8, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32,
    "int64": torch.int64, "bool": torch.bool,
}
NUMPY_DTYPES: frozenset[str] = frozenset({
    "float16", "float32", "float64", "complex64", "complex128", "bool",
    "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
})
#: pandas column/index dtypes that travel as a list of scalars and are rebuilt by name.
PANDAS_SCALAR_DTYPES: frozenset[str] = frozenset({"object", "str", "string", "category"})


class WireError(ValueError):
    """Data that cannot cross the boundary; the message says why, in a line."""


class Unsupported(WireError):
    """A value of a type the wire does not carry."""

    def __init__(self, value: Any) -> None:
        super().__init__(f"returned a value of unsupported type {type(value).__name__}")


# ----------------------------------------------------------------------------------------- encode

def encode(value: Any, _depth: int = 0) -> Any:
    """The JSON-ready form of ``value``; raise :class:`Unsupported` for anything not listed above."""
    if _depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    d = _depth + 1
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {TAG: "float", "v": repr(value)}
    if isinstance(value, torch.Tensor):
        return _encode_tensor(value, d)
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, np.generic):
        arr = np.asarray(value)
        if arr.dtype.name not in NUMPY_DTYPES:
            raise Unsupported(value)
        return {TAG: "npscalar", "dtype": arr.dtype.name, "data": _b64(arr.tobytes())}
    if isinstance(value, torch.device):
        return {TAG: "device", "type": value.type, "index": value.index}
    if isinstance(value, pd.DataFrame):
        return {TAG: "frame", "columns": [encode(c, d) for c in value.columns],
                "index": _encode_index(value.index, d),
                "data": [_encode_series(value.iloc[:, j], d) for j in range(value.shape[1])]}
    if isinstance(value, pd.Series):
        return _encode_series(value, d)
    if isinstance(value, pd.Index):
        return _encode_index(value, d)
    if isinstance(value, tuple):  # includes torch.Size and named tuples, sent as plain tuples
        return {TAG: "tuple", "items": [encode(v, d) for v in tuple.__iter__(value)]}
    if isinstance(value, list):
        return [encode(v, d) for v in list.__iter__(value)]
    if isinstance(value, dict):
        items = list(dict.items(value))
        if not all(k is None or type(k) in (bool, int, float, str) for k, _ in items):
            raise WireError("returned a dict with keys other than None, bool, int, float or str")
        return {TAG: "dict", "items": [[encode(k, d), encode(v, d)] for k, v in items]}
    raise Unsupported(value)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _encode_tensor(t: torch.Tensor, depth: int) -> dict:
    name = str(t.dtype).removeprefix("torch.")
    if name not in TORCH_DTYPES or t.layout != torch.strided or t.is_quantized or t.device.type == "meta":
        raise WireError(f"returned a tensor of unsupported kind (dtype {t.dtype}, layout {t.layout}, "
                        f"device {t.device})")
    data = torch.Tensor.detach(t).cpu().contiguous()
    raw = data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b""
    grad = torch.Tensor.grad.__get__(t)
    return {TAG: "tensor", "dtype": name, "shape": list(data.shape), "data": _b64(raw),
            "requires_grad": bool(t.requires_grad),
            "grad": None if grad is None else _encode_tensor(grad, depth + 1)}


def _encode_array(a: np.ndarray) -> dict:
    if a.dtype.name not in NUMPY_DTYPES:
        if a.dtype == object:
            return {TAG: "objarray", "shape": list(a.shape), "items": [encode(v, 1) for v in a.reshape(-1).tolist()]}
        raise WireError(f"returned a numpy array of unsupported dtype {a.dtype}")
    data = np.ascontiguousarray(a)
    return {TAG: "ndarray", "dtype": a.dtype.name, "shape": list(a.shape), "data": _b64(data.tobytes())}


def _encode_values(values: Any, dtype_name: str, depth: int) -> Any:
    if dtype_name in NUMPY_DTYPES:
        return _encode_array(np.asarray(values))
    return [encode(_plain(v), depth) for v in list(values)]


def _plain(v: Any) -> Any:
    """pandas' missing-value markers and numpy scalars inside object columns, as plain Python."""
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def _encode_series(s: pd.Series, depth: int) -> dict:
    dtype_name = _dtype_name(s.dtype)
    return {TAG: "series", "dtype": dtype_name, "name": encode(_plain(s.name), depth),
            "index": _encode_index(s.index, depth), "values": _encode_values(s.array, dtype_name, depth)}


def _encode_index(index: pd.Index, depth: int) -> dict:
    if isinstance(index, pd.RangeIndex):
        return {TAG: "range", "start": int(index.start), "stop": int(index.stop), "step": int(index.step),
                "name": encode(_plain(index.name), depth)}
    if isinstance(index, pd.MultiIndex):
        raise WireError("returned a pandas MultiIndex, which the grader does not accept")
    dtype_name = _dtype_name(index.dtype)
    return {TAG: "index", "dtype": dtype_name, "name": encode(_plain(index.name), depth),
            "values": _encode_values(index, dtype_name, depth)}


def _dtype_name(dtype: Any) -> str:
    name = str(dtype)
    if name in NUMPY_DTYPES or name in PANDAS_SCALAR_DTYPES:
        return name
    raise WireError(f"returned pandas data of unsupported dtype {name}")


def dumps(value: Any) -> str:
    """``value`` as a JSON text (see :func:`encode`)."""
    return json.dumps(encode(value), separators=(",", ":"))


# ----------------------------------------------------------------------------------------- decode

class _Budget:
    """What one decode may still use: raw array bytes and items."""

    def __init__(self, max_bytes: int) -> None:
        self.bytes = max_bytes
        self.items = MAX_ITEMS

    def take(self, n_bytes: int = 0) -> None:
        self.items -= 1
        self.bytes -= n_bytes
        if self.items < 0:
            raise WireError(f"more than {MAX_ITEMS} items")
        if self.bytes < 0:
            raise WireError("more array data than the grader accepts")


def decode(obj: Any, max_bytes: int = MAX_BYTES) -> Any:
    """Rebuild a value from :func:`encode`'s form, validating everything; raise :class:`WireError`."""
    try:
        return _decode(obj, 0, _Budget(max_bytes))
    except WireError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, RuntimeError) as err:
        raise WireError(f"malformed data ({type(err).__name__}: {err})"[:300]) from None


def loads(text: str | bytes, max_bytes: int = MAX_BYTES) -> Any:
    """Parse and :func:`decode` one JSON text (at most about ``2 * max_bytes`` long)."""
    if len(text) > 2 * max_bytes + 1_000_000:
        raise WireError("message larger than the grader accepts")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise WireError(f"not valid JSON ({type(err).__name__})") from None
    return decode(obj, max_bytes)


def _fields(obj: dict, *names: str) -> list:
    if set(obj) != {TAG, *names}:
        raise WireError(f"{obj[TAG]!r} record has fields {sorted(obj)}, expected {sorted({TAG, *names})}")
    return [obj[n] for n in names]


def _decode(obj: Any, depth: int, budget: _Budget) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"nested deeper than {MAX_DEPTH} levels")
    budget.take()
    d = depth + 1
    if obj is None or type(obj) in (bool, int, float):
        return obj
    if type(obj) is str:
        if len(obj) > MAX_STR:
            raise WireError("string longer than the grader accepts")
        budget.take(len(obj))
        return obj
    if type(obj) is list:
        return [_decode(v, d, budget) for v in obj]
    if type(obj) is not dict or type(obj.get(TAG)) is not str:
        raise WireError(f"unexpected JSON value of type {type(obj).__name__}")
    tag = obj[TAG]
    if tag == "tuple":
        (items,) = _fields(obj, "items")
        return tuple(_decode(_list(items), d, budget))
    if tag == "dict":
        (items,) = _fields(obj, "items")
        out = {}
        for pair in _list(items):
            if type(pair) is not list or len(pair) != 2:
                raise WireError("dict items must be [key, value] pairs")
            key = _decode(pair[0], d, budget)
            if not (key is None or type(key) in (bool, int, float, str)):
                raise WireError("dict keys must be None, bool, int, float or str")
            out[key] = _decode(pair[1], d, budget)
        return out
    if tag == "float":
        (v,) = _fields(obj, "v")
        if v not in ("nan", "inf", "-inf"):
            raise WireError(f"bad special float {v!r}")
        return float(v)
    if tag == "tensor":
        return _decode_tensor(obj, d, budget)
    if tag == "ndarray":
        return _decode_array(obj, budget)
    if tag == "objarray":
        shape, items = _fields(obj, "shape", "items")
        shape = _shape(shape)
        values = [_scalar(_decode(v, d, budget)) for v in _list(items)]
        if len(values) != math.prod(shape):
            raise WireError("object array has the wrong number of items")
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out.reshape(shape)
    if tag == "npscalar":
        dtype, data = _fields(obj, "dtype", "data")
        if dtype not in NUMPY_DTYPES:
            raise WireError(f"numpy dtype {dtype!r} is not accepted")
        raw = _unb64(data, budget)
        if len(raw) != np.dtype(dtype).itemsize:
            raise WireError("numpy scalar has the wrong number of bytes")
        return np.frombuffer(raw, dtype=dtype)[0]
    if tag == "device":
        kind, index = _fields(obj, "type", "index")
        if kind not in ("cpu", "cuda", "mps", "meta") or not (index is None or type(index) is int):
            raise WireError(f"bad device {kind!r}:{index!r}")
        return torch.device(kind, index) if index is not None else torch.device(kind)
    if tag == "series":
        return _decode_series(obj, d, budget)
    if tag in ("index", "range"):
        return _decode_index(obj, d, budget)
    if tag == "frame":
        columns, index, data = _fields(obj, "columns", "index", "data")
        cols = [_scalar(_decode(c, d, budget)) for c in _list(columns)]
        idx = _decode_index(index, d, budget)
        series = [_decode_series(s, d, budget) for s in _list(data)]
        if len(series) != len(cols) or any(len(s) != len(idx) for s in series):
            raise WireError("data frame columns do not match its shape")
        frame = pd.DataFrame({j: s.set_axis(idx) for j, s in enumerate(series)}, index=idx)
        frame.columns = pd.Index(cols, dtype=object) if cols else pd.RangeIndex(0)
        return frame
    raise WireError(f"unknown record type {tag!r}")


def _list(v: Any) -> list:
    if type(v) is not list:
        raise WireError("expected a list")
    return v


def _scalar(v: Any) -> Any:
    if v is None or type(v) in (bool, int, float, str) or isinstance(v, np.generic):
        return v
    raise WireError("expected a scalar")


def _shape(shape: Any) -> tuple[int, ...]:
    if type(shape) is not list or len(shape) > MAX_NDIM or any(type(n) is not int or n < 0 for n in shape):
        raise WireError("bad shape")
    if math.prod(shape) > MAX_BYTES * 8:
        raise WireError("shape larger than the grader accepts")
    return tuple(shape)


def _unb64(data: Any, budget: _Budget) -> bytes:
    if type(data) is not str:
        raise WireError("array data must be a base64 string")
    budget.take(len(data) * 3 // 4)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise WireError("array data is not valid base64") from None


def _decode_tensor(obj: dict, depth: int, budget: _Budget) -> torch.Tensor:
    if depth > MAX_DEPTH:
        raise WireError(f"nested deeper than {MAX_DEPTH} levels")
    dtype, shape, data, requires_grad, grad = _fields(obj, "dtype", "shape", "data", "requires_grad", "grad")
    if dtype not in TORCH_DTYPES:
        raise WireError(f"tensor dtype {dtype!r} is not accepted")
    tdtype, shape = TORCH_DTYPES[dtype], _shape(shape)
    raw = _unb64(data, budget)
    n = math.prod(shape)
    if len(raw) != n * tdtype.itemsize:
        raise WireError(f"tensor data has {len(raw)} bytes, its dtype and shape need {n * tdtype.itemsize}")
    t = torch.frombuffer(bytearray(raw), dtype=tdtype).reshape(shape) if n else torch.empty(shape, dtype=tdtype)
    if type(requires_grad) is not bool:
        raise WireError("requires_grad must be a bool")
    if requires_grad:
        if not (t.is_floating_point() or t.is_complex()):
            raise WireError("only floating point tensors can require gradients")
        t.requires_grad_()
    if grad is not None:
        if type(grad) is not dict or grad.get(TAG) != "tensor":
            raise WireError(".grad must be a tensor")
        g = _decode_tensor(grad, depth + 1, budget)
        if g.shape != t.shape or g.dtype != t.dtype or g.requires_grad:
            raise WireError(".grad must match its tensor's shape and dtype")
        t.grad = g
    return t


def _decode_array(obj: dict, budget: _Budget) -> np.ndarray:
    dtype, shape, data = _fields(obj, "dtype", "shape", "data")
    if dtype not in NUMPY_DTYPES:
        raise WireError(f"numpy dtype {dtype!r} is not accepted")
    shape = _shape(shape)
    raw = _unb64(data, budget)
    if len(raw) != math.prod(shape) * np.dtype(dtype).itemsize:
        raise WireError("array data does not match its dtype and shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _decode_values(values: Any, dtype: Any, depth: int, budget: _Budget) -> Any:
    if dtype in NUMPY_DTYPES:
        if type(values) is not dict or values.get(TAG) != "ndarray" or values.get("dtype") != dtype:
            raise WireError("pandas values do not match their dtype")
        arr = _decode_array(values, budget)
        if arr.ndim != 1:
            raise WireError("pandas values must be one-dimensional")
        return arr
    if dtype not in PANDAS_SCALAR_DTYPES:
        raise WireError(f"pandas dtype {dtype!r} is not accepted")
    return [_scalar(_decode(v, depth, budget)) for v in _list(values)]


def _decode_series(obj: Any, depth: int, budget: _Budget) -> pd.Series:
    if type(obj) is not dict or obj.get(TAG) != "series":
        raise WireError("expected a pandas Series record")
    dtype, name, index, values = _fields(obj, "dtype", "name", "index", "values")
    vals = _decode_values(values, dtype, depth, budget)
    idx = _decode_index(index, depth, budget)
    if len(vals) != len(idx):
        raise WireError("series values and index differ in length")
    return pd.Series(vals, index=idx, name=_scalar(_decode(name, depth, budget)), dtype=dtype)


def _decode_index(obj: Any, depth: int, budget: _Budget) -> pd.Index:
    if type(obj) is not dict or obj.get(TAG) not in ("index", "range"):
        raise WireError("expected a pandas Index record")
    budget.take()
    if obj[TAG] == "range":
        start, stop, step, name = _fields(obj, "start", "stop", "step", "name")
        if any(type(v) is not int for v in (start, stop, step)) or step == 0 or abs(stop - start) // abs(step) > MAX_ITEMS:
            raise WireError("bad range index")
        return pd.RangeIndex(start, stop, step, name=_scalar(_decode(name, depth, budget)))
    dtype, name, values = _fields(obj, "dtype", "name", "values")
    vals = _decode_values(values, dtype, depth, budget)
    return pd.Index(vals, dtype=dtype, name=_scalar(_decode(name, depth, budget)))
