"""How django-axes counts failed sign-ins and answers a locked-out one, for the portal and the
admin alike (wired in ``config/settings.py``: the first of ``AUTHENTICATION_BACKENDS``,
``AXES_USERNAME_CALLABLE``, ``AXES_LOCKOUT_PARAMETERS``, ``AXES_LOCKOUT_CALLABLE``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asgiref.sync import sync_to_async
from axes.backends import AxesStandaloneBackend
from axes.utils import reset
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from core.addresses import address_counted


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check, first of the backends: a locked-out login or address is refused before
    any password is checked. Only a sign-in over HTTP can be locked out (it has a request, its
    address and a form): ``authenticate()`` called without a request (the test client's
    ``login()``, a shell) is let through to the other backends instead of raising, as django-axes'
    own backend does. Every web sign-in passes its request (the portal's and the admin's forms)."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)

    async def aauthenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        """``aauthenticate()`` looks for this on every backend; django-axes' own has none."""
        await sync_to_async(self.authenticate)(request, username, password, **kwargs)


def _login_key(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip().lower() or None


def lockout_username(request: HttpRequest, credentials: Mapping[str, Any] | None = None) -> str | None:
    """The login the failures are counted against: what was typed, trimmed and in lower case
    (the backends match it in any case, so ``AINO@`` and ``aino@`` are one account). The portal
    authenticates with ``email``, the admin with ``username``; both forms post ``username``."""
    if credentials:
        return _login_key(credentials.get("username") or credentials.get("email"))
    return _login_key(request.POST.get("username"))


def lockout_parameters(request_or_attempt: Any, credentials: Mapping[str, Any] | None = None) -> list[str]:
    """Lock a login after too many failures from anywhere, and a network address after too many
    failures for any logins; a private or loopback address is never locked as a whole (it is the
    proxy in front of the site, or an office network: not one person)."""
    address = getattr(request_or_attempt, "axes_ip_address", None)
    if address is None:
        address = getattr(request_or_attempt, "ip_address", None)
    return ["username", "ip_address"] if address_counted(address or "") else ["username"]


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """The page a locked-out sign-in gets instead of the form: HTTP 429 with ``Retry-After``,
    saying how long to wait and, in the portal, that a sign-in link still works. It does not
    say whether the login exists: unknown logins are locked the same way."""
    is_admin = request.path.startswith(reverse("admin:index"))
    context = {
        "minutes": settings.LOGIN_COOLOFF_MINUTES,
        "is_admin": is_admin,
        "login_url": reverse("admin:login") if is_admin else reverse("portal:login"),
    }
    response = render(request, "portal/locked_out.html", context, status=429)
    response["Retry-After"] = str(settings.LOGIN_COOLOFF_MINUTES * 60)
    return response


def lockout_clear_for_login(login: str) -> int:
    """Forget the failed sign-ins counted against ``login`` (from every address), e.g. once its
    owner set a new password through a link sent to their mailbox. Failures counted against an
    address stay. Returns the number of records removed."""
    key = _login_key(login)
    return reset(username=key) if key else 0
