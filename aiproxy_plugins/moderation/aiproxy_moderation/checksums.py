"""Check digits that tell a real card number or IBAN from a number that only looks like one."""

from __future__ import annotations

__all__ = ["iban_valid", "luhn_valid"]


def luhn_valid(digits: str) -> bool:
    """The Luhn check every payment card number passes (and 9 in 10 random numbers fail)."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616: country, check digits, then the account; the whole is 1 mod 97 (ISO 7064)."""
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    # Letters count as 10..35; reducing as we go keeps the number small.
    remainder = 0
    for char in rearranged:
        remainder = (remainder * (100 if char.isalpha() else 10) + int(char, 36)) % 97
    return remainder == 1
