"""Start-up configuration: a bad or missing setting stops with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def run_bot(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,  # no .env there
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_token_is_one_line_and_a_non_zero_exit(tmp_path):
    result = run_bot(tmp_path, {})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "Configuration error: BOT_TOKEN is not set: expected the bot token from @BotFather"
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_malformed_setting_names_the_variable_and_never_shows_the_token(tmp_path):
    result = run_bot(tmp_path, {"BOT_TOKEN": "123:secret-value", "ADMIN_IDS": "12,abc"})
    assert result.returncode != 0
    assert "ADMIN_IDS is malformed" in result.stderr
    assert "secret-value" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BOT_TOKEN", "no-colon", "BOT_TOKEN is malformed"),
        ("DEFAULT_TIMEZONE", "Mars/Base", "DEFAULT_TIMEZONE is malformed: expected an IANA"),
        ("DEFAULT_LOCALE", "de", "DEFAULT_LOCALE is malformed: expected ru or en"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL is malformed"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL is malformed"),
        ("WEBHOOK_URL", "http://crm.example.com/hook", "WEBHOOK_URL is malformed: expected"),
        ("WEBHOOK_SECRET", "with spaces", "WEBHOOK_SECRET is malformed: expected 1-256"),
        ("WEBHOOK_PORT", "70000", "WEBHOOK_PORT is malformed"),
    ],
)
def test_each_malformed_setting(monkeypatch, variable, value, expected):
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=expected):
        load_settings(_env_file=None)


def test_defaults_and_the_sqlite_folder_is_created(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    monkeypatch.setenv("ADMIN_IDS", " 1, 22 ,333")
    settings = load_settings(_env_file=None)
    assert settings.admin_ids == {1, 22, 333}
    assert settings.default_locale == "ru" and settings.default_timezone == "Europe/Moscow"
    assert settings.database_url == "sqlite+aiosqlite:///data/fieldcrm.sqlite3"
    assert (tmp_path / "data").is_dir()
    assert "abc" not in repr(settings)


def test_migrate_then_invite_from_the_command_line(tmp_path):
    env = {
        "BOT_TOKEN": "123:abc",
        "BOT_USERNAME": "fieldcrm_bot",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3",
    }
    assert run_bot(tmp_path, env, "migrate").returncode == 0
    result = run_bot(tmp_path, env, "invite", "--role", "manager", "--department", "Sales")
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip()
    assert link.startswith("https://t.me/fieldcrm_bot?start=")
    assert 16 <= len(link.rsplit("=", 1)[1]) <= 64


def test_a_webhook_needs_its_secret(monkeypatch):
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    monkeypatch.setenv("WEBHOOK_URL", "https://crm.example.com/telegram")
    with pytest.raises(SettingsError, match=r"WEBHOOK_SECRET is malformed: .* with WEBHOOK_URL"):
        load_settings(_env_file=None)
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret")
    settings = load_settings(_env_file=None)
    assert (settings.webhook_listen, settings.webhook_port) == ("0.0.0.0", 8080)
