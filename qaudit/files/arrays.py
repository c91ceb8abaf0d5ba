"""JSON encoding of numeric arrays for model files (never pickle).

An array is stored either as nested lists or compactly as
``{"dtype": "float64"|"float32"|"int64", "shape": [...], "base64": "..."}``
holding little-endian raw bytes. Decoding validates dtype, shape, size and
finiteness.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError

MAX_ELEMENTS = 50_000_000
_DTYPES = {"float64": "<f8", "float32": "<f4", "int64": "<i8"}


def encode(array: np.ndarray, compact_above: int = 64, dtype: str = "float64") -> Any:
    """Nested lists for small arrays, base64 little-endian for large ones."""
    array = np.asarray(array)
    if array.size <= compact_above:
        return array.tolist()
    raw = np.ascontiguousarray(array, dtype=_DTYPES[dtype]).tobytes()
    return {"dtype": dtype, "shape": list(array.shape), "base64": base64.b64encode(raw).decode("ascii")}


def decode(value: Any, where: str, shape: tuple[int | None, ...] | None = None,
           integer: bool = False) -> np.ndarray:
    """Decode and validate an array; *shape* entries of None match any length."""
    if isinstance(value, dict):
        array = _decode_base64(value, where)
    elif isinstance(value, (list, int, float)) and not isinstance(value, bool):
        array = _decode_nested(value, where, integer)
    else:
        raise QauditError(f"{where}: expected a numeric array")
    array = _convert(array, where, integer)
    if shape is not None:
        _check_shape(array, where, shape)
    return array


def _decode_base64(value: dict, where: str) -> np.ndarray:
    """Decode the compact ``{"dtype", "shape", "base64"}`` form."""
    dtype = value.get("dtype")
    if dtype not in _DTYPES:
        raise QauditError(f"{where}: unsupported dtype {dtype!r} (use {', '.join(_DTYPES)})")
    dims = value.get("shape")
    if not isinstance(dims, list) or not all(isinstance(d, int) and d >= 0 for d in dims):
        raise QauditError(f"{where}: 'shape' must be a list of non-negative integers")
    if int(np.prod(dims, dtype=np.int64)) > MAX_ELEMENTS:
        raise QauditError(f"{where}: array too large ({dims})")
    data = value.get("base64")
    if not isinstance(data, str):
        raise QauditError(f"{where}: 'base64' must be a string")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise QauditError(f"{where}: invalid base64 data") from exc
    expected = int(np.prod(dims, dtype=np.int64)) * np.dtype(_DTYPES[dtype]).itemsize
    if len(raw) != expected:
        raise QauditError(f"{where}: {len(raw)} bytes do not match shape {dims} of {dtype}")
    return np.frombuffer(raw, dtype=_DTYPES[dtype]).reshape(dims)


def _decode_nested(value: Any, where: str, integer: bool) -> np.ndarray:
    """Decode the nested-lists (or scalar) form: JSON numbers only (integers when *integer*)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise QauditError(f"{where}: not a rectangular numeric array") from exc
    if array.size > MAX_ELEMENTS:
        raise QauditError(f"{where}: array too large")
    if array.dtype.kind == "O":  # integers beyond int64 (or mixed objects)
        raise QauditError(f"{where}: {'integer' if integer else 'number'} out of range or not a number")
    if integer and array.size and array.dtype.kind not in "iu":
        raise QauditError(f"{where}: expected integers (got {_kind_name(array)})")
    if array.dtype.kind not in "iuf" and array.size:
        raise QauditError(f"{where}: expected numbers (got {_kind_name(array)})")
    if array.dtype.kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise QauditError(f"{where}: integer out of range")
    return array


def _kind_name(array: np.ndarray) -> str:
    return {"b": "booleans", "U": "strings", "S": "strings", "f": "non-integer numbers"}.get(
        array.dtype.kind, str(array.dtype))


def _convert(array: np.ndarray, where: str, integer: bool) -> np.ndarray:
    """Cast to int64 (exact integers only) or to finite float64."""
    if integer:
        if array.dtype.kind == "f":
            if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
                raise QauditError(f"{where}: expected integers")
        return array.astype(np.int64)
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise QauditError(f"{where}: contains NaN or infinite values")
    return array


def _check_shape(array: np.ndarray, where: str, shape: tuple[int | None, ...]) -> None:
    """Require *array* to have *shape* (None entries match any length)."""
    if array.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, array.shape)):
        want = "x".join("?" if s is None else str(s) for s in shape)
        got = "x".join(str(d) for d in array.shape) or "scalar"
        raise QauditError(f"{where}: expected shape {want}, got {got}")
