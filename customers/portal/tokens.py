"""One-time, time-limited magic-link tokens: signed, and void once the user has logged in."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from customers.models import User

SALT = "vastavuoro.portal.magic-link"


def _login_stamp(user: User) -> str:
    return user.last_login.isoformat() if user.last_login else "never"


def magic_link_token_make(user: User) -> str:
    return signing.dumps({"u": user.pk, "l": _login_stamp(user)}, salt=SALT, compress=True)


def magic_link_token_check(token: str) -> User | None:
    """The user the token was made for, or None when it is forged, expired or already used."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.MAGIC_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user_id = data.get("u")
    if not isinstance(user_id, int):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).select_related("customer").first()
    if user is None or data.get("l") != _login_stamp(user):
        return None
    return user
