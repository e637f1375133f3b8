"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

No browser is downloaded: Playwright launches the ``chromium`` on PATH (``apt-get install -y
chromium``; `.ci/run` installs it), with the flags that keep it off the closed network. Without
Chromium the tests are skipped by name (on CI, with VASTAVUORO_REQUIRE_SERVICES=1, they fail).
Screenshots go to ``var/screenshots/``. Tasks run eagerly in the server's thread: the workers and
the broker have their own fault tests; here the customer's journey is what is checked.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import current_app

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The browser, for one test. Playwright's sync API runs an event loop in this thread, and the
    test reads the database between steps, which Django refuses in an async context unless told
    it is safe: only here, for this test (never for the rest of the suite or its subprocesses)."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = shutil.which("chromium")
    assert executable is not None  # the browser marker skips (or fails on CI) without it
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone(chromium: object, live_server: object) -> Iterator[object]:
    """A phone-sized page with its own cookies."""
    context = chromium.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = previous


def screenshot(page: object, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)  # type: ignore[attr-defined]
