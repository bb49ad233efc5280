"""The bot token never reaches a log: every record is redacted when it is made.

A filter on the root logger alone would not do: Python applies a logger's filters only to
records logged on that very logger, not to those propagated from `aiogram.*`, `aiohttp.*` or
`bot.*`. So redaction happens in the log record factory, which every record of every logger
passes through, whatever handlers are attached later (pytest's caplog, a log shipper): the
message is formatted with its arguments and, when it holds a secret, replaced by its redacted
text (a record without one keeps its msg and args untouched), and the traceback is
formatted and redacted too (exceptions from HTTP libraries may carry the request URL, which
holds the token: https://api.telegram.org/bot<id>:<secret>/getUpdates). The same filter is
also put on the root logger and its handlers, and uncaught exceptions printed by Python are
redacted as well.

The secret part of the token (after the colon) is what is replaced: the bot's id before it is
public, and with the secret gone neither the whole token nor the secret alone can be read.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from typing import Any

REDACTED = "<redacted>"


class RedactingFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, token: str) -> None:
        secret = token.partition(":")[2]
        for value in (token, secret):
            if len(value) >= 8:  # never redact something as short as "1" everywhere
                self.secrets.add(value)

    def redact(self, text: str) -> str:
        # the longest first, so the whole token is replaced before its secret part
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, _mask(secret))
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets or getattr(record, "_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it when the record is emitted
            return True
        redacted = self.redact(message)
        if redacted != message:  # otherwise msg and args stay as they were, for other filters
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        record._redacted = True
        return True


def _mask(secret: str) -> str:
    bot_id, colon, _secret = secret.partition(":")
    return f"{bot_id}:{REDACTED}" if colon and bot_id.isdigit() else REDACTED


_FILTER = RedactingFilter()  # logging is process-wide, so is what guards it
_installed = False


def install_redaction(token: str) -> RedactingFilter:
    """Redacts `token` from every log record from now on (idempotent; tokens add up)."""
    global _installed
    _FILTER.add(token)
    root = logging.getLogger()
    for target in (root, *root.handlers):
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
    if not _installed:
        _installed = True
        previous_factory = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous_factory(*args, **kwargs)
            _FILTER.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        previous_hook = sys.excepthook

        def excepthook(
            kind: type[BaseException], error: BaseException, tb: TracebackType | None
        ) -> None:
            if not _FILTER.secrets:
                previous_hook(kind, error, tb)
                return
            text = "".join(traceback.format_exception(kind, error, tb))
            sys.stderr.write(_FILTER.redact(text))

        sys.excepthook = excepthook
    return _FILTER


def redact(text: str) -> str:
    """`text` with every installed secret replaced (for messages built outside logging)."""
    return _FILTER.redact(text)
