"""Finding PII in text: emails, phone numbers, payment cards, IBANs, IP addresses, tenant patterns.

Patterns find candidates; checksums and parsers keep only real ones (a 16-digit order number that
fails Luhn is not a card, ``1.2.3.4`` after ``v`` is a version, ``12:30:45`` is a time). Candidates
are taken in a fixed order of trust (tenant patterns, then cards, IBANs, emails, IPs, phones) and
a later one overlapping an earlier one is dropped, so a card number is never also a phone number.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Pattern, Sequence

from .checksums import iban_valid, luhn_valid

__all__ = ["PiiSpan", "find_pii"]


@dataclass(frozen=True, slots=True)
class PiiSpan:
    start: int
    end: int
    type: str
    text: str


_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![\w-])")
# 13-19 digits, optionally grouped by single spaces or dashes.
_CARD = re.compile(r"(?<![\w-])(?<!\d )\d(?:[ -]?\d){12,18}(?![\w-])")
_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![\w])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
_PHONE = re.compile(
    # not the tail of a longer digit group ("4000 0000 0000 0001" is no phone number)
    r"(?<![\w+/.-])(?<!\d )(?<!\d-)(?:"
    # international: +CC, then groups (an area code may be in parentheses)
    r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?)(?:[ .-]?\d{2,4}){2,5}"
    # North American: (555) 123-4567, 555-123-4567, 555.123.4567; area and exchange start 2-9
    r"|(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[-. ])[2-9]\d{2}[-. ]\d{4}"
    # national with a trunk 0: 020 7946 0958, 030-1234567, 06 12 34 56 78
    r"|0\d(?:[ .]\d{2}){4}"
    r"|0\d{1,4}[ -]\d{3,4}[ -]?\d{3,4}"
    r")(?![\w-]|\.\d)"
)
_DATE_SHAPE = re.compile(r"^\d{4}[-. ]\d{2}[-. ]\d{2}$|^\d{2}[-. ]\d{2}[-. ]\d{4}$")


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def _is_card(text: str) -> bool:
    digits = _digits(text)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _is_ipv6(text: str) -> bool:
    # "::" alone and "a:b" fragments parse or nearly parse; an address has at least two groups.
    if text.count(":") < 2 or len(text.replace(":", "")) < 2:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_phone(text: str) -> bool:
    digits = _digits(text)
    if _DATE_SHAPE.match(text):
        return False
    return 8 <= len(digits) <= 15 if text.startswith("+") else 9 <= len(digits) <= 12


def _always(text: str) -> bool:
    return True


def _iban_prefix(text: str) -> str | None:
    """The IBAN at the start of a candidate: a grouped IBAN may be followed by upper-case words."""
    while True:
        if iban_valid(text):
            return text
        if " " not in text:
            return None
        text = text.rsplit(" ", 1)[0]


#: (type, candidate pattern, check): the check says yes, no, or which start of the candidate is PII.
_BUILT_IN: tuple[tuple[str, Pattern[str], Callable[[str], bool | str | None]], ...] = (
    ("CARD", _CARD, _is_card),
    ("IBAN", _IBAN, _iban_prefix),
    ("EMAIL", _EMAIL, _always),
    ("IP", _IPV4, _is_ipv4),
    ("IP", _IPV6, _is_ipv6),
    ("PHONE", _PHONE, _is_phone),
)


def _candidates(
    text: str, types: Iterable[str], custom: Sequence[tuple[str, Pattern[str]]]
) -> Iterator[PiiSpan]:
    for type_, pattern in custom:
        for match in pattern.finditer(text):
            if match.end() > match.start():
                yield PiiSpan(match.start(), match.end(), type_, match.group())
    wanted = set(types)
    for type_, pattern, valid in _BUILT_IN:
        if type_ not in wanted:
            continue
        for match in pattern.finditer(text):
            verdict = valid(match.group())
            if verdict is True:
                yield PiiSpan(match.start(), match.end(), type_, match.group())
            elif isinstance(verdict, str):
                yield PiiSpan(match.start(), match.start() + len(verdict), type_, verdict)


def find_pii(
    text: str, types: Iterable[str], custom: Sequence[tuple[str, Pattern[str]]] = ()
) -> list[PiiSpan]:
    """Non-overlapping PII spans of ``text`` in order; the more trusted detector wins an overlap."""
    taken: list[PiiSpan] = []
    for span in _candidates(text, types, custom):
        if all(span.end <= other.start or span.start >= other.end for other in taken):
            taken.append(span)
    return sorted(taken, key=lambda span: span.start)
