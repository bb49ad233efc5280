"""Settings: read once from the environment and `.env`, passed down explicitly."""

from __future__ import annotations

import re
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SUPPORTED_LOCALES = ("ru", "en")
DEFAULT_SQLITE_PATH = Path("data") / "fieldcrm.sqlite3"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line meant for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr = Field(description="the bot token from @BotFather")
    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}",
        description="an SQLAlchemy async URL (sqlite+aiosqlite:///path or postgresql+asyncpg://...)",
    )
    telegram_api_base: str | None = Field(
        default=None, description="base URL of a Bot API server, e.g. http://127.0.0.1:8081"
    )
    bot_username: str | None = Field(default=None, description="the bot's @username without @")
    admin_ids: Annotated[frozenset[int], NoDecode] = Field(
        default=frozenset(), description="comma-separated Telegram user ids, e.g. 1111,2222"
    )
    default_locale: Literal["ru", "en"] = Field(default="ru", description="ru or en")
    default_timezone: str = Field(default="Europe/Moscow", description="an IANA time zone name")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL"
    )
    redis_url: str | None = Field(
        default=None, description="a Redis URL (redis://host:6379/0) for FSM state and locks"
    )
    webhook_url: str | None = Field(
        default=None,
        pattern=r"^https://[^\s/]+(/\S*)?$",
        description="the public https:// address Telegram posts updates to (unset: polling)",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="1-256 characters of A-Z a-z 0-9 _ -, required with WEBHOOK_URL",
    )
    webhook_listen: str = Field(
        default="0.0.0.0", description="the address the webhook server listens on"
    )
    webhook_port: int = Field(
        default=8080, ge=1, le=65535, description="the port the webhook server listens on"
    )
    invite_ttl_days: int = Field(default=7, ge=1, le=365, description="a whole number 1..365")
    sweep_seconds: float = Field(
        default=2.0, gt=0, le=30, description="seconds between sweeps for due work (0 < s ≤ 30)"
    )
    outbox_rate: float = Field(
        default=28.0, gt=0, le=30, description="messages per second in all (Telegram allows 30)"
    )
    outbox_chat_interval: float = Field(
        default=1.0, ge=0, le=60, description="seconds between two messages to one chat"
    )
    stale_days: int = Field(
        default=30, ge=1, le=365, description="days without contact before a client is flagged"
    )

    default_currency: str = Field(
        default="RUB", pattern=r"^[A-Z]{3}$", description="an ISO 4217 code such as RUB"
    )
    deal_stale_days: int = Field(
        default=14, ge=1, le=365, description="days without activity before a deal is flagged"
    )
    big_deal_amount: Decimal = Field(
        default=Decimal(1_000_000),
        ge=0,
        description="a deal amount (default currency) from which the owner's head is told",
    )

    sla_critical_hours: float = Field(
        default=4, gt=0, le=8760, description="hours to resolve a critical complaint"
    )
    sla_high_hours: float = Field(
        default=24, gt=0, le=8760, description="hours to resolve a high-severity complaint"
    )
    sla_medium_hours: float = Field(
        default=72, gt=0, le=8760, description="hours to resolve a medium-severity complaint"
    )
    sla_low_hours: float = Field(
        default=168, gt=0, le=8760, description="hours to resolve a low-severity complaint"
    )
    complaint_auto_assign: bool = Field(
        default=False, description="true to assign new complaints round-robin in service"
    )
    complaint_reopen_days: int = Field(
        default=14, ge=0, le=365, description="days a resolved complaint can be reopened"
    )

    company_name: str = Field(
        default="FieldCRM", min_length=1, max_length=100, description="the name clients see"
    )
    survey_nps_delay_hours: float = Field(
        default=24, ge=0, le=720, description="hours after a deal is won before its NPS survey"
    )
    survey_csat_delay_hours: float = Field(
        default=24, ge=0, le=720, description="hours after a complaint is resolved before CSAT"
    )
    survey_periodic_days: int = Field(
        default=90, ge=1, le=3650, description="days between relationship NPS surveys"
    )
    survey_min_gap_days: int = Field(
        default=14, ge=0, le=365, description="at most one survey per client in this many days"
    )
    survey_expiry_days: int = Field(
        default=7, ge=1, le=90, description="days an unanswered survey can still be answered"
    )
    import_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        le=20 * 1024 * 1024,
        description="the largest file admins may import, in bytes (1024..20971520)",
    )
    exports_per_day: int = Field(
        default=5, ge=0, le=1000, description="exports one user may make per day (0 turns them off)"
    )

    # Limits against copying (bot/services/quotas.py); admins are not limited; 0: no limit.
    card_views_per_hour: int = Field(
        default=60, ge=0, description="different client cards a person may open in an hour"
    )
    card_views_per_day: int = Field(
        default=300, ge=0, description="different client cards a person may open in a day"
    )
    searches_per_hour: int = Field(
        default=60, ge=0, description="client searches a person may make in an hour"
    )
    searches_per_day: int = Field(
        default=300, ge=0, description="client searches a person may make in a day"
    )
    # Floods (bot/middlewares/throttle.py): a token bucket per Telegram account.
    flood_rate: float = Field(
        default=60, ge=0, description="updates a minute one account may send (0: no limit)"
    )
    flood_burst: int = Field(
        default=100, ge=1, le=10000, description="updates one account may send at once"
    )

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",")]
            return frozenset(int(p) for p in parts if p)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("default_timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        bot_id, _, secret = value.get_secret_value().partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("malformed token")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Telegram's rule for secret_token; and a webhook without one would take anyone's."""
        if value is None:
            if info.data.get("webhook_url"):
                raise ValueError("required with WEBHOOK_URL")
            return None
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("malformed secret")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("unsupported driver")
        return value


def load_settings(**overrides: object) -> Settings:
    """Build Settings or raise SettingsError naming the first bad variable (never its value)."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        field = Settings.model_fields.get(name)
        expected = field.description if field and field.description else error["msg"]
        problem = "is not set" if error["type"] == "missing" else "is malformed"
        raise SettingsError(f"{name.upper()} {problem}: expected {expected}") from None
    if settings.database_url.startswith("sqlite"):
        _ensure_sqlite_folder(settings.database_url)
    return settings


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
