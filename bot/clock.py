"""The time source. Code that decides what is due asks a Clock, so tests move time by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

from db.types import utcnow


class Clock:
    def now(self) -> datetime:
        return utcnow()


class FakeClock(Clock):
    """For tests: time stands still until advanced."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment
