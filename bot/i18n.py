"""gettext catalogues (locales/<lang>/LC_MESSAGES/messages.po) through aiogram's I18n.

Message ids are the English texts. `_()` translates at call time in the current update's locale;
`__()` is the lazy form for filters and module-level constants; outside an update (scheduler,
CLI) wrap the work in `i18n.use_locale(locale)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n, I18nMiddleware

from bot.config import SUPPORTED_LOCALES, Settings

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"


def create_i18n(settings: Settings) -> I18n:
    return I18n(path=LOCALES_DIR, default_locale=settings.default_locale, domain=DOMAIN)


def locale_from_telegram(language_code: str | None, default: str) -> str:
    """Russian for Russian speakers, English for everyone else, the default when unknown."""
    if not language_code:
        return default
    return "ru" if language_code.lower().startswith("ru") else "en"


class UserLocaleMiddleware(I18nMiddleware):
    """The registered user's chosen language, else the one Telegram reports."""

    def __init__(self, i18n: I18n, default_locale: str) -> None:
        super().__init__(i18n)
        self.default_locale = default_locale

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user = data.get("user")
        if user is not None and user.locale in SUPPORTED_LOCALES:
            return user.locale
        tg_user = data.get("event_from_user")
        return locale_from_telegram(getattr(tg_user, "language_code", None), self.default_locale)
