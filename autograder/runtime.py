"""Checking an exercise answer against expected outputs: the one comparison every path uses.

This module is self-contained on purpose (it imports only the standard library, ``torch``,
``numpy`` and ``pandas``): its source is copied verbatim into each student release notebook's setup
cell, the book's chapters import it, and the grader compares outputs with it outside the student's
kernel. Keep it that way: no imports of ``solutions`` or of the rest of ``autograder``.

A *case* is ``(args, expected)``: the arguments to call the function with and what it must give.
How a call is observed depends on the exercise's *kind*:

- ``"return"``: the return value is compared.
- ``"inplace"``: the return value and then every tensor argument after the call (values and
  ``.grad``) are compared, for functions such as ``update_coeffs`` that work in place.
- ``"seeded"``: the first argument is a seed; ``torch.manual_seed(seed)`` runs before the call with
  the remaining arguments, for random initialisers; the return value is compared.
- ``"module"``: the arguments are ``(seed, constructor_args, x)``; the check seeds, builds the
  ``nn.Module`` class with ``constructor_args`` and compares its output on ``x``.
- ``"steps"``: the arguments are ``(n_steps, state, *rest)``: the check calls ``fn(state, *rest)``
  ``n_steps`` times on the same ``state`` (coefficients: a tensor or a list/tuple of tensors, changed
  in place by each call, as one epoch of gradient descent does) and compares, step by step, what each
  call returned and the state (values and ``.grad``) it left. A difference names the first step at
  which the run leaves the expected one, and the tensor.
- ``"trajectory"``: the function runs a whole training loop and returns a tuple whose last item is
  the list of per-step losses; the losses are compared step by step first (a difference names the
  first step whose loss differs), then the other items (the trained weights).

An argument written ``{"function": "<name>"}`` stands for the function of that name in
:data:`FUNCTIONS` (activations such as ``relu``), since cases are data and cannot hold functions.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import torch

RETURN = "return"
INPLACE = "inplace"
SEEDED = "seeded"
MODULE = "module"
STEPS = "steps"
TRAJECTORY = "trajectory"
KINDS = (RETURN, INPLACE, SEEDED, MODULE, STEPS, TRAJECTORY)
#: Functions a case may pass by name, as ``{"function": "<name>"}`` (see :func:`resolve`).
FUNCTIONS = {
    "relu": torch.relu,
    "mish": torch.nn.functional.mish,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "identity": lambda x: x,
}
#: Labels of cases whose values must stay secret start with this word.
SECRET_LABEL_PREFIX = "hidden"
DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-5


class Difference(str):
    """Why a comparison failed: the message (a ``str``) plus ``kind``, the category without any values.

    Kinds: ``type``, ``shape``, ``dtype``, ``requires_grad``, ``values``, ``length``, ``columns``,
    ``keys``, ``grad``. Checks whose cases are secret report only the kind, so they reveal no input or output.
    """

    kind: str

    def __new__(cls, kind, message):
        obj = super().__new__(cls, message)
        obj.kind = kind
        return obj

    def redacted(self):
        """The difference without values: safe to show for a secret case."""
        return "wrong .grad" if self.kind == "grad" else f"wrong {self.kind}"


class CheckFailed(AssertionError):
    """A check found a difference; the message says what differed, in terms a student can act on."""

    def _render_traceback_(self):
        """How IPython shows a failed check: the reason alone, without the checking code's frames."""
        return [f"\x1b[0;31mCheckFailed\x1b[0m: {self}"]


def _clone(value):
    """A deep copy of a case's arguments, so that no call can change another call's inputs."""
    if isinstance(value, torch.Tensor):
        out = value.detach().clone()
        if value.requires_grad:
            out.requires_grad_()
        if value.grad is not None:
            out.grad = value.grad.detach().clone()
        return out
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return copy.deepcopy(value)


