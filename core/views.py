"""Health probes and the site-wide error pages."""

from __future__ import annotations

import logging

from celery import current_app
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering (no dependency is checked)."""
    return JsonResponse({"status": "ok"})


def _database_ready() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        logger.warning("readyz: database unreachable: %s", type(exc).__name__)
        return type(exc).__name__
    return None


def _broker_ready() -> str | None:
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=int(settings.READYZ_BROKER_TIMEOUT))
    except Exception as exc:  # any transport error means "not ready"
        logger.warning("readyz: broker unreachable: %s", type(exc).__name__)
        return type(exc).__name__
    return None


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """The database and the broker both answer; 503 with the failing part otherwise."""
    checks = {"database": _database_ready(), "broker": _broker_ready()}
    ready = all(error is None for error in checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {name: "ok" if error is None else f"error: {error}" for name, error in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)


def _problem(status: int, code: str, title: str) -> JsonResponse:
    return JsonResponse(
        {
            "type": f"https://vastavuoro.dev/problems/{code}",
            "title": title,
            "status": status,
            "code": code,
            "detail": title,
        },
        status=status,
        content_type="application/problem+json",
    )


def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    return _problem(404, "not_found", "Not found")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_not_found(request)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _problem(500, "server_error", "Internal server error")
    return render(request, "500.html", status=500)
