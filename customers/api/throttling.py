from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from customers.models import PartnerAPIKey


class PartnerKeyRateThrottle(SimpleRateThrottle):
    """A request budget per API key (``API_THROTTLE_RATE``); over it, 429 problem+json with Retry-After."""

    scope = "partner"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, PartnerAPIKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}