def _state(value):
    """What an in-place call left in an argument: tensors as (values, grad), containers recursively."""
    if isinstance(value, torch.Tensor):
        grad = None if value.grad is None else value.grad.detach().clone()
        return (value.detach().clone(), grad)
    if isinstance(value, (tuple, list)):
        return tuple(_state(v) for v in value)
    return None


def resolve(value):
    """``{"function": "<name>"}`` -> the function of that name in :data:`FUNCTIONS`; anything else as is."""
    if isinstance(value, dict) and list(value) == ["function"]:
        name = value["function"]
        if name not in FUNCTIONS:
            raise ValueError(f"unknown function {name!r} in a case; known: {', '.join(FUNCTIONS)}")
        return FUNCTIONS[name]
    return value


def observe(fn, args, kind=RETURN):
    """Call ``fn`` on a private copy of ``args`` and return what the check compares."""
    if kind not in KINDS:
        raise ValueError(f"unknown check kind {kind!r}; expected one of {KINDS}")
    call_args = tuple(resolve(a) for a in _clone(tuple(args)))
    if kind == STEPS:
        n_steps, state, *rest = call_args
        return [(fn(state, *rest), _state(state)) for _ in range(n_steps)]
    if kind == SEEDED:
        torch.manual_seed(call_args[0])
        return fn(*call_args[1:])
    if kind == MODULE:
        seed, ctor_args, x = call_args
        torch.manual_seed(seed)
        return fn(*ctor_args)(x)
    result = fn(*call_args)
    if kind in (RETURN, TRAJECTORY):
        return result
    return (result, tuple(_state(a) for a in call_args))


def _shape(t):
    return tuple(t.shape)


