"""Win-back: a give-first offer to customers whose last purchase is older than N days, once per
lapse. A lapse is named by the (programme-local) date of the last purchase before it, so a
customer who comes back and lapses again gets a new offer."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import DateField, DateTimeField, Exists, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import TruncDate
from django.utils import timezone

from campaigns.gifts import gift_grant_and_announce
from campaigns.models import WinBackOffer, WinBackSettings
from customers.models import Customer, MessagePurpose
from loyalty.models import LedgerEntry, Purchase

logger = logging.getLogger(__name__)


def win_back_settings() -> WinBackSettings:
    return WinBackSettings.objects.get_or_create(pk=1)[0]


def win_back_key(customer_id: int, lapse_started: datetime.date) -> str:
    return f"win-back:{customer_id}:{lapse_started.isoformat()}"


def customers_lapsed(*, now: datetime.datetime | None = None) -> QuerySet[Customer]:
    """Active customers with no purchase in ``inactive_days`` and no offer for this lapse yet,
    annotated with ``last_purchase_at`` and ``lapse_started`` (its local date). One query;
    empty when the automation is off. Customers who never bought are not lapsed."""
    now = now or timezone.now()
    config = win_back_settings()
    if not config.is_enabled:
        return Customer.objects.none().annotate(
            last_purchase_at=Value(None, output_field=DateTimeField()),
            lapse_started=Value(None, output_field=DateField()),
        )
    cutoff = now - datetime.timedelta(days=config.inactive_days)
    latest = Purchase.objects.filter(customer=OuterRef("pk")).order_by("-occurred_at").values("occurred_at")[:1]
    offered = WinBackOffer.objects.filter(customer=OuterRef("pk"), lapse_started=OuterRef("lapse_started"))
    return (
        Customer.objects.active()
        .annotate(last_purchase_at=Subquery(latest))
        .filter(last_purchase_at__lt=cutoff)
        .annotate(lapse_started=TruncDate("last_purchase_at", tzinfo=timezone.get_default_timezone()))
        .exclude(Exists(offered))
        .order_by("pk")
    )


@transaction.atomic
def win_back_offer_make(*, customer: Customer, now: datetime.datetime | None = None) -> WinBackOffer | None:
    """Offer the win-back gift (points and/or a voucher) to a lapsed customer, then queue the
    message (marketing: within consent and the cap; the gift is given whatever the outbox decides).

    Re-reads the last purchase: None when the automation is off, the customer is not active, never
    bought, or bought within ``inactive_days`` (came back meanwhile). The ``WinBackOffer`` row
    (unique per customer and lapse) is written first, so a repeat or a parallel worker returns None
    and writes nothing. Points, voucher and message are keyed ``win-back:<customer>:<lapse date>``.
    """
    now = now or timezone.now()
    config = win_back_settings()
    if not config.is_enabled:
        return None
    customer = Customer.objects.get(pk=customer.pk)
    if customer.status != Customer.Status.ACTIVE:
        return None
    last = (
        Purchase.objects.filter(customer=customer)
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if last is None or last >= now - datetime.timedelta(days=config.inactive_days):
        return None
    lapse_started = timezone.localdate(last)
    try:
        with transaction.atomic():
            offer = WinBackOffer.objects.create(
                customer=customer, lapse_started=lapse_started, points=config.gift_points
            )
    except IntegrityError:
        return None  # offered already for this lapse
    return gift_grant_and_announce(
        record=offer,
        customer=customer,
        points=config.gift_points,
        reward=config.gift_reward,
        kind=LedgerEntry.Kind.GIFT,
        reason=f"Win-back gift (no purchase since {lapse_started.isoformat()})",
        purpose=MessagePurpose.WIN_BACK,
        idempotency_key=win_back_key(customer.pk, lapse_started),
    )


def win_back_offers_make(*, customer_ids: Iterable[int], now: datetime.datetime | None = None) -> int:
    """Make the offers of a batch of customers, each in its own transaction; returns how many were
    made by this call. A failure is logged and skipped: the next daily run finds that customer again."""
    customers = Customer.objects.in_bulk(list(customer_ids))
    made = 0
    for customer in customers.values():
        try:
            made += win_back_offer_make(customer=customer, now=now) is not None
        except Exception:
            logger.exception("campaigns: the win-back offer of customer %s failed; the next run retries", customer.pk)
    return made
