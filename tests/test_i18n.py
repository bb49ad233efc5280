"""Every text the bot can send exists in Russian and English, with the same markup."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from locales.sync import template

LOCALES = Path(__file__).resolve().parent.parent / "locales"
TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def catalog(locale: str):
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


SOURCE_IDS = sorted({message.id for message in template() if message.id})


def test_the_code_has_texts_to_translate():
    assert len(SOURCE_IDS) > 50


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_message_is_translated(locale):
    translated = {m.id: m.string for m in catalog(locale) if m.id}
    missing = [msgid for msgid in SOURCE_IDS if not translated.get(msgid)]
    assert not missing, f"{locale}: {len(missing)} untranslated, first: {missing[:5]}"


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_translations_keep_placeholders_and_html_tags(locale):
    problems = []
    for message in catalog(locale):
        if not message.id or not message.string:
            continue
        if placeholders(message.id) != placeholders(message.string):
            problems.append(f"placeholders differ: {message.id!r} → {message.string!r}")
        if TAG.findall(message.id) != TAG.findall(message.string):
            problems.append(f"HTML tags differ: {message.id!r} → {message.string!r}")
    assert not problems, "\n".join(problems)


def test_russian_entries_are_not_english_copies():
    def words(text: str) -> str:
        return re.sub(r"\{\w*\}|/\w+", "", TAG.sub("", text))

    copied = [
        m.id
        for m in catalog("ru")
        if m.id and m.string == m.id and re.search("[a-zA-Z]{3}", words(m.id))
    ]
    assert not copied, copied
