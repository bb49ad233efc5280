"""Reading what users type: phones, e-mails, INNs, names, free text, dates and times.

Pure functions without I/O. Every rejection raises InvalidInput with a short English message id
(translated when shown) that says what is expected; the user's input is never echoed back.

Dates: `now` is an aware datetime (UTC in practice), the text is read in the user's time zone and
the result is an aware UTC datetime. Local wall times are built with `datetime(..., tzinfo=tz)`:
a time skipped by a DST switch lands one hour later, a repeated one takes its first occurrence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.services.errors import N_, InvalidInput

__all__ = [
    "clean_text",
    "format_when",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "parse_when",
    "parse_when_with_rest",
    "phone_digits",
    "quick_dates",
    "search_key",
    "validate_inn",
]

PHONE_INVALID = N_("That doesn't look like a phone number. Send it like +7 912 345-67-89.")
EMAIL_INVALID = N_("That doesn't look like an e-mail address. Send it like name@example.com.")
INN_INVALID = N_("That INN is not valid: it has 10 or 12 digits and a check digit.")
TEXT_EMPTY = N_("Please send some text.")
TEXT_TOO_LONG = N_("Too long: at most {limit} characters.")
WHEN_UNREADABLE = N_(
    "I couldn't read that date. Try 25.12, 25.12 15:30, завтра 10:00 or in 2 hours."
)
WHEN_PAST = N_("That time has already passed. Send a time in the future.")


# Phones


_PHONE_CHARS = re.compile(r"\(?\+?[0-9\s().\-‐–—]+")  # "+" only first, "(+7)" too


def phone_digits(text: str) -> str:
    """Only the ASCII digits of `text`, for searching by a part of a number (no validation)."""
    return re.sub(r"[^0-9]", "", text)


def normalize_phone(text: str, default_country: str = "7") -> str:
    """An E.164 number like "+79123456789" from any usual way of writing it.

    "+" or "00" starts an international number; otherwise the number is national in
    `default_country`. For Russia (7) "8 912 …" and "7 912 …" (11 digits) and a bare 10-digit
    number starting with 3, 4 or 9 are understood, and +7 numbers must have 11 digits. For another
    default country a single trunk "0" is dropped. E.164 allows 8 to 15 digits in total.
    """
    raw = text.strip()
    if not _PHONE_CHARS.fullmatch(raw):
        raise InvalidInput(PHONE_INVALID)
    digits = phone_digits(raw)
    if raw.lstrip("(").startswith("+"):
        number = digits
    elif digits.startswith("00"):
        number = digits[2:]
    else:
        number = _national_to_international(digits, default_country)
    if not 8 <= len(number) <= 15 or number.startswith("0"):
        raise InvalidInput(PHONE_INVALID)
    if number.startswith("7") and len(number) != 11:
        raise InvalidInput(PHONE_INVALID)
    return "+" + number


def _national_to_international(digits: str, country: str) -> str:
    country = country.lstrip("+")
    if country != "7":
        return country + (digits[1:] if digits.startswith("0") else digits)
    if len(digits) == 11 and digits[0] in "78":
        return "7" + digits[1:]
    if len(digits) == 10 and digits[0] in "349":
        return "7" + digits
    raise InvalidInput(PHONE_INVALID)


# E-mail and INN


EMAIL_MAX = 254
_EMAIL = re.compile(
    r"[^@\s,;:<>()\[\]\"\\]{1,64}@(?:[^@\s,;:<>()\[\]\"\\.]+\.)+[^@\s,;:<>()\[\]\"\\.]+"
)


def normalize_email(text: str) -> str:
    """The address stripped and lowercased; a pragmatic check, not full RFC 5322."""
    email = text.strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        raise InvalidInput(EMAIL_INVALID)
    return email


_INN_WEIGHTS_10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _inn_check_digit(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10)


def validate_inn(text: str) -> str:
    """A Russian INN's digits: 10 (organisation) or 12 (person) with valid check digits."""
    inn = "".join(text.split())
    valid = inn.isascii() and inn.isdigit()
    if valid and len(inn) == 10:
        valid = inn[9] == _inn_check_digit(inn, _INN_WEIGHTS_10)
    elif valid and len(inn) == 12:
        valid = inn[10] == _inn_check_digit(inn, _INN_WEIGHTS_11)
        valid = valid and inn[11] == _inn_check_digit(inn, _INN_WEIGHTS_12)
    else:
        valid = False
    if not valid:
        raise InvalidInput(INN_INVALID)
    return inn


