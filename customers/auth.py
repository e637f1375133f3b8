"""Log in by e-mail (case-insensitive) and password; staff and customers alike."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from customers.models import User


class EmailBackend(ModelBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        login = (username or kwargs.get("email") or "").strip().lower()
        if not login or password is None:
            return None
        user = User.objects.filter(email__lower=login).first() or User.objects.filter(username__lower=login).first()
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle for e-mails
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
