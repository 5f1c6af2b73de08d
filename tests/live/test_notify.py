"""Notifications through apprise, to a local webhook receiver over HTTP: delivered, never
blocking, never raising, and never carrying or logging a secret."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from fyerstrade.errors import ConfigError
from fyerstrade.live.notify import Notice, NoticeKind, Notifier, check_notify_urls, private_url
from fyerstrade.logs import register_secret, setup_logging
from plugins.datasocket import wait_for
from plugins.webhook import Webhook

FAKE_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY2Nlc3NfdG9rZW4ifQ.c2lnbmF0dXJlLXRlc3Q"


def test_notices_arrive_at_a_local_webhook(webhook: Webhook) -> None:
    notifier = Notifier([webhook.url("hook")], prefix="[PAPER] ")
    try:
        notifier.notify(NoticeKind.FILL, "Filled", "BUY 10 NSE:SBIN-EQ at 1,071.30")
        notifier.notify(NoticeKind.KILL_SWITCH, "Kill switch", "max daily loss 5,000 reached")
        wait_for(lambda: len(webhook.messages()) == 2, what="two notifications")
    finally:
        notifier.close()
    first, second = (m.json() for m in webhook.messages())
    assert first["title"] == "[PAPER] Filled" and "NSE:SBIN-EQ" in first["message"]
    assert first["type"] == "success" and second["type"] == "failure"
    assert second["title"] == "[PAPER] Kill switch"
    assert webhook.messages()[0].path == "/hook"
    assert notifier.sent == 2 and notifier.failed == 0


def test_no_secret_in_a_notice_or_a_log_line(webhook: Webhook, tmp_path: Path) -> None:
    log_file = setup_logging(tmp_path / "logs")
    register_secret("sim-secret-value")
    # a webhook URL carrying a secret of its own (basic auth and a key in the path)
    url = f"json://alerts:Pa55word99@127.0.0.1:{webhook.port}/k3yABCDEFGH123"
    notifier = Notifier([url])
    try:
        notifier.notify(
            NoticeKind.ERROR,
            "Engine error",
            f"order failed: Authorization: SIM-100:{FAKE_TOKEN} secret=sim-secret-value",
        )
        wait_for(lambda: len(webhook.messages()) == 1, what="the notification")
        webhook.status = 500  # the next one fails: logged, not raised
        notifier.notify(NoticeKind.ERROR, "Again", "second")
        wait_for(lambda: notifier.failed == 1, what="the failure to be counted")
    finally:
        notifier.close()
    received = webhook.messages()[0]
    text = received.body.decode()
    assert FAKE_TOKEN not in text and "sim-secret-value" not in text
    assert "order failed" in text and "***" in text
    assert received.path == "/k3yABCDEFGH123"  # the service got its key; only our logs hide it
    for handler in logging.getLogger("fyerstrade").handlers:
        handler.flush()
    logged = log_file.read_text()
    assert "not delivered" in logged or "notification service" in logged
    for secret in ("Pa55word99", "k3yABCDEFGH123", FAKE_TOKEN, "sim-secret-value"):
        assert secret not in logged
    shown = private_url(url)
    assert "Pa55word99" not in shown and "k3yABCDEFGH123" not in shown


def test_a_dead_service_never_blocks_or_raises(webhook: Webhook) -> None:
    port = webhook.port
    webhook.server.shutdown()
    webhook.server.server_close()  # nothing listens on the port any more
    notifier = Notifier([f"json://127.0.0.1:{port}/hook"])
    try:
        for i in range(5):
            notifier.notify(NoticeKind.FILL, f"fill {i}", "body")  # returns at once
        wait_for(lambda: notifier.failed == 5, timeout=60, what="five failures")
    finally:
        notifier.close()
    assert notifier.sent == 0


def test_a_slow_service_drops_the_oldest_not_the_trader() -> None:
    gate = threading.Event()
    seen: list[str] = []

    def slow(notice: Notice, urls: object) -> bool:
        gate.wait(10)
        seen.append(notice.title)
        return True

    notifier = Notifier(["json://127.0.0.1:9/x"], send=slow, queue_size=3)
    try:
        for i in range(10):
            notifier.notify(NoticeKind.FILL, f"n{i}", "")
        assert notifier.dropped >= 6
    finally:
        gate.set()
        notifier.close()
    assert seen[-1] == "n9" and len(seen) <= 4


def test_a_raising_sender_is_contained() -> None:
    def boom(notice: Notice, urls: object) -> bool:
        raise RuntimeError(f"boom {FAKE_TOKEN}")

    notifier = Notifier(["json://127.0.0.1:9/x"], send=boom)
    try:
        notifier.notify(NoticeKind.START, "start", "")
        wait_for(lambda: notifier.failed == 1, what="the contained failure")
    finally:
        notifier.close()


def test_no_urls_no_thread() -> None:
    notifier = Notifier([])
    notifier.notify(NoticeKind.FILL, "x", "y")
    assert not notifier.enabled and notifier.sent == 0
    notifier.close()


def test_config_check_names_position_not_url() -> None:
    check_notify_urls(["json://127.0.0.1:9/hook", "tgram://123456789:AAbbCCddEE/12345"])
    with pytest.raises(ConfigError) as err:
        check_notify_urls(["json://127.0.0.1:9/hook", "nosuchservice://topsecretvalue/x"])
    assert "notify[1]" in str(err.value) and "topsecretvalue" not in str(err.value)
