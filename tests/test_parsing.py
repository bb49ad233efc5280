"""Reading what users type: phones, e-mails, INNs, names, free text, dates and times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.services.errors import InvalidInput
from bot.services.parsing import (
    EMAIL_INVALID,
    INN_INVALID,
    PHONE_INVALID,
    TEXT_EMPTY,
    TEXT_TOO_LONG,
    WHEN_PAST,
    WHEN_UNREADABLE,
    clean_text,
    format_when,
    normalize_email,
    normalize_name,
    normalize_phone,
    parse_when,
    parse_when_with_rest,
    phone_digits,
    quick_dates,
    search_key,
    validate_inn,
)

MSK = ZoneInfo("Europe/Moscow")
VVO = ZoneInfo("Asia/Vladivostok")
BER = ZoneInfo("Europe/Berlin")
KOL = ZoneInfo("Asia/Kolkata")
# Saturday 28 November 2026, 08:00 in Moscow (15:00 in Vladivostok).
NOW = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
FAST = settings(max_examples=150, deadline=None)


def msk(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK).astimezone(UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def rejected(message: str, call, *args, **kwargs) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)
    assert caught.value.message == message
    return caught.value


# Phones


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+7 (912) 345-67-89", "+79123456789"),
        ("8 912 345 67 89", "+79123456789"),
        ("89123456789", "+79123456789"),
        ("79123456789", "+79123456789"),
        ("9123456789", "+79123456789"),
        ("912.345.67.89", "+79123456789"),
        ("  +79123456789  ", "+79123456789"),
        ("007 912 345-67-89", "+79123456789"),
        ("8 (495) 123-45-67", "+74951234567"),
        ("495 123 45 67", "+74951234567"),
        ("+1 415 555 2671", "+14155552671"),
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+49 30 1234567", "+49301234567"),
        ("+7\u00a0912\u00a0345–67–89", "+79123456789"),
        ("(+7) 912 345-67-89", "+79123456789"),
    ],
)
def test_normalize_phone_accepts_usual_forms(text, expected):
    assert normalize_phone(text) == expected


def test_normalize_phone_other_default_country_drops_the_trunk_zero():
    assert normalize_phone("020 7946 0958", default_country="44") == "+442079460958"
    assert normalize_phone("415 555 2671", default_country="+1") == "+14155552671"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "+7 912 ABC 67 89",
        "912 345",
        "+7 912 345 67 8",  # +7 numbers have 11 digits
        "+7 912 345 67 890",
        "8 912 345 67 8",
        "1234567890",
        "8123456789",  # 10 digits starting with 8: a mobile number with a digit missing
        "+1234567",  # 7 digits
        "+1234567890123456",  # 16 digits
        "+0123456789",
        "7 912 + 345 67 89",
        "+7 912 345-67-89 доб. 12",
        "tel:+79123456789",
        "+79123456789, +79123456780",
    ],
)
def test_normalize_phone_rejects_non_numbers(text):
    rejected(PHONE_INVALID, normalize_phone, text)


def test_phone_digits_keeps_only_digits():
    assert phone_digits("+7 (912) 345-67-89") == "79123456789"
    assert phone_digits("abc") == ""
    assert phone_digits("٣٤") == ""  # other scripts' digits are not phone digits


SEPARATORS = st.sampled_from(["", "", "", " ", "-", "(", ")", ".", "  ", " - "])


@FAST
@given(
    national=st.text("0123456789", min_size=9, max_size=9).map(lambda d: "9" + d),
    prefix=st.sampled_from(["+7", "8", "7", "", "007", "+ 7"]),
    data=st.data(),
)
def test_any_formatting_of_a_russian_mobile_number_is_accepted(national, prefix, data):
    chars = list(prefix + national)
    first = data.draw(st.sampled_from(["", " ", "("]))
    gaps = [
        first,
        *data.draw(st.lists(SEPARATORS, min_size=len(chars) - 1, max_size=len(chars) - 1)),
    ]
    text = "".join(sep + char for sep, char in zip(gaps, chars, strict=True))
    result = normalize_phone(text)
    assert result == "+7" + national
    assert normalize_phone(result) == result


@FAST
@given(st.text("0123456789 -()+.", max_size=25))
def test_normalize_phone_is_idempotent_on_its_output(text):
    try:
        result = normalize_phone(text)
    except InvalidInput:
        return
    assert result.startswith("+") and result[1:].isdigit() and 8 <= len(result) - 1 <= 15
    assert normalize_phone(result) == result


# E-mail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ivan.Petrov@Example.COM", "ivan.petrov@example.com"),
        ("  a+tag@mail.co.uk \n", "a+tag@mail.co.uk"),
        ("user@почта.рф", "user@почта.рф"),
        ("x@y.io", "x@y.io"),
    ],
)
def test_normalize_email_accepts_addresses(text, expected):
    assert normalize_email(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ivan",
        "ivan@",
        "@example.com",
        "ivan@example",
        "ivan@@example.com",
        "ivan@exa@mple.com",
        "iv an@example.com",
        "ivan@example..com",
        "ivan@.example.com",
        "ivan@example.com.",
        "ivan@mail,ru",
        "Ivan <ivan@example.com>",
        "a" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_normalize_email_rejects_non_addresses(text):
    rejected(EMAIL_INVALID, normalize_email, text)


# INN


def inn_check(digits: str, weights: list[int]) -> str:
    """Reference check digit, written independently of the code under test."""
    total = 0
    for index, weight in enumerate(weights):
        total += int(digits[index]) * weight
    return str(total % 11 % 10)


W10 = [2, 4, 10, 3, 5, 9, 4, 6, 8]
W11 = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8]
W12 = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]


def make_inn(body: str) -> str:
    if len(body) == 9:
        return body + inn_check(body, W10)
    with_11th = body + inn_check(body, W11)
    return with_11th + inn_check(with_11th, W12)


def reference_valid(inn: str) -> bool:
    return make_inn(inn[:9] if len(inn) == 10 else inn[:10]) == inn


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7707083893", "7707083893"),  # a real organisation's INN
        ("7707 083 893", "7707083893"),
        (" 7707083893\n", "7707083893"),
        ("500100732259", "500100732259"),
        (make_inn("1234567890"), make_inn("1234567890")),
    ],
)
def test_validate_inn_accepts_valid_numbers(text, expected):
    assert validate_inn(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "7707083894",  # wrong check digit
        "770708389",
        "77070838933",
        "500100732258",
        "500100732269",
        "7707-083-893",
        "77O7083893",  # a letter O
        "７７０７０８３８９３",  # full-width digits
        "1234567890123",
    ],
)
def test_validate_inn_rejects_invalid_numbers(text):
    rejected(INN_INVALID, validate_inn, text)


@FAST
@given(
    body=st.one_of(
        st.text("0123456789", min_size=9, max_size=9),
        st.text("0123456789", min_size=10, max_size=10),
    ),
    data=st.data(),
)
def test_a_generated_inn_passes_and_a_changed_digit_fails(body, data):
    inn = make_inn(body)
    assert validate_inn(inn) == inn
    position = data.draw(st.integers(0, len(inn) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != inn[position]]))
    changed = inn[:position] + digit + inn[position + 1 :]
    if reference_valid(changed):
        # (sum % 11) % 10 maps 10 and 0 to the same check digit: the checksum itself can't
        # catch every change; the validator still agrees with the reference.
        assert position < len(inn) - (1 if len(inn) == 10 else 2)
        assert validate_inn(changed) == changed
    else:
        rejected(INN_INVALID, validate_inn, changed)


def test_a_changed_check_digit_always_fails():
    for body in ("770708389", "123456789", "5001007322"):
        inn = make_inn(body)
        for digit in "0123456789":
            if digit != inn[-1]:
                rejected(INN_INVALID, validate_inn, inn[:-1] + digit)


# Names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ООО «Ромашка»", "ромашка"),
        ('ООО"Ромашка"', "ромашка"),
        ("Ромашка, ООО", "ромашка"),
        ("Ёлки-Палки", "елки палки"),
        ("  Acme   LLC ", "acme"),
        ("Acme, Inc.", "acme"),
        ("ИП Иванов Иван Иванович", "иванов иван иванович"),
        ("ао ПАО Газ", "газ"),
        ("Siemens GmbH", "siemens"),
        ("Rosneft JSC", "rosneft"),
        ("Acme Ltd.", "acme"),
        ("НКО „Добро“", "добро"),
        ("McDonald's", "mcdonalds"),
        ("ООО", "ооо"),  # only a legal form: kept
        ("ООО АО", "ао"),
        ("Каоооо", "каоооо"),  # not a whole word
        ("Ромашка-2", "ромашка 2"),
        ("Straße", "strasse"),
        ("", ""),
        ("«»", ""),
    ],
)
def test_normalize_name(text, expected):
    assert normalize_name(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ООО «Ромашка»", "ооо ромашка"),
        ("Ёлки-Палки", "елки палки"),
        ("  Acme   LLC ", "acme llc"),
        ("ромаш", "ромаш"),
    ],
)
def test_search_key_keeps_legal_forms(text, expected):
    assert search_key(text) == expected


@FAST
@given(st.text(max_size=40))
def test_normalize_name_and_search_key_are_idempotent(text):
    key = normalize_name(text)
    assert normalize_name(key) == key
    assert search_key(search_key(text)) == search_key(text)


@FAST
@given(
    st.lists(
        st.sampled_from(["ООО", "llc", "Ромашка", "ёж", "«", "»", "-", ",", "Inc.", "  "]),
        max_size=8,
    )
)
def test_normalize_name_is_idempotent_on_company_like_names(parts):
    key = normalize_name(" ".join(parts))
    assert normalize_name(key) == key


# Free text


def test_clean_text_collapses_spaces_and_keeps_newlines():
    text = "  Позвонить   Иванову\t про \r\n  счёт \n\n\n\n Потом  КП  "
    assert clean_text(text, limit=100) == "Позвонить Иванову про\nсчёт\n\nПотом КП"


@pytest.mark.parametrize("text", [None, "", "   ", "\n \t\n"])
def test_clean_text_rejects_empty_text(text):
    rejected(TEXT_EMPTY, clean_text, text, limit=10)


def test_clean_text_uses_the_field_message_when_empty():
    rejected("Send the name.", clean_text, " ", limit=10, field_message="Send the name.")


def test_clean_text_limits_the_length_after_cleaning():
    assert clean_text("  a    b  ", limit=3) == "a b"
    error = rejected(TEXT_TOO_LONG, clean_text, "abcd", limit=3)
    assert error.params == {"limit": 3}


# Dates: Moscow, now = Saturday 28.11.2026 08:00


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # dates alone → 09:00 local
        ("25.12", msk(12, 25)),
        ("25.12.2026", msk(12, 25)),
        ("25.12.26", msk(12, 25)),
        ("25/12", msk(12, 25)),
        ("25/12/2026", msk(12, 25)),
        ("2026-12-25", msk(12, 25)),
        ("25.12.2026 г.", msk(12, 25)),
        ("25 декабря", msk(12, 25)),
        ("25-го декабря 2026 года", msk(12, 25)),
        ("на 25.12", msk(12, 25)),
        ("25 dec", msk(12, 25)),
        ("December 25th, 2026", msk(12, 25)),
        ("5.1", msk(1, 5, year=2027)),
        ("27.11", msk(11, 27, year=2027)),  # already past this year
        ("28.11", msk(11, 28)),  # today, 09:00 is still ahead
        ("29.02", msk(2, 29, year=2028)),
        # dates with times
        ("25.12 15:30", msk(12, 25, 15, 30)),
        ("25.12 в 15:30", msk(12, 25, 15, 30)),
        ("25.12.2026 15:30", msk(12, 25, 15, 30)),
        ("25.12, 15:30", msk(12, 25, 15, 30)),
        ("25.12 15.30", msk(12, 25, 15, 30)),
        ("25.12 10", msk(12, 25, 10)),
        ("15:30 25.12", msk(12, 25, 15, 30)),
        ("25 декабря в 7 вечера", msk(12, 25, 19)),
        ("dec 25 at 3pm", msk(12, 25, 15)),
        # times alone → today, or tomorrow once passed
        ("15:30", msk(11, 28, 15, 30)),
        ("07:30", msk(11, 29, 7, 30)),
        ("8:00", msk(11, 29, 8)),  # exactly now counts as passed
        ("10am", msk(11, 28, 10)),
        ("10 AM", msk(11, 28, 10)),
        ("10a.m.", msk(11, 28, 10)),
        ("3 pm", msk(11, 28, 15)),
        ("10:30pm", msk(11, 28, 22, 30)),
        ("12pm", msk(11, 28, 12)),
        ("12am", msk(11, 29, 0)),
        ("в 10", msk(11, 28, 10)),
        ("в 10 часов", msk(11, 28, 10)),
        ("at 10", msk(11, 28, 10)),
        ("в 15.30", msk(11, 28, 15, 30)),
        ("в 9 утра", msk(11, 28, 9)),
        ("в 3 дня", msk(11, 28, 15)),
        ("в 7 вечера", msk(11, 28, 19)),
        ("в 11 ночи", msk(11, 28, 23)),
        ("в 2 ночи", msk(11, 29, 2)),
        ("в полдень", msk(11, 28, 12)),
        ("at noon", msk(11, 28, 12)),
        ("midnight", msk(11, 29, 0)),
        # day words
        ("сегодня", msk(11, 28)),
        ("today", msk(11, 28)),
        ("сегодня в 18:00", msk(11, 28, 18)),
        ("завтра", msk(11, 29)),
        ("tomorrow", msk(11, 29)),
        ("завтра 10:00", msk(11, 29, 10)),
        ("завтра в 10", msk(11, 29, 10)),
        ("завтра 10", msk(11, 29, 10)),
        ("на завтра", msk(11, 29)),
        ("tomorrow 10am", msk(11, 29, 10)),
        ("tomorrow at 15:30", msk(11, 29, 15, 30)),
        ("10am tomorrow", msk(11, 29, 10)),
        ("в 10 утра завтра", msk(11, 29, 10)),
        ("послезавтра", msk(11, 30)),
        ("послезавтра в 18:15", msk(11, 30, 18, 15)),
        ("day after tomorrow", msk(11, 30)),
        ("the day after tomorrow at 10:30 pm", msk(11, 30, 22, 30)),
        # relative
        ("через 3 дня", msk(12, 1)),
        ("через 3 дня в 15:00", msk(12, 1, 15)),
        ("через день", msk(11, 29)),
        ("через два дня", msk(11, 30)),
        ("через пару дней", msk(11, 30)),
        ("через неделю", msk(12, 5)),
        ("через 2 недели", msk(12, 12)),
        ("через 5 недель", msk(1, 2, year=2027)),
        ("через 2 часа", NOW + timedelta(hours=2)),
        ("через 2ч", NOW + timedelta(hours=2)),
        ("через час", NOW + timedelta(hours=1)),
        ("через 30 минут", NOW + timedelta(minutes=30)),
        ("через 5 мин", NOW + timedelta(minutes=5)),
        ("через полчаса", NOW + timedelta(minutes=30)),
        ("in 3 days", msk(12, 1)),
        ("in 3 days at 10am", msk(12, 1, 10)),
        ("in a couple of days", msk(11, 30)),
        ("in 2 hours", NOW + timedelta(hours=2)),
        ("in 30 minutes", NOW + timedelta(minutes=30)),
        ("in an hour", NOW + timedelta(hours=1)),
        ("in half an hour", NOW + timedelta(minutes=30)),
        ("in a week", msk(12, 5)),
        ("in 2 weeks", msk(12, 12)),
        # weekdays (today is Saturday)
        ("пятница", msk(12, 4)),
        ("в пятницу", msk(12, 4)),
        ("пт", msk(12, 4)),
        ("до пятницы", msk(12, 4)),
        ("friday", msk(12, 4)),
        ("on friday", msk(12, 4)),
        ("fri", msk(12, 4)),
        ("в пятницу в 15:00", msk(12, 4, 15)),
        ("friday 3pm", msk(12, 4, 15)),
        ("во вторник", msk(12, 1)),
        ("в среду", msk(12, 2)),
        ("воскресенье", msk(11, 29)),
        ("monday", msk(11, 30)),
        ("суббота", msk(11, 28)),  # today, 09:00 still ahead
        ("сб в 10", msk(11, 28, 10)),
        ("суббота 07:00", msk(12, 5, 7)),  # today but passed: next week
        ("saturday 8:00", msk(12, 5, 8)),
        # next week → next Monday
        ("next week", msk(11, 30)),
        ("на следующей неделе", msk(11, 30)),
        ("на след. неделе", msk(11, 30)),
        ("next week at 10", msk(11, 30, 10)),
        # case, spaces, punctuation
        ("  ЗАВТРА   В 10  ", msk(11, 29, 10)),
        ("Tomorrow AT 10AM", msk(11, 29, 10)),
        ("В Пятницу.", msk(12, 4)),
        ("Через  3  дня!", msk(12, 1)),
        ("сЕгОдНя", msk(11, 28)),
    ],
)
def test_parse_when_in_moscow(text, expected):
    assert parse_when(text, NOW, MSK) == expected


def test_default_hour_is_used_for_dates_alone():
    assert parse_when("завтра", NOW, MSK, default_hour=14) == msk(11, 29, 14)
    assert parse_when("через 3 дня", NOW, MSK, default_hour=0) == msk(12, 1, 0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "когда-нибудь",
        "yesterday",
        "вчера",
        "31.02",
        "31.02.2027",
        "32.12",
        "00.12",
        "25.13",
        "2026-02-30",
        "25:61",
        "24:00",
        "25.12 25:00",
        "25.12 15:60",
        "15.30",  # a dotted time alone reads as a date, and 30 is no month
        "10",  # a bare number is neither a date nor a time
        "13pm",
        "0am",
        "в 13 вечера",
        "через 0 дней",
        "через 2 часа в 10",  # an exact delta takes no time of day
        "через много дней",
        "in 3 fortnights",
        "завтра послезавтра",
        "25.12.1850",
        "25 smarch",
        "в пятницу позвонить",
        "x" * 200,
    ],
)
def test_parse_when_rejects_unreadable_text(text):
    rejected(WHEN_UNREADABLE, parse_when, text, NOW, MSK)


@pytest.mark.parametrize(
    "text",
    ["25.12.2025", "2026-11-27", "28.11 07:00", "сегодня в 7", "today 7:59", "28.11.26 7:00"],
)
def test_parse_when_rejects_the_past(text):
    rejected(WHEN_PAST, parse_when, text, NOW, MSK)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25.12.2025", msk(12, 25, year=2025)),
        ("сегодня в 7", msk(11, 28, 7)),
        ("25.11", msk(11, 25)),  # the nearest 25.11, not next year's
        ("25.02", msk(2, 25, year=2027)),  # still the nearest
        ("07:30", msk(11, 28, 7, 30)),  # a time alone stays today
        ("сегодня", msk(11, 28)),
        ("завтра", msk(11, 29)),
    ],
)
def test_parse_when_allow_past(text, expected):
    assert parse_when(text, NOW, MSK, allow_past=True) == expected


def test_today_alone_after_the_default_hour_means_the_next_full_hour_after_an_hour():
    at_10_20 = msk(11, 28, 10, 20)
    assert parse_when("сегодня", at_10_20, MSK) == msk(11, 28, 12)
    assert parse_when("today", msk(11, 28, 10), MSK) == msk(11, 28, 11)
    assert parse_when("сегодня в 15", at_10_20, MSK) == msk(11, 28, 15)
    rejected(WHEN_PAST, parse_when, "сегодня в 10", at_10_20, MSK)


def test_parse_when_needs_an_aware_now():
    with pytest.raises(ValueError):
        parse_when("завтра", datetime(2026, 11, 28, 5), MSK)


# Dates: other zones


def test_vladivostok_uses_its_own_day():
    now = utc(2026, 11, 28, 20, 0)  # Sunday 29.11 06:00 in Vladivostok, still Saturday in UTC
    assert parse_when("сегодня", now, VVO) == utc(2026, 11, 28, 23, 0)
    assert parse_when("завтра", now, VVO) == utc(2026, 11, 29, 23, 0)
    assert parse_when("пн", now, VVO) == utc(2026, 11, 29, 23, 0)
    assert parse_when("вс в 10", now, VVO) == utc(2026, 11, 29, 0, 0)
    assert parse_when("29.11 07:00", now, VVO) == utc(2026, 11, 28, 21, 0)
    assert parse_when("5:30", now, VVO) == utc(2026, 11, 29, 19, 30)  # tomorrow there
    assert parse_when("через 2 часа", now, VVO) == utc(2026, 11, 28, 22, 0)


def test_vladivostok_afternoon():
    assert parse_when("15:30", NOW, VVO) == utc(2026, 11, 28, 5, 30)
    assert parse_when("14:00", NOW, VVO) == utc(2026, 11, 29, 4, 0)
    assert parse_when("сегодня", NOW, VVO) == utc(2026, 11, 28, 6, 0)  # 16:00 there


def test_berlin_spring_forward():
    now = utc(2026, 3, 28, 10, 0)  # Saturday 11:00 CET; clocks go forward on Sunday at 02:00
    assert parse_when("завтра 10:00", now, BER) == utc(2026, 3, 29, 8, 0)  # CEST
    assert parse_when("сегодня 18:00", now, BER) == utc(2026, 3, 28, 17, 0)  # CET
    assert parse_when("через 2 дня", now, BER) == utc(2026, 3, 30, 7, 0)
    assert parse_when("in 24 hours", now, BER) == utc(2026, 3, 29, 10, 0)  # exact, 12:00 CEST
    assert parse_when("29.03 02:30", now, BER) == utc(2026, 3, 29, 1, 30)  # skipped: 03:30 CEST
    assert parse_when("next week", now, BER) == utc(2026, 3, 30, 7, 0)


def test_berlin_fall_back():
    now = utc(2026, 10, 24, 10, 0)  # Saturday 12:00 CEST; clocks go back on Sunday at 03:00
    assert parse_when("tomorrow 10am", now, BER) == utc(2026, 10, 25, 9, 0)  # CET
    assert parse_when("25.10 02:30", now, BER) == utc(2026, 10, 25, 0, 30)  # first 02:30, CEST
    assert parse_when("in 3 days", now, BER) == utc(2026, 10, 27, 8, 0)


@st.composite
def future_local_minutes(draw):
    tz = draw(st.sampled_from([MSK, VVO, BER, KOL, ZoneInfo("America/New_York")]))
    now = draw(st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31))).replace(tzinfo=UTC)
    start = now.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
    wall = start + timedelta(minutes=draw(st.integers(1, 364 * 24 * 60)))
    moment = wall.replace(tzinfo=tz).astimezone(UTC)
    assume(moment.astimezone(tz).replace(tzinfo=None) == wall)  # not skipped by a DST switch
    assume(moment > now)
    return now, tz, wall, moment


@FAST
@given(future_local_minutes())
def test_a_future_local_day_and_time_reads_back_exactly(case):
    now, tz, wall, moment = case
    assert parse_when(f"{wall:%d.%m %H:%M}", now, tz) == moment
    assert parse_when(f"{wall:%d.%m.%Y в %H:%M}", now, tz) == moment


@FAST
@given(st.text(max_size=30))
def test_parse_when_only_raises_invalid_input(text):
    try:
        moment = parse_when(text, NOW, MSK)
    except InvalidInput:
        return
    assert moment.tzinfo is UTC and moment >= NOW


# Date at the start or end of a sentence


@pytest.mark.parametrize(
    ("text", "expected", "rest"),
    [
        ("завтра в 10 позвонить Иванову", msk(11, 29, 10), "позвонить Иванову"),
        (
            "send the offer to Romashka on friday 15:00",
            msk(12, 4, 15),
            "send the offer to Romashka",
        ),
        ("позвонить Иванову через 2 часа", NOW + timedelta(hours=2), "позвонить Иванову"),
        ("Call Ivan tomorrow.", msk(11, 29), "Call Ivan"),
        ("25.12 — отправить КП", msk(12, 25), "отправить КП"),
        ("в пятницу, встреча с клиентом", msk(12, 4), "встреча с клиентом"),
        ("встреча в пятницу в 15:00", msk(12, 4, 15), "встреча"),
        ("in 3 days at 10am follow up", msk(12, 1, 10), "follow up"),
        ("завтра в 10\nпозвонить\nИванову", msk(11, 29, 10), "позвонить\nИванову"),
        ("завтра", msk(11, 29), ""),
        ("Отправить 2 КП 25.12 15:30", msk(12, 25, 15, 30), "Отправить 2 КП"),
    ],
)
def test_parse_when_with_rest(text, expected, rest):
    assert parse_when_with_rest(text, NOW, MSK) == (expected, rest)


@pytest.mark.parametrize("text", ["", "позвонить Иванову", "позвонить завтра Иванову"])
def test_parse_when_with_rest_needs_a_date_at_an_edge(text):
    rejected(WHEN_UNREADABLE, parse_when_with_rest, text, NOW, MSK)


def test_parse_when_with_rest_rejects_the_past_unless_allowed():
    rejected(WHEN_PAST, parse_when_with_rest, "сегодня в 7 позвонить", NOW, MSK)
    assert parse_when_with_rest("сегодня в 7 позвонил", NOW, MSK, allow_past=True) == (
        msk(11, 28, 7),
        "позвонил",
    )


# Echo and quick buttons


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("ru", "пт, 25.12.2026 15:30"),
        ("ru_RU", "пт, 25.12.2026 15:30"),
        ("en", "Fri 25 Dec 2026, 15:30"),
        ("en_US", "Fri 25 Dec 2026, 15:30"),
    ],
)
def test_format_when(locale, expected):
    assert format_when(msk(12, 25, 15, 30), MSK, locale) == expected


def test_format_when_uses_the_zone():
    moment = utc(2026, 11, 28, 20, 5)
    assert format_when(moment, VVO, "ru") == "вс, 29.11.2026 06:05"
    assert format_when(moment, VVO, "en") == "Sun 29 Nov 2026, 06:05"


def test_quick_dates_before_the_default_hour():
    assert quick_dates(NOW, MSK) == {
        "today": msk(11, 28),
        "tomorrow": msk(11, 29),
        "in_3_days": msk(12, 1),
        "next_week": msk(11, 30),
    }


def test_quick_dates_after_the_default_hour():
    dates = quick_dates(msk(11, 28, 10, 20), MSK)
    assert dates["today"] == msk(11, 28, 12)
    assert quick_dates(msk(11, 28, 10), MSK)["today"] == msk(11, 28, 11)
    assert quick_dates(msk(11, 28, 23, 30), MSK)["today"] == msk(11, 29, 1)
    assert quick_dates(NOW, MSK, default_hour=7)["today"] == msk(11, 28, 9)


def test_quick_dates_on_a_monday_and_in_a_half_hour_zone():
    monday = msk(11, 30, 8)
    assert quick_dates(monday, MSK)["next_week"] == msk(12, 7)
    at_10_20_in_kolkata = datetime(2026, 11, 28, 10, 20, tzinfo=KOL).astimezone(UTC)
    today = quick_dates(at_10_20_in_kolkata, KOL)["today"]
    assert today == datetime(2026, 11, 28, 12, 0, tzinfo=KOL).astimezone(UTC)


def test_quick_dates_across_a_dst_switch():
    dates = quick_dates(utc(2026, 3, 28, 10, 0), BER)
    assert dates["tomorrow"] == utc(2026, 3, 29, 7, 0)
    assert dates["in_3_days"] == utc(2026, 3, 31, 7, 0)
    assert dates["next_week"] == utc(2026, 3, 30, 7, 0)
    assert all(moment.tzinfo is UTC for moment in dates.values())
