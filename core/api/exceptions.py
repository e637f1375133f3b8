"""Every API error as application/problem+json (RFC 9457) with a stable machine-readable code.

Body: ``type``, ``title``, ``status``, ``detail``, ``code`` and, for invalid input, ``errors``:
a mapping of field name to a list of ``{"code", "message"}``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://vastavuoro.dev/problems/"

_CODES = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "malformed_json",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def problem(status_code: int, code: str, title: str, detail: str, **extra: Any) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
        **extra,
    }
    return Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def _field_errors(detail: Any, prefix: str = "") -> dict[str, list[dict[str, str]]]:
    """Flatten DRF's nested error detail into {"field.sub": [{"code", "message"}]}."""
    out: dict[str, list[dict[str, str]]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and not prefix:
                name = "__all__"
            for field, errors in _field_errors(value, name).items():
                out.setdefault(field, []).extend(errors)
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, (dict, list)):
                for field, errors in _field_errors(item, f"{prefix}[{index}]").items():
                    out.setdefault(field, []).extend(errors)
            else:
                out.setdefault(prefix or "__all__", []).append(
                    {"code": getattr(item, "code", "invalid") or "invalid", "message": str(item)}
                )
    else:
        out.setdefault(prefix or "__all__", []).append(
            {"code": getattr(detail, "code", "invalid") or "invalid", "message": str(detail)}
        )
    return out


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return problem(exc.status, exc.code, exc.code.replace("_", " ").capitalize(), exc.message, **exc.details)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response

    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), None) or exc.default_code
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        fields = ", ".join(sorted(errors))
        body = problem(
            status.HTTP_400_BAD_REQUEST,
            "invalid",
            "Invalid input",
            _("The request has invalid fields: %(fields)s.") % {"fields": fields}
            if fields
            else _("The request is invalid."),
            errors=errors,
        )
    else:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        specific = getattr(exc.detail, "code", None)
        if specific and specific not in {"invalid", "error", exc.default_code}:
            code = str(specific)
        body = problem(response.status_code, code, code.replace("_", " ").capitalize(), str(detail))
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            body[header] = response[header]
    return body