# Names and free text


LEGAL_FORMS = frozenset("ооо оао зао пао ао ип нко ано llc ltd inc corp plc gmbh jsc".split())
_APOSTROPHE_IN_WORD = re.compile(r"(?<=\w)['’`](?=\w)")


def search_key(text: str) -> str:
    """The folded form for matching: casefolded, ё→е, punctuation as spaces, spaces collapsed."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    folded = _APOSTROPHE_IN_WORD.sub("", folded.replace("ё", "е"))
    kept = "".join(ch if ch.isalnum() else " " for ch in folded)
    return " ".join(kept.split())


def normalize_name(text: str) -> str:
    """The duplicate-detection key: `search_key` without a leading or trailing legal form.

    'ООО «Ромашка»' and 'Ромашка, ООО' both give 'ромашка'; a name that is only a legal form
    keeps it.
    """
    words = search_key(text).split()
    while len(words) > 1 and (words[0] in LEGAL_FORMS or words[-1] in LEGAL_FORMS):
        words = words[1:] if words[0] in LEGAL_FORMS else words[:-1]
    return " ".join(words)


def clean_text(text: str | None, *, limit: int, field_message: str | None = None) -> str:
    """Free text stripped, with runs of spaces collapsed and newlines kept (at most one blank line).

    Empty text raises InvalidInput with `field_message` (or "Please send some text."), text over
    `limit` characters raises InvalidInput with the limit.
    """
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cleaned = "\n".join(" ".join(line.split()) for line in lines)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned).strip()
    if not cleaned:
        raise InvalidInput(field_message or TEXT_EMPTY)
    if len(cleaned) > limit:
        raise InvalidInput(TEXT_TOO_LONG, limit=limit)
    return cleaned


# Dates: vocabulary


def _forms(table: dict[int, str]) -> dict[str, int]:
    return {word: value for value, words in table.items() for word in words.split()}


_MONTHS = _forms(
    {
        1: "январь января янв january jan",
        2: "февраль февраля фев февр february feb",
        3: "март марта мар march mar",
        4: "апрель апреля апр april apr",
        5: "май мая may",
        6: "июнь июня июн june jun",
        7: "июль июля июл july jul",
        8: "август августа авг august aug",
        9: "сентябрь сентября сен сент september sep sept",
        10: "октябрь октября окт october oct",
        11: "ноябрь ноября ноя нояб november nov",
        12: "декабрь декабря дек december dec",
    }
)
_WEEKDAYS = _forms(
    {
        0: "понедельник понедельника понедельнику пн monday mon",
        1: "вторник вторника вторнику вт tuesday tue tues",
        2: "среда среду среды среде ср wednesday wed",
        3: "четверг четверга четвергу чт thursday thu thur thurs",
        4: "пятница пятницу пятницы пятнице пт friday fri",
        5: "суббота субботу субботы субботе сб saturday sat",
        6: "воскресенье воскресенья воскресенью вс sunday sun",
    }
)
_DAY_WORDS = {"сегодня": 0, "today": 0, "завтра": 1, "tomorrow": 1, "послезавтра": 2}
_NUMBER_WORDS = _forms(
    {
        1: "один одну одна one a an",
        2: "два две пару two couple",
        3: "три three",
        4: "четыре four",
        5: "пять five",
        6: "шесть six",
        7: "семь seven",
        8: "восемь eight",
        9: "девять nine",
        10: "десять ten",
    }
)
_UNIT_MINUTES = 1
_UNIT_HOURS = 60
_UNIT_DAYS = -1
_UNIT_WEEKS = -7
# Positive: minutes of an exact delta; negative: calendar days (the time of day is set separately).
_UNITS = _forms(
    {
        _UNIT_MINUTES: "минуту минуты минут мин minute minutes min mins",
        _UNIT_HOURS: "час часа часов ч hour hours hr hrs h",
        _UNIT_DAYS: "день дня дней дн day days",
        _UNIT_WEEKS: "неделю недели недель нед week weeks wk wks",
    }
)
_MERIDIEMS = ("am", "pm", "утра", "дня", "вечера", "ночи")

_PREP = r"(?:(?:в|во|на|до|к|ко|on|by|until|this)\s+)?"
_WORD = r"([^\W\d_]+)"
_YEAR_MARK = r"(?:\s*г(?:ода?)?\.?)?"  # "25.12.2026 г.", "25 декабря 2026 года"
_NUMERIC_DATE = re.compile(
    _PREP + r"([0-9]{1,2})[./]([0-9]{1,2})(?:[./]([0-9]{4}|[0-9]{2}))?" + _YEAR_MARK
)
_ISO_DATE = re.compile(_PREP + r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_DAY_MONTH = re.compile(
    _PREP
    + r"([0-9]{1,2})(?:-?(?:е|го|ое|st|nd|rd|th))?\s+"
    + _WORD
    + r"\.?(?:\s+([0-9]{4}))?"
    + _YEAR_MARK
)
_MONTH_DAY = re.compile(_PREP + _WORD + r"\.?\s+([0-9]{1,2})(?:st|nd|rd|th)?(?:\s+([0-9]{4}))?")
_DAY_WORD = re.compile(
    _PREP + r"(?:the\s+)?(сегодня|today|завтра|tomorrow|послезавтра|day\s+after\s+tomorrow)"
)
_WEEKDAY = re.compile(_PREP + _WORD)
_RELATIVE = re.compile(
    r"(?:через|in)\s+(?:a\s+)?(?:([0-9]{1,4})\s*|" + _WORD + r"\s+(?:of\s+)?)?" + _WORD
)
_HALF_HOUR = re.compile(r"через\s+полчаса|in\s+half\s+an\s+hour")
_NEXT_WEEK = re.compile(
    r"(?:на\s+)?след(?:ующей|ующая|ующую|\.)?\s*недел[еяюи]|next\s+week|(?:в|on)\s+next\s+week"
)
_CLOCK = re.compile(
    r"(?P<prep>(?:в|во|at|@)\s*)?(?P<h>[0-9]{1,2})(?:(?P<sep>[:.])(?P<m>[0-9]{2}))?"
    r"(?:\s*(?:часов|часа|час|ч)\b)?(?:\s*(?P<mer>" + "|".join(_MERIDIEMS) + r"))?"
)
_CLOCK_WORD = re.compile(r"(?:(?:в|at)\s+)?(полдень|noon|midday|полночь|midnight)")
_MAX_WHEN_CHARS = 80
_MAX_SPAN_WORDS = 8


@dataclass(frozen=True)
class _Day:
    """What the date part of a text says; exactly one field is set."""

    on: date | None = None
    day_month: tuple[int, int] | None = None
    offset: int | None = None
    weekday: int | None = None
    next_week: bool = False
    delta: timedelta | None = None


# Dates: reading the text


def _fold_when(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    folded = re.sub(r"(?<![^\W\d_])([ap])\.\s?m\.?(?![^\W\d_])", r"\1m", folded)
    folded = folded.replace(",", " ")
    return " ".join(folded.strip(" \t\n.;:!?—–-").split())


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    return 2000 + int(text) if len(text) == 2 else int(text)


def _calendar_day(day: int, month: int, year: int | None) -> _Day | None:
    if year is None:
        return _Day(day_month=(day, month)) if _valid_day_month(day, month) else None
    if not 1900 <= year <= 2200:
        return None
    try:
        return _Day(on=date(year, month, day))
    except ValueError:
        return None


def _valid_day_month(day: int, month: int) -> bool:
    try:
        date(2000, month, day)  # a leap year, so 29.02 counts
    except ValueError:
        return False
    return True


def _read_relative(match: re.Match[str]) -> _Day | None:
    digits, word, unit_word = match.groups()
    count = int(digits) if digits else _NUMBER_WORDS.get(word or "one")
    unit = _UNITS.get(unit_word)
    if count is None or unit is None or count < 1:
        return None
    if unit > 0:
        return _Day(delta=timedelta(minutes=count * unit))
    return _Day(offset=count * -unit)


def _read_day(text: str) -> _Day | None:
    """The date part alone (a full match), or None."""
    if m := _NUMERIC_DATE.fullmatch(text):
        return _calendar_day(int(m[1]), int(m[2]), _year(m[3]))
    if m := _ISO_DATE.fullmatch(text):
        return _calendar_day(int(m[3]), int(m[2]), int(m[1]))
    if (m := _DAY_MONTH.fullmatch(text)) and m[2] in _MONTHS:
        return _calendar_day(int(m[1]), _MONTHS[m[2]], _year(m[3]))
    if (m := _MONTH_DAY.fullmatch(text)) and m[1] in _MONTHS:
        return _calendar_day(int(m[2]), _MONTHS[m[1]], _year(m[3]))
    if m := _DAY_WORD.fullmatch(text):
        return _Day(offset=_DAY_WORDS.get(m[1], 2))
    if (m := _WEEKDAY.fullmatch(text)) and m[1] in _WEEKDAYS:
        return _Day(weekday=_WEEKDAYS[m[1]])
    if _HALF_HOUR.fullmatch(text):
        return _Day(delta=timedelta(minutes=30))
    if _NEXT_WEEK.fullmatch(text):
        return _Day(next_week=True)
    if m := _RELATIVE.fullmatch(text):
        return _read_relative(m)
    return None


def _read_clock(text: str, *, after_day: bool) -> tuple[int, int] | None:
    """The time part alone (a full match) as (hour, minute), or None.

    A bare hour ("10") or a dotted time ("15.30") needs "в"/"at" before it or a date before it.
    """
    if m := _CLOCK_WORD.fullmatch(text):
        return (12, 0) if m[1] in ("полдень", "noon", "midday") else (0, 0)
    m = _CLOCK.fullmatch(text)
    if m is None:
        return None
    explicit = bool(m["prep"] or m["mer"] or after_day)
    if not explicit and (m["m"] is None or m["sep"] == "."):
        return None
    hour, minute = int(m["h"]), int(m["m"] or 0)
    hour = _apply_meridiem(hour, m["mer"]) if m["mer"] else hour
    if hour is None or not 0 <= hour <= 23 or not 0 <= minute <= 59:
        return None
    return hour, minute


def _apply_meridiem(hour: int, meridiem: str) -> int | None:
    """The 24-hour hour for "3 pm", "в 9 утра", "в 3 дня", "в 7 вечера", "в 11 ночи"; or None."""
    if meridiem in ("am", "pm"):
        return hour % 12 + (12 if meridiem == "pm" else 0) if 1 <= hour <= 12 else None
    if meridiem == "утра":
        return hour if hour <= 11 else None
    if meridiem == "дня":
        return 12 if hour == 12 else (hour + 12 if 1 <= hour <= 6 else None)
    if meridiem == "вечера":
        return hour + 12 if 3 <= hour <= 11 else None
    if hour == 12:  # "в 12 ночи" is midnight, "в 2 ночи" 02:00, "в 11 ночи" 23:00
        return 0
    return hour if hour <= 5 else (hour + 12 if 9 <= hour <= 11 else None)


def _read(text: str) -> tuple[_Day | None, tuple[int, int] | None] | None:
    """Splits a folded text into a date part and a time part (either may be missing)."""
    if day := _read_day(text):
        return day, None
    if clock := _read_clock(text, after_day=False):
        return None, clock
    words = text.split(" ")
    for cut in range(1, len(words)):
        left, right = " ".join(words[:cut]), " ".join(words[cut:])
        if (day := _read_day(left)) and (clock := _read_clock(right, after_day=True)):
            return day, clock
        if (clock := _read_clock(left, after_day=True)) and (day := _read_day(right)):
            return day, clock
    return None


# Dates: resolving to a moment


def _at(day: date, clock: tuple[int, int], tz: ZoneInfo) -> datetime:
    """The UTC moment of a local wall time."""
    local = datetime(day.year, day.month, day.day, clock[0], clock[1], tzinfo=tz)
    return local.astimezone(UTC)


def _soon(now: datetime, tz: ZoneInfo) -> datetime:
    """An hour from now, rounded up to the next full local hour."""
    later = (now + timedelta(hours=1)).astimezone(tz)
    floor = later.replace(minute=0, second=0, microsecond=0)
    if floor == later:
        return floor.astimezone(UTC)
    return floor.astimezone(UTC) + timedelta(hours=1)


def _next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def _pick_year(day: int, month: int, today: date, allow_past: bool) -> date:
    """The next such date (today counts); with allow_past, the nearest one, past or future."""
    candidates = []
    for year in range(today.year - 4, today.year + 9):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    if allow_past:
        return min(candidates, key=lambda d: (abs((d - today).days), d < today))
    return min(d for d in candidates if d >= today)


def _resolve(
    found: tuple[_Day | None, tuple[int, int] | None],
    now: datetime,
    tz: ZoneInfo,
    default_hour: int,
    allow_past: bool,
) -> datetime | None:
    day, clock = found
    today = now.astimezone(tz).date()
    if day is None:  # a time alone: today, or tomorrow once it has passed
        assert clock is not None
        moment = _at(today, clock, tz)
        if moment <= now and not allow_past:
            return _at(today + timedelta(days=1), clock, tz)
        return moment
    if day.delta is not None:
        return None if clock else now + day.delta
    when = clock or (default_hour, 0)
    if day.on is not None:
        return _at(day.on, when, tz)
    if day.day_month is not None:
        return _at(_pick_year(*day.day_month, today, allow_past), when, tz)
    if day.next_week:
        return _at(_next_monday(today), when, tz)
    if day.offset is not None:
        moment = _at(today + timedelta(days=day.offset), when, tz)
        if day.offset == 0 and clock is None and moment <= now and not allow_past:
            return _soon(now, tz)
        return moment
    assert day.weekday is not None
    ahead = (day.weekday - today.weekday()) % 7
    moment = _at(today + timedelta(days=ahead), when, tz)
    return _at(today + timedelta(days=ahead + 7), when, tz) if moment <= now else moment


def _interpret(
    text: str, now: datetime, tz: ZoneInfo, default_hour: int, allow_past: bool
) -> datetime | None:
    if len(text) > _MAX_WHEN_CHARS:
        return None
    found = _read(_fold_when(text))
    if found is None:
        return None
    try:
        return _resolve(found, now, tz, default_hour, allow_past)
    except (OverflowError, ValueError):
        return None


def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


def _not_past(moment: datetime, now: datetime, allow_past: bool) -> datetime:
    if moment < now and not allow_past:
        raise InvalidInput(WHEN_PAST)
    return moment


def parse_when(
    text: str,
    now: datetime,
    tz: ZoneInfo,
    *,
    default_hour: int = 9,
    allow_past: bool = False,
) -> datetime:
    """The moment a user means by `text` (Russian or English), as an aware UTC datetime.

    Understands dates ("25.12", "25.12.26", "25/12", "2026-12-25", "25 декабря", "dec 25"),
    times ("15:30", "в 10", "at 10", "10am", "3 pm", "в 7 вечера"), words ("сегодня", "завтра",
    "послезавтра", "today", "tomorrow", "day after tomorrow"), weekdays ("в пятницу", "fri"),
    "через 3 дня", "in 2 hours", "через неделю", "next week", and a date followed or preceded
    by a time. A date alone means `default_hour`:00; hours and minutes count exactly from now.
    A date without a year is the next such date (today included); a time alone is today, or
    tomorrow once passed; a weekday is the next such day (today while the time is ahead);
    "today" alone after `default_hour` means an hour from now, rounded up to a full hour.

    Raises InvalidInput for anything else and for moments before `now`, unless `allow_past`:
    then past moments pass, a date without a year takes the nearest year and a time alone
    stays today.
    """
    _check_now(now)
    moment = _interpret(text, now, tz, default_hour, allow_past)
    if moment is None:
        raise InvalidInput(WHEN_UNREADABLE)
    return _not_past(moment, now, allow_past)


def parse_when_with_rest(
    text: str,
    now: datetime,
    tz: ZoneInfo,
    *,
    default_hour: int = 9,
    allow_past: bool = False,
) -> tuple[datetime, str]:
    """A date/time at the start or the end of a sentence, and the rest of it, stripped.

    "завтра в 10 позвонить Иванову" → (tomorrow 10:00, "позвонить Иванову"). The longest span of
    words that `parse_when` understands wins; at equal length the start wins.
    """
    _check_now(now)
    words = list(re.finditer(r"\S+", text))
    for size in range(min(len(words), _MAX_SPAN_WORDS), 0, -1):
        head_end = words[size - 1].end()
        tail_start = words[len(words) - size].start()
        for span, rest in (
            (text[:head_end], text[head_end:]),
            (text[tail_start:], text[:tail_start]),
        ):
            moment = _interpret(span, now, tz, default_hour, allow_past)
            if moment is not None:
                return _not_past(moment, now, allow_past), rest.strip(" \t\n,;:—–-")
    raise InvalidInput(WHEN_UNREADABLE)


_WEEKDAY_NAMES = {
    "ru": ("пн", "вт", "ср", "чт", "пт", "сб", "вс"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_MONTH_NAMES_EN = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def format_when(dt_utc: datetime, tz: ZoneInfo, locale: str) -> str:
    """An unambiguous echo in the user's zone: "пт, 25.12.2026 15:30" / "Fri 25 Dec 2026, 15:30"."""
    local = dt_utc.astimezone(tz)
    if locale.lower().startswith("ru"):
        return f"{_WEEKDAY_NAMES['ru'][local.weekday()]}, {local:%d.%m.%Y %H:%M}"
    weekday, month = _WEEKDAY_NAMES["en"][local.weekday()], _MONTH_NAMES_EN[local.month - 1]
    return f"{weekday} {local.day} {month} {local.year}, {local:%H:%M}"


def quick_dates(now: datetime, tz: ZoneInfo, default_hour: int = 9) -> dict[str, datetime]:
    """Moments for the quick buttons, as aware UTC datetimes.

    "today" is today at `default_hour`, or once that has passed, an hour from now rounded up to
    the next full hour (which may fall after midnight); "tomorrow", "in_3_days" and "next_week"
    (next Monday, a week ahead on a Monday) are at `default_hour`.
    """
    _check_now(now)
    today = now.astimezone(tz).date()
    at_default = (default_hour, 0)
    first = _at(today, at_default, tz)
    return {
        "today": first if first > now else _soon(now, tz),
        "tomorrow": _at(today + timedelta(days=1), at_default, tz),
        "in_3_days": _at(today + timedelta(days=3), at_default, tz),
        "next_week": _at(_next_monday(today), at_default, tz),
    }
