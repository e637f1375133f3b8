"""Referral test data made the way the app makes it: members are customer rows, referrals come
from ``referral_attach``, purchases from ``purchase_record``, rewards from the services."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from customers.models import Customer, Partner
from loyalty.services import purchase_record
from referrals import services
from referrals.models import Referral, ReferralProgram
from tests.customers.factories import CustomerFactory

_numbers = iter(range(1, 10**9))


def program_set(**fields: Any) -> ReferralProgram:
    defaults = {
        "referrer_points": 200,
        "friend_points": 100,
        "min_purchase": Decimal("20.00"),
        "qualifying_days": 30,
        "monthly_cap": 10,
        **fields,
    }
    return ReferralProgram.objects.update_or_create(pk=1, defaults=defaults)[0]


def member(**fields: Any) -> Customer:
    number = next(_numbers)
    fields.setdefault("email", f"member{number}@example.fi")
    fields.setdefault("phone", f"+358401{number:06d}")
    return CustomerFactory(**fields)


def refer(referrer: Customer, friend: Customer | None = None, **kwargs: Any) -> Referral:
    friend = friend or member()
    code = services.referral_code_for(referrer).code
    kwargs.setdefault("source", Referral.Source.PORTAL)
    return services.referral_attach(code=code, friend=friend, **kwargs).referral


def buy(
    customer: Customer,
    partner: Partner,
    amount: str,
    *,
    occurred_at: datetime.datetime | None = None,
    external_id: str | None = None,
    **fields: Any,
):
    return purchase_record(
        partner=partner,
        external_id=external_id or f"R-{next(_numbers)}",
        customer=customer,
        amount=Decimal(amount),
        currency="EUR",
        occurred_at=occurred_at or timezone.now(),
        **fields,
    ).purchase
