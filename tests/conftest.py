"""Shared fixtures. Tests that need PostgreSQL, Redis or Chromium are marked and skipped (by name,
with the reason) when the service is not there; with VASTAVUORO_REQUIRE_SERVICES=1 (CI) a missing
service fails the run instead."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.utils import translation
from rest_framework.test import APIClient

from customers.models import Partner
from customers.services import partner_key_create

REQUIRE_SERVICES = os.environ.get("VASTAVUORO_REQUIRE_SERVICES") == "1"


def _unavailable(marker: str) -> str | None:
    if marker == "postgres":
        vendor = settings.DATABASES["default"]["ENGINE"]
        return None if "postgresql" in vendor else "PostgreSQL is not configured (DATABASE_URL unset)"
    if marker == "browser":
        return None if shutil.which("chromium") else "Chromium is not installed (apt-get install -y chromium)"
    if marker == "redis":
        return None if os.environ.get("TEST_REDIS_URL") else "Redis is not reachable (TEST_REDIS_URL unset)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing: set[str] = set()
    for item in items:
        for marker in ("postgres", "redis", "browser"):
            if item.get_closest_marker(marker) is None:
                continue
            reason = _unavailable(marker)
            if reason is None:
                continue
            if REQUIRE_SERVICES:
                missing.add(reason)
            else:
                item.add_marker(pytest.mark.skip(reason=reason))
    if missing:
        raise pytest.UsageError(f"VASTAVUORO_REQUIRE_SERVICES=1 but: {'; '.join(sorted(missing))}")


@pytest.fixture(autouse=True)
def _language_reset() -> Iterator[None]:
    """A request in Finnish or Russian activates that language for the thread; start each test in
    English and leave none behind for the next."""
    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings: object) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def partner(db: None) -> Partner:
    return Partner.objects.create(name="Kahvila POS")


@pytest.fixture
def make_api_client(db: None) -> Callable[..., APIClient]:
    """An API client authenticated with a new key of ``partner`` carrying ``scopes``."""

    def make(scopes: list[str], partner: Partner | None = None) -> APIClient:
        owner = partner or Partner.objects.get_or_create(name="Kahvila POS")[0]
        _api_key, key = partner_key_create(partner=owner, scopes=scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        client.partner = owner  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def api_client(make_api_client: Callable[..., APIClient]) -> APIClient:
    return make_api_client(["customers:read", "customers:write"])


@pytest.fixture
def celery_eager() -> Iterator[None]:
    """Run tasks in the test's process as they are enqueued (the Celery app reads its settings once,
    so the Django setting alone would not switch it)."""
    from celery import current_app

    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = previous
