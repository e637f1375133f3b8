"""The network address a request came from, read one way everywhere: sign-in lockouts, mail
limits and the referral fraud check."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The first address in the header the reverse proxy sets (``settings.CLIENT_IP_HEADER``)
    when one is configured and holds a valid address, else the connection's (``REMOTE_ADDR``);
    "" when there is none. Without the setting a header the client sent is never read."""
    if settings.CLIENT_IP_HEADER:
        first = request.META.get(settings.CLIENT_IP_HEADER, "").split(",", 1)[0].strip()
        try:
            return str(ipaddress.ip_address(first))
        except ValueError:
            pass
    return str(request.META.get("REMOTE_ADDR", "") or "")


def address_counted(address: str) -> str:
    """The address in a canonical form (an IPv4 address mapped into IPv6 as IPv4) when limits per
    address apply to it, else "": not an address, or a private or loopback one. Those are not one
    person (the proxy in front of the site when ``CLIENT_IP_HEADER`` is not set, an office
    network): limiting them would let one visitor lock out everyone behind them."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return ""
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    if parsed.is_private or parsed.is_loopback:
        return ""
    return str(parsed)
