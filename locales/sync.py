"""Refresh the catalogues from the code: `make extract` runs this.

Message ids are the English texts, so the English catalogue gets msgstr = msgid for new entries;
Russian entries are left empty for a person to translate (tests/test_i18n.py fails until then).
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
KEYWORDS = {"_": None, "__": None, "N_": None}


def template() -> Catalog:
    catalog = Catalog(project="FieldCRM", charset="utf-8")
    for _file, _line, message, comments, context in extract_from_dir(
        ROOT / "bot", keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        catalog.add(message, auto_comments=comments, context=context)
    return catalog


def sync(locale: str, source: Catalog) -> None:
    path = LOCALES / locale / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
    else:
        catalog = Catalog(locale=locale, project="FieldCRM", charset="utf-8")
    catalog.update(source, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    catalog.fuzzy = False
    for message in catalog:
        if message.id and locale == "en" and not message.string:
            message.string = message.id
    with path.open("wb") as handle:
        write_po(handle, catalog, omit_header=False, no_location=True, sort_output=True, width=100)


def main() -> None:
    source = template()
    for locale in ("ru", "en"):
        sync(locale, source)
    print(f"{len(source)} messages")


if __name__ == "__main__":
    main()
