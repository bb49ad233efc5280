"""Benchmarks of FieldCRM: `python -m bench [--quick] [--postgres URL]` (or `make bench`).

The real `create_bot()`/`create_dispatcher()` poll the fake Bot API server of the tests
(`tests.fake_telegram`) on a fresh migrated database, so the numbers include everything the
program does for an update: middlewares, handlers, the database, the FSM storage and the HTTP
round trips to "Telegram" (in-process, on 127.0.0.1, so no network latency).
"""
