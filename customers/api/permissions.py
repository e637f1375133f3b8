from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from customers.models import PartnerAPIKey


class HasScope(BasePermission):
    """A partner key is required, and it must carry the scope the view names for the method.

    Views declare ``required_scopes = {"GET": "customers:read", "POST": "customers:write"}``.
    No key: 401. A key without the scope: 403 ``missing_scope``.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, PartnerAPIKey):
            raise exceptions.NotAuthenticated(
                _("Send your partner key as 'Authorization: Api-Key <key>'."), code="not_authenticated"
            )
        method = "GET" if request.method in {"HEAD", "OPTIONS"} else request.method
        scope = getattr(view, "required_scopes", {}).get(method)
        if scope is None:
            raise exceptions.MethodNotAllowed(request.method or "")
        if not api_key.has_scope(scope):
            raise exceptions.PermissionDenied(
                _("This API key lacks the scope %(scope)s.") % {"scope": scope}, code="missing_scope"
            )
        return True
