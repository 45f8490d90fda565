"""Amounts, counts, percentages and yes/no values written by people, parsed into numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pycountry

from crm_quality.standardize.rules import fix, flag

MONEY_PARSED = fix("money.parsed", "Amount written with symbols, separators or k/M read as a number")
MONEY_UNPARSEABLE = flag("money.unparseable", "Amount field holds text that is not an amount")
NUMBER_PARSED = fix("number.parsed", "Number written with separators or a unit read as a number")
NUMBER_UNPARSEABLE = flag("number.unparseable", "Number field holds text that is not a number")
BOOLEAN_PARSED = fix("boolean.parsed", "Yes/no value written as a word or digit read as true/false")
"""'TRUE' or ' false' is already the boolean it says: only other words and digits are a change."""
BOOLEAN_UNPARSEABLE = flag("boolean.unparseable", "Yes/no field holds neither yes nor no")

CURRENCY_SYMBOLS: dict[str, str] = {
    "US$": "USD", "C$": "CAD", "CA$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD",
    "$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR", "CHF": "CHF", "Fr.": "CHF",
    "kr": "SEK", "zł": "PLN", "R$": "BRL",
}
"""Symbols and their currency; '$' alone is read as US dollars."""

THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
"""Currencies with three decimal places. In any other, a separator followed by exactly three
digits groups thousands: '€130,500' and '$1.200' are 130500 and 1200, not 130.5 and 1.2."""

MULTIPLIERS: dict[str, int] = {"k": 1_000, "m": 1_000_000, "mm": 1_000_000, "mn": 1_000_000,
                               "bn": 1_000_000_000, "b": 1_000_000_000}

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "x", "on", "ja", "oui", "si", "sí", "wahr"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off", "nein", "non", "falsch"})

_SYMBOLS = sorted(CURRENCY_SYMBOLS, key=len, reverse=True)
_NUMBER = re.compile(r"(?P<sign>[-+]?)(?P<digits>\d[\d.,' \u00a0\u202f]*|[.,]\d+)\s*(?P<unit>[a-zA-Z]{0,2})")
_CODE = re.compile(r"^([A-Za-z]{3})\b|\b([A-Za-z]{3})$")
_PLAIN = re.compile(r"-?\d+(\.\d+)?")
MAX_LENGTH = 40


@dataclass(frozen=True)
class Amount:
    value: Decimal | None
    currency: str | None
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Number:
    value: float | None
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Flag:
    value: bool | None
    rules: tuple[str, ...]


def parse_money(value: str | None) -> Amount:
    """'1.200,50 EUR' -> 1200.50 EUR; '$1.2k' -> 1200 USD; '(500)' -> -500; 'TBD' is flagged."""
    text = (value or "").strip()
    if not text:
        return Amount(None, None, ())
    currency, rest = _take_currency(text)
    amount = _read_number(rest, three_digits_group=currency not in THREE_DECIMAL_CURRENCIES)
    if amount is None:
        return Amount(None, None, (MONEY_UNPARSEABLE,))
    plain = currency is None and text == value and _PLAIN.fullmatch(text)
    return Amount(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), currency, () if plain else (MONEY_PARSED,))


def parse_number(value: str | None) -> Number:
    """'1,200' -> 1200; '45%' -> 45; '2.5k' -> 2500; 'n/a' is flagged."""
    text = (value or "").strip().rstrip("%").strip()
    if not text:
        return Number(None, ())
    number = _read_number(text, three_digits_group=False)
    if number is None:
        return Number(None, (NUMBER_UNPARSEABLE,))
    result = float(number)
    written = str(int(result)) if result.is_integer() else repr(result)
    return Number(result, () if written == value else (NUMBER_PARSED,))


def parse_boolean(value: str | None) -> Flag:
    text = (value or "").strip().lower()
    if not text:
        return Flag(None, ())
    if text in TRUE_WORDS or text in FALSE_WORDS:
        result = text in TRUE_WORDS
        return Flag(result, () if text == str(result).lower() else (BOOLEAN_PARSED,))
    return Flag(None, (BOOLEAN_UNPARSEABLE,))


def _take_currency(text: str) -> tuple[str | None, str]:
    for symbol in _SYMBOLS:
        if text.startswith(symbol):
            return CURRENCY_SYMBOLS[symbol], text[len(symbol):].strip()
        if text.endswith(symbol) and not text[-len(symbol) - 1 : -len(symbol)].isalpha():
            return CURRENCY_SYMBOLS[symbol], text[: -len(symbol)].strip()
    match = _CODE.search(text)
    if match:
        code = (match.group(1) or match.group(2)).upper()
        if pycountry.currencies.get(alpha_3=code):
            return code, (text[3:] if match.group(1) else text[:-3]).strip()
    return None, text


def _read_number(text: str, three_digits_group: bool) -> Decimal | None:
    if len(text) > MAX_LENGTH:
        return None
    negative = text.startswith("(") and text.endswith(")")
    match = _NUMBER.fullmatch(text.strip("()").strip())
    if not match:
        return None
    unit = match.group("unit").lower()
    if unit and unit not in MULTIPLIERS:
        return None
    digits = re.sub(r"[' \u00a0\u202f]", "", match.group("digits"))
    plain = _plain_digits(digits, three_digits_group)
    if plain is None:
        return None
    try:
        number = Decimal(plain) * MULTIPLIERS.get(unit, 1)
    except InvalidOperation:
        return None
    if match.group("sign") == "-" or negative:
        number = -number
    return number if abs(number) < Decimal("1e15") else None


def _plain_digits(digits: str, three_digits_group: bool) -> str | None:
    """Digits with separators -> '1234.5', deciding which separator is the decimal point.

    With both, the last is the decimal point. With one used several times, it groups. Used
    once and followed by exactly three digits, it groups when ``three_digits_group`` (amounts)
    or when it is a comma (numbers: '1,200' is 1200 but '0.125' is 0.125).
    """
    dots, commas = digits.count("."), digits.count(",")
    if dots and commas:
        decimal = "." if digits.rfind(".") > digits.rfind(",") else ","
    elif dots + commas == 0:
        return digits
    else:
        sep = "." if dots else ","
        head, tail = digits.split(sep, 1)[0], digits.rsplit(sep, 1)[1]
        three = len(tail) == 3 and head not in ("", "0")
        if digits.count(sep) > 1 or (three and (three_digits_group or sep == ",")):
            decimal = None
        else:
            decimal = sep
    thousands = {".", ","} - {decimal} if decimal else {".", ","}
    whole, _, fraction = digits.partition(decimal) if decimal else (digits, "", "")
    if decimal and (decimal in fraction or any(t in fraction for t in thousands)):
        return None
    groups = re.split(r"[.,]", whole)
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])):
        return None
    number = "".join(groups)
    if not number and not fraction:
        return None
    return f"{number or '0'}.{fraction}" if fraction else number