def compare(expected, actual, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL, where="the result"):
    """Return ``None`` if ``actual`` matches ``expected`` within tolerance, else a one-line reason."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            return Difference("type", f"{where} should be a torch.Tensor, got {type(actual).__name__}")
        if _shape(actual) != _shape(expected):
            return Difference("shape", f"{where} has shape {_shape(actual)}, expected {_shape(expected)}")
        if actual.dtype != expected.dtype:
            return Difference("dtype", f"{where} has dtype {actual.dtype}, expected {expected.dtype}")
        if actual.requires_grad != expected.requires_grad:
            want = "should" if expected.requires_grad else "should not"
            return Difference("requires_grad", f"{where} {want} require gradients (requires_grad={expected.requires_grad})")
        a, e = actual.detach().cpu(), expected.detach().cpu()
        if e.dtype == torch.bool or not (e.is_floating_point() or e.is_complex()):
            if not torch.equal(a, e):
                n = int((a != e).sum())
                return Difference("values", f"{where} differs from the expected values in {n} of {e.numel()} entries")
            return None
        close = torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        if not bool(close.all()):
            n = int((~close).sum())
            idx = tuple(int(i) for i in (~close).nonzero()[0])
            return Difference("values", f"{where} differs from the expected values in {n} of {e.numel()} entries "
                    f"(first at index {idx}: got {a[idx].item():.6g}, expected {e[idx].item():.6g})")
        return None
    if isinstance(expected, np.ndarray):
        if not isinstance(actual, np.ndarray):
            return Difference("type", f"{where} should be a numpy array, got {type(actual).__name__}")
        return compare(torch.from_numpy(expected), torch.from_numpy(np.asarray(actual)), rtol, atol, where)
    if isinstance(expected, pd.DataFrame):
        if not isinstance(actual, pd.DataFrame):
            return Difference("type", f"{where} should be a pandas DataFrame, got {type(actual).__name__}")
        if list(actual.columns) != list(expected.columns):
            return Difference("columns", f"{where} has columns {list(actual.columns)}, expected {list(expected.columns)}")
        if actual.shape != expected.shape:
            return Difference("shape", f"{where} has shape {actual.shape}, expected {expected.shape}")
        for col in expected.columns:
            reason = _compare_series(expected[col], actual[col], rtol, atol, f"column {col!r} of {where}")
            if reason:
                return reason
        return None
    if isinstance(expected, pd.Series):
        if not isinstance(actual, pd.Series):
            return Difference("type", f"{where} should be a pandas Series, got {type(actual).__name__}")
        return _compare_series(expected, actual, rtol, atol, where)
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)):
            return Difference("type", f"{where} should be a {type(expected).__name__} of {len(expected)}, got {type(actual).__name__}")
        if len(actual) != len(expected):
            return Difference("length", f"{where} has {len(actual)} items, expected {len(expected)}")
        for i, (e, a) in enumerate(zip(expected, actual)):
            reason = compare(e, a, rtol, atol, f"item {i} of {where}")
            if reason:
                return reason
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return Difference("type", f"{where} should be a dict, got {type(actual).__name__}")
        if list(actual) != list(expected):
            return Difference("keys", f"{where} has the keys {list(actual)}, expected {list(expected)}")
        for key, e in expected.items():
            reason = compare(e, actual[key], rtol, atol, f"item {key!r} of {where}")
            if reason:
                return reason
        return None
    if isinstance(expected, torch.device):
        if not isinstance(actual, torch.device) or actual != expected:
            return Difference("values", f"{where} is {actual!r}, expected {expected!r}")
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if actual != expected or type(actual) is not type(expected):
            return Difference("values", f"{where} is {actual!r}, expected {expected!r}")
        return None
    if isinstance(expected, (int, float)):
        if isinstance(actual, torch.Tensor) and actual.numel() == 1:
            actual = actual.item()
        if not isinstance(actual, (int, float, np.number)) or isinstance(actual, bool):
            return Difference("type", f"{where} should be a number, got {type(actual).__name__}")
        if not math.isclose(float(actual), float(expected), rel_tol=rtol, abs_tol=atol):
            return Difference("values", f"{where} is {float(actual):.6g}, expected {float(expected):.6g}")
        return None
    raise TypeError(f"cannot compare values of type {type(expected).__name__}")


def _compare_series(expected, actual, rtol, atol, where):
    """Compare two pandas Series by value (numbers within tolerance, the rest exactly, NaN = NaN)."""
    if len(actual) != len(expected):
        return Difference("length", f"{where} has {len(actual)} rows, expected {len(expected)}")
    e_num = pd.api.types.is_numeric_dtype(expected) or pd.api.types.is_bool_dtype(expected)
    a_num = pd.api.types.is_numeric_dtype(actual) or pd.api.types.is_bool_dtype(actual)
    if e_num and a_num:
        e = np.asarray(expected, dtype="float64")
        a = np.asarray(actual, dtype="float64")
        close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        if not close.all():
            i = int(np.flatnonzero(~close)[0])
            return Difference("values", f"{where} differs in {int((~close).sum())} rows (first at row {i}: got {a[i]!r}, expected {e[i]!r})")
        return None
    e_list, a_list = list(expected), list(actual)
    for i, (ev, av) in enumerate(zip(e_list, a_list)):
        both_missing = pd.isna(ev) and pd.isna(av) if not isinstance(ev, (list, tuple)) else False
        if not both_missing and ev != av:
            return Difference("values", f"{where} differs at row {i}: got {av!r}, expected {ev!r}")
    return None


def _compare_state(expected, actual, rtol, atol, where):
    """Compare what an in-place call left in one argument: a tensor's values and ``.grad``."""
    if expected is None:
        return None
    if isinstance(expected, tuple) and len(expected) == 2 and isinstance(expected[0], torch.Tensor):
        values, grad = expected
        reason = compare(values, actual[0], rtol, atol, where)
        if reason:
            return reason
        if grad is None:
            return None if actual[1] is None else Difference("grad", f"the .grad of {where} should be None")
        if actual[1] is None:
            return Difference("grad", f"the .grad of {where} is None, expected a tensor (was it set to None instead of zeroed?)")
        return compare(grad, actual[1], rtol, atol, f"the .grad of {where}")
    for j, (e, a) in enumerate(zip(expected, actual)):
        reason = _compare_state(e, a, rtol, atol, f"item {j} of {where}")
        if reason:
            return reason
    return None


