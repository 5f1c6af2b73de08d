"""The dashboard is never open by accident (15.11): beyond 127.0.0.1 only with a password,
entered on a login page in a real browser; the password is never logged."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fyerstrade.dashboard.launcher import free_port, stop_process, wait_until_up

from .browser import CHROMIUM, CHROMIUM_ARGS, CLI

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")

PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 60_000


@pytest.fixture
def open_dashboard(tmp_path: Path) -> Iterator[str]:
    """``fyerstrade dashboard --host 0.0.0.0`` with a password; yields its loopback URL."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (run `make browser`)")
    port = free_port()
    env = {**os.environ, "FYERSTRADE_DASHBOARD_PASSWORD": PASSWORD}
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "dashboard", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, timeout=90)
        yield url
    finally:
        stop_process(proc)


def test_login_page_guards_every_page(open_dashboard: str, tmp_path: Path) -> None:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{open_dashboard}/runs")  # a deep link shows the login page too
            password = page.get_by_label("Dashboard password")
            password.wait_for()
            assert page.get_by_text("Runs", exact=True).count() == 0  # no navigation yet
            password.fill("wrong password!")
            page.get_by_role("button", name="Log in").click()
            page.get_by_text("Wrong password.").wait_for()
            page.get_by_label("Dashboard password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.get_by_text("Paper trading").first.wait_for()  # the navigation appears
            page.get_by_label("Dashboard password").wait_for(state="detached")
            # a new browser session starts logged out
            other = browser.new_context().new_page()
            other.set_default_timeout(TIMEOUT_MS)
            other.goto(open_dashboard)
            other.get_by_label("Dashboard password").wait_for()
        finally:
            browser.close()
    logs = Path(os.environ["FYERSTRADE_LOG_DIR"])
    for log in logs.rglob("*"):
        if log.is_file():
            assert PASSWORD not in log.read_text(errors="replace"), log
