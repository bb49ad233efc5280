"""Money as people type it and read it. Amounts are kept in minor units (kopecks, cents), as
integers: exact sums, never floats. Every currency here has two decimal places."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_compact_decimal, format_decimal

from bot.services.errors import N_, InvalidInput

MINOR = 100
AMOUNT_MAX = Decimal("999999999999.99")  # a trillion: a typo beyond that, not a deal

AMOUNT_UNREADABLE = N_(
    "I couldn't read that amount. Type a number, for example: 150000, 150 000, 150k, "
    "1,5 млн, 2 500,50 ₽."
)

# Typed currency marks → ISO codes; the default currency applies when none is typed.
CURRENCY_WORDS = {
    "₽": "RUB",
    "р": "RUB",
    "р.": "RUB",
    "руб": "RUB",
    "руб.": "RUB",
    "рублей": "RUB",
    "rub": "RUB",
    "$": "USD",
    "usd": "USD",
    "€": "EUR",
    "eur": "EUR",
    "₸": "KZT",
    "kzt": "KZT",
}
SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€", "KZT": "₸"}

# Multiplier words: "k", "к", "тыс", "m", "млн", "mln", "bn", "млрд".
MULTIPLIERS = {
    "k": 3,
    "к": 3,
    "тыс": 3,
    "тыс.": 3,
    "thousand": 3,
    "m": 6,
    "м": 6,
    "mln": 6,
    "млн": 6,
    "млн.": 6,
    "million": 6,
    "mio": 6,
    "bn": 9,
    "млрд": 9,
    "млрд.": 9,
    "billion": 9,
}

_AMOUNT = re.compile(
    r"^(?P<pre>[$€₽₸])?\s*(?P<number>\d[\d\s.,'’]*)\s*(?P<words>[^\d]*)$", re.IGNORECASE
)


def _number(text: str, *, scaled: bool) -> Decimal | None:
    """Digits with group and decimal separators, as Russians and others type them."""
    digits = re.sub(r"[\s'’]", "", text)
    dots, commas = digits.count("."), digits.count(",")
    if dots and commas:
        # Both present: the last one is the decimal separator, the other groups thousands.
        decimal_mark = "." if digits.rfind(".") > digits.rfind(",") else ","
        group_mark = "," if decimal_mark == "." else "."
        if digits.count(decimal_mark) > 1:
            return None
        digits = digits.replace(group_mark, "").replace(decimal_mark, ".")
    elif dots + commas > 1:
        mark = "." if dots else ","
        groups = digits.split(mark)
        if any(len(group) != 3 for group in groups[1:]):
            return None
        digits = "".join(groups)
    elif dots + commas == 1:
        mark = "." if dots else ","
        whole, fraction = digits.split(mark)
        # "1,500" or "1.500" alone is a thousands group; with "млн" after it, a fraction.
        if len(fraction) == 3 and not scaled and whole and not whole.startswith("0"):
            digits = whole + fraction
        else:
            digits = f"{whole or '0'}.{fraction}"
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def parse_amount(text: str) -> tuple[Decimal, str | None]:
    """An amount and the currency typed with it (None when none was typed). Understands
    "150000", "150 000", "150k", "1,5 млн", "1.5m", "2 500,50 ₽", "$1,200.50"."""
    cleaned = " ".join((text or "").replace("\u00a0", " ").replace("\u202f", " ").split())
    match = _AMOUNT.match(cleaned)
    if match is None:
        raise InvalidInput(AMOUNT_UNREADABLE)
    currency = CURRENCY_WORDS.get(match["pre"]) if match["pre"] else None
    exponent = 0
    for word in match["words"].lower().split():
        if word in MULTIPLIERS and not exponent:
            exponent = MULTIPLIERS[word]
        elif word in CURRENCY_WORDS and currency is None:
            currency = CURRENCY_WORDS[word]
        elif len(word) == 3 and word.isascii() and word.isalpha():
            currency = word.upper()  # an ISO code such as "cny"
        else:
            # "150к₽" comes as one word: a multiplier glued to a currency mark.
            head = word.rstrip("₽$€₸")
            if head != word and head in MULTIPLIERS and not exponent:
                exponent = MULTIPLIERS[head]
                currency = CURRENCY_WORDS[word[len(head) :]]
            else:
                raise InvalidInput(AMOUNT_UNREADABLE)
    number = _number(match["number"].strip(), scaled=bool(exponent))
    if number is None:
        raise InvalidInput(AMOUNT_UNREADABLE)
    amount = (number * (Decimal(10) ** exponent)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    if amount <= 0:
        raise InvalidInput(N_("The amount must be more than zero."))
    if amount > AMOUNT_MAX:
        raise InvalidInput(N_("That amount is too large. Check the number of zeros."))
    return amount, currency


def to_minor(amount: Decimal) -> int:
    return int((amount * MINOR).to_integral_value(ROUND_HALF_UP))


def from_minor(minor: int) -> Decimal:
    return Decimal(minor) / MINOR


def symbol(currency: str) -> str:
    return SYMBOLS.get(currency, currency)


def format_money(minor: int, currency: str, locale: str, *, compact: bool = False) -> str:
    """ "2 500,50 ₽" / "2,500.50 ₽"; compact: "1,2 млн ₽" / "1.2M ₽". Whole sums show no
    kopecks."""
    amount = from_minor(minor)
    if compact and abs(amount) >= 10_000:
        number = format_compact_decimal(amount, locale=locale, fraction_digits=1)
    else:
        pattern = "#,##0" if amount == amount.to_integral_value() else "#,##0.00"
        number = format_decimal(amount, format=pattern, locale=locale)
    return f"{number}\u00a0{symbol(currency)}".replace("\u202f", "\u00a0")


def plain_amount(minor: int) -> str:
    """The amount as a user could type it back: "150000" or "2500.50"."""
    amount = from_minor(minor)
    return str(amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount)


def format_sums(sums: dict[str, int], locale: str, default_currency: str) -> str:
    """Sums in several currencies, biggest first: "1,2 млн ₽ + 5 000 $"; "0 ₽" when empty."""
    shown = [(currency, minor) for currency, minor in sums.items() if minor]
    if not shown:
        return format_money(0, default_currency, locale)
    shown.sort(key=lambda item: (item[0] != default_currency, -item[1]))
    return " + ".join(format_money(minor, c, locale, compact=True) for c, minor in shown)
