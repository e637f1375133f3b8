"""Two ways in: staff sign in to the admin by username or e-mail; customers sign in to the portal
by their customer e-mail. A customer's login is found through ``Customer.email``, so a staff
member who is also a customer has two separate logins that never collide."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import Q
from django.http import HttpRequest

from customers.models import Customer, User


def _burn_a_password_check(password: str) -> None:
    """Same work as a real check, so response time does not tell whether an account exists."""
    User().set_password(password)


class StaffBackend(ModelBackend):
    """Admin login: a staff user's username or e-mail (any case) and password."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        login = (username or "").strip().lower()
        if not login or password is None:
            return None
        user = User.objects.filter(Q(username__lower=login) | Q(email__lower=login), is_staff=True).first()
        if user is None:
            _burn_a_password_check(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


class CustomerBackend(ModelBackend):
    """Portal login: the customer's e-mail (any case) and the password of their portal login."""

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, email: str | None = None, password: str | None = None
    ) -> User | None:
        login = (email or "").strip().lower()
        if not login or password is None:
            return None
        customer = (
            Customer.objects.filter(email__lower=login, status=Customer.Status.ACTIVE, user__isnull=False)
            .select_related("user")
            .first()
        )
        if customer is None or customer.user is None:
            _burn_a_password_check(password)
            return None
        user = customer.user
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
