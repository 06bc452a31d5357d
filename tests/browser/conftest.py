"""Playwright against the live test server, driving Debian's Chromium when it is installed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from procurement.models import User

# Playwright's sync API runs an event loop in the test thread; Django would otherwise refuse
# the ORM calls the tests make next to it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Screenshots go outside the repository; look at them after a run.
SCREENSHOT_DIR = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/procurement-screenshots"))
TIMEOUT_MS = 15_000


@pytest.fixture
def browser(live_server) -> Iterator[Browser]:
    """A Chromium for one test, started after the test database is ready and stopped before it is reset.

    While Playwright's sync API is active an asyncio loop counts as running in this thread,
    and asgiref then gives Django a separate, context-local connection for the test's own ORM
    calls. Keeping the browser inside the database fixtures leaves pytest-django's setup,
    flush and serialized rollback on the usual connection.
    """
    executable = shutil.which("chromium")
    with sync_playwright() as playwright:
        if executable:
            launched = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
        else:  # `make browser` ran `playwright install chromium`
            launched = playwright.chromium.launch(headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
            # The context-local connections the test opened; PostgreSQL would otherwise
            # refuse to drop the test database at the end of the run.
            connections.close_all()


@pytest.fixture
def context(browser: Browser, live_server) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},
        locale="en-GB",
        timezone_id=django_settings.TIME_ZONE,
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def csp_refusals() -> list[str]:
    """What the Content-Security-Policy made the browser refuse, as Chromium reports it on the
    console ("Refused to load ...", "... violates the following Content Security Policy
    directive ..."); filled by the page fixture."""
    return []


@pytest.fixture
def page(context: BrowserContext, csp_refusals: list[str]) -> Iterator[Page]:
    page = context.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))

    def listen(message: ConsoleMessage) -> None:
        if "Refused to" in message.text or "Content Security Policy" in message.text:
            csp_refusals.append(f"{message.location.get('url') or page.url}: {message.text}")

    page.on("console", listen)
    yield page
    # Let the server finish what the browser asked for before the database is reset under it.
    page.wait_for_load_state("networkidle")
    assert script_errors == [], f"JavaScript errors on the page: {script_errors}"
    # Every page works under the strict policy of procurement/settings.py (SECURE_CSP).
    assert csp_refusals == [], f"Refused by the Content-Security-Policy: {csp_refusals}"


@pytest.fixture
def log_in_as(context: BrowserContext, live_server):
    """Skip the login form (one test goes through it): give the browser a session cookie."""

    def log_in(user: User) -> None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])

    return log_in


@pytest.fixture
def screenshot():
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str, *, full_page: bool = True) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
