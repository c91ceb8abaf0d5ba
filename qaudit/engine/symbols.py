"""Read gate parameters as linear forms ``coef * symbol + const`` without ``sympify``.

Model files are untrusted, so the engine never turns text into expressions: it only
walks the sympy objects Cirq built (``Symbol``, numbers, ``Mul``, ``Add``) and
rejects anything that is not linear in a single symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any

from qaudit.sdk.errors import QauditError


@dataclass(frozen=True)
class LinearForm:
    """``coef * symbol + const``; ``symbol`` is ``None`` for a constant."""

    symbol: str | None
    coef: float
    const: float

    def __add__(self, other: LinearForm) -> LinearForm:
        if self.symbol and other.symbol and self.symbol != other.symbol:
            raise QauditError(
                f"gate parameter depends on two symbols ({self.symbol!r}, {other.symbol!r}); "
                "only one symbol per gate parameter is supported"
            )
        return LinearForm(self.symbol or other.symbol, self.coef + other.coef, self.const + other.const)

    def scaled(self, factor: float) -> LinearForm:
        return LinearForm(self.symbol, self.coef * factor, self.const * factor)


def linear_form(value: Any) -> LinearForm:
    """Return *value* (a number or a sympy expression from Cirq) as a :class:`LinearForm`."""
    if isinstance(value, Real):
        return LinearForm(None, 0.0, float(value))
    free = getattr(value, "free_symbols", None)
    if free is None:
        raise QauditError(f"unsupported gate parameter {value!r}")
    if not free:
        try:
            number = complex(value)
        except (TypeError, ValueError) as exc:
            raise QauditError(f"unsupported gate parameter {value!r}") from exc
        if abs(number.imag) > 1e-12:
            raise QauditError(f"complex gate parameter {value!r} is not supported")
        return LinearForm(None, 0.0, number.real)
    if getattr(value, "is_Symbol", False):
        return LinearForm(str(value.name), 1.0, 0.0)
    if getattr(value, "is_Add", False):
        total = LinearForm(None, 0.0, 0.0)
        for arg in value.args:
            total = total + linear_form(arg)
        return total
    if getattr(value, "is_Mul", False):
        factor = 1.0
        symbolic: LinearForm | None = None
        for arg in value.args:
            part = linear_form(arg)
            if part.symbol is None:
                factor *= part.const
            elif symbolic is None:
                symbolic = part
            else:
                raise QauditError(f"gate parameter {value} is not linear in its symbol")
        return (symbolic or LinearForm(None, 0.0, 1.0)).scaled(factor)
    raise QauditError(
        f"gate parameter {value} is not a plain symbol or linear form (a*symbol + b)"
    )
