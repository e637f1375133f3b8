"""Partner authentication: ``Authorization: Api-Key <prefix>.<secret>``, checked against a hash."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from customers.models import Partner, PartnerAPIKey

KEYWORD = "Api-Key"
LAST_USED_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class PartnerPrincipal:
    """``request.user`` for a partner request: the partner, and the key it used."""

    partner: Partner
    api_key: PartnerAPIKey = field(repr=False)
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_staff: bool = False

    @property
    def pk(self) -> int:
        return self.partner.pk


class PartnerKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[PartnerPrincipal, PartnerAPIKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        keyword, _sep, key = header.partition(" ")
        if keyword.lower() != KEYWORD.lower():
            return None
        key = key.strip()
        prefix, dot, _secret = key.partition(".")
        if not prefix or not dot:
            raise exceptions.AuthenticationFailed(_("Malformed API key."), code="invalid_api_key")
        api_key = PartnerAPIKey.objects.select_related("partner").filter(prefix=prefix).first()
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed(_("Invalid API key."), code="invalid_api_key")
        if api_key.revoked:
            raise exceptions.AuthenticationFailed(_("This API key has been revoked."), code="revoked_api_key")
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(_("This API key has expired."), code="expired_api_key")
        if not api_key.partner.is_active:
            raise exceptions.AuthenticationFailed(_("This partner is deactivated."), code="inactive_partner")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            PartnerAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return PartnerPrincipal(partner=api_key.partner, api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD
