"""Money as :class:`~decimal.Decimal`: parsed from decimal strings, never from floats.

A float such as ``0.1`` is already wrong before any arithmetic (0.1000000000000000055...), so the
Admin API accepts prices only as JSON strings (``"0.002"``) or integers, and every sum is done in
Decimal with a context wide enough that per-token prices never lose digits.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["Money", "ZERO", "CENT", "parse_money", "parse_credit_amount", "to_cents", "money_text"]

ZERO = Decimal("0")
CENT = Decimal("0.01")
#: Prices above this are a typo, not a plan (it also keeps Decimal exponents sane).
MAX_PRICE = Decimal("1000000000")


def parse_money(value: Any) -> Decimal:
    """A non-negative amount from a decimal string or an int; floats and junk raise ValueError."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("money must be a decimal string such as \"0.002\" (or an integer), not a JSON float")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
    else:
        raise ValueError("money must be a decimal string such as \"0.002\"")
    if not amount.is_finite():
        raise ValueError("money must be a finite number")
    if amount < 0:
        raise ValueError("money cannot be negative")
    if amount > MAX_PRICE:
        raise ValueError(f"money above {MAX_PRICE} is not accepted")
    return amount


def money_text(amount: Decimal) -> str:
    """A Decimal as a plain decimal string (no exponent), keeping its places: "49.00" stays "49.00"."""
    return format(amount, "f")


def to_cents(amount: Decimal) -> Decimal:
    """Round half up to the cent: what an invoice line shows."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


#: A pydantic field type: validated by :func:`parse_money`, serialized as a decimal string.
Money = Annotated[Decimal, BeforeValidator(parse_money), PlainSerializer(money_text, return_type=str)]


def parse_credit_amount(value: Any, what: str) -> Decimal:
    """A credit amount (a top-up, a reservation): above 0, at most ``MAX_PRICE``, whole micro-units.

    Credits are kept as integer micro-units (1e-6), so a finer amount could not be stored exactly.
    """
    amount = parse_money(value)
    if amount <= 0:
        raise ValueError(f"{what} must be more than 0")
    if amount > MAX_PRICE:
        raise ValueError(f"{what} above {MAX_PRICE} is not accepted")
    if amount != amount.quantize(Decimal("0.000001")):
        raise ValueError(f"{what} has at most 6 decimal places")
    return amount