def _first_step(step, n, reason):
    """A difference found at training step ``step`` of ``n``: the same kind, the step named first."""
    where = f"step {step} of {n}: your run first leaves the reference's here ({reason})"
    return Difference(reason.kind, where)


def _compare_steps(expected, actual, rtol, atol):
    """Kind ``steps``: per step, the returned value, then the state the call left."""
    if not isinstance(actual, list) or len(actual) != len(expected):
        return Difference("length", f"the run has {len(actual)} steps, expected {len(expected)}")
    for step, ((e_ret, e_state), (a_ret, a_state)) in enumerate(zip(expected, actual), start=1):
        reason = compare(e_ret, a_ret, rtol, atol, "the returned value (the loss)")
        if not reason:
            reason = _compare_state(e_state, a_state, rtol, atol, "the coefficients")
        if reason:
            return _first_step(step, len(expected), reason)
    return None


def _compare_trajectory(expected, actual, rtol, atol):
    """Kind ``trajectory``: ``(..., losses)``; the per-step losses first, then the other items."""
    if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
        return compare(expected, actual, rtol, atol)
    e_losses, a_losses = expected[-1], actual[-1]
    reason = compare(list(e_losses), a_losses, rtol, atol, "the list of losses")
    if reason and isinstance(a_losses, (list, tuple)) and len(a_losses) == len(e_losses):
        for step, (e, a) in enumerate(zip(e_losses, a_losses), start=1):
            step_reason = compare(e, a, rtol, atol, "its loss")
            if step_reason:
                return _first_step(step, len(e_losses), step_reason)
    if reason:
        return reason
    for i, (e, a) in enumerate(zip(expected[:-1], actual[:-1])):
        reason = compare(e, a, rtol, atol, f"item {i} of the result (after the last step)")
        if reason:
            return Difference(reason.kind, f"the losses of all {len(e_losses)} steps agree, but {reason}")
    return None


def compare_observed(expected, actual, kind=RETURN, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL):
    """Compare two results of :func:`observe`; ``None`` if they match, else a one-line reason."""
    if kind == STEPS:
        return _compare_steps(expected, actual, rtol, atol)
    if kind == TRAJECTORY:
        return _compare_trajectory(expected, actual, rtol, atol)
    if kind != INPLACE:
        return compare(expected, actual, rtol, atol)
    reason = compare(expected[0], actual[0], rtol, atol, "the return value")
    if reason:
        return reason
    for i, (e, a) in enumerate(zip(expected[1], actual[1]), start=1):
        reason = _compare_state(e, a, rtol, atol, f"argument {i} after the call")
        if reason:
            return reason
    return None


def run_cases(name, fn, cases, kind=RETURN, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL, label="check"):
    """Run every ``(args, expected)`` case; raise :class:`CheckFailed` at the first difference.

    Prints one line when all pass, so that a notebook shows what was checked. When ``label`` starts
    with ``SECRET_LABEL_PREFIX``, a failure names only the kind of difference (and of exception),
    never a value.
    """
    hidden = label.startswith(SECRET_LABEL_PREFIX)
    for i, (args, expected) in enumerate(cases, start=1):
        try:
            actual = observe(fn, args, kind)
        except NotImplementedError:
            raise CheckFailed(f"{name}: not done yet (it still raises NotImplementedError)") from None
        except CheckFailed:
            raise
        except Exception as err:  # the student's code failed: say how, without our frames
            detail = type(err).__name__ if hidden else f"{type(err).__name__}: {err}"
            raise CheckFailed(f"{name}, {label} {i} of {len(cases)}: raised {detail}") from None
        reason = compare_observed(expected, actual, kind, rtol, atol)
        if reason:
            shown = reason.redacted() if hidden and isinstance(reason, Difference) else reason
            raise CheckFailed(f"{name}, {label} {i} of {len(cases)}: {shown}")
    print(f"\u2713 {name}: {len(cases)} {label}{'s' if len(cases) != 1 else ''} passed")
