"""The thank-you after a purchase: personal, once per purchase, within consent and cooldown."""

from __future__ import annotations

import datetime

from django.core.cache import cache
from django.db.models import CharField, Exists, F, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns.models import ThankYouSettings
from customers import outbox
from customers.feedback import purchase_survey_key, survey_url
from customers.models import Message, MessagePurpose
from loyalty import services as loyalty_services
from loyalty.models import LedgerEntry, Purchase
from loyalty.selectors import loyalty_summary_for_customer

THANK_YOU_PURPOSES = (MessagePurpose.THANK_YOU, MessagePurpose.THANK_YOU_FIRST)
THANK_YOU_WITHIN_HOURS = 48
_DELAY_CACHE_KEY = "campaigns:thank-you-delay"


def thank_you_settings() -> ThankYouSettings:
    return ThankYouSettings.objects.get_or_create(pk=1)[0]


def thank_you_delay_seconds() -> int:
    """The delay, cached briefly: it is read after every purchase, on the request's thread."""
    delay = cache.get(_DELAY_CACHE_KEY)
    if delay is None:
        delay = thank_you_settings().delay_minutes * 60
        cache.set(_DELAY_CACHE_KEY, delay, 30)
    return int(delay)


def thank_you_key(purchase_id: int) -> str:
    return f"thank-you:{purchase_id}"


def thank_you_send(*, purchase_id: int, now: datetime.datetime | None = None) -> Message | None:
    """Thank the customer for one purchase, once (the message's key is the purchase).

    Nothing happens when the automation is off, the purchase is below the minimum or refunded in
    full, or the customer was thanked within the cooldown. A purchase at or above the gift amount
    also earns the thank-you gift (points, granted once by its own key), mentioned in the text.
    The first purchase gets its own, welcoming text. Consent and the frequency cap are the
    outbox's to decide. Safe to call any number of times, from the event and from the sweep.
    """
    now = now or timezone.now()
    config = thank_you_settings()
    key = thank_you_key(purchase_id)
    if not config.is_enabled:
        return None
    existing = Message.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    purchase = Purchase.objects.select_related("customer").filter(pk=purchase_id).first()
    if purchase is None or purchase.amount < config.min_amount or purchase.refunded_amount >= purchase.amount:
        return None
    if purchase.occurred_at < now - datetime.timedelta(hours=THANK_YOU_WITHIN_HOURS):
        return None  # a thank-you belongs to a fresh visit, not to a late-arriving old receipt
    customer = purchase.customer
    recently = now - datetime.timedelta(days=config.cooldown_days)
    thanked = Message.objects.filter(
        customer=customer,
        purpose__in=THANK_YOU_PURPOSES,
        created_at__gte=recently,
        status__in=[Message.Status.PENDING, Message.Status.SENDING, Message.Status.SENT],
    ).exists()
    if thanked:
        return None
    is_first = not Purchase.objects.filter(customer=customer, occurred_at__lt=purchase.occurred_at).exists()
    gift = ""
    if config.gift_points and purchase.amount >= config.gift_min_amount:
        loyalty_services.points_earn(
            customer=customer,
            amount=config.gift_points,
            kind=LedgerEntry.Kind.GIFT,
            reason=f"Thank-you gift for purchase {purchase.external_id}",
            idempotency_key=f"thank-you-gift:{purchase.pk}",
        )
        with translation.override(customer.language):
            gift = _("As a thank-you, we added %(points)s bonus points to your account.") % {
                "points": config.gift_points
            }
    summary = loyalty_summary_for_customer(customer)
    context = {
        "points": purchase.points_earned,
        "balance": summary.balance,
        "amount": f"{purchase.amount} {purchase.currency}",
        "store": purchase.store,
        "tier": summary.tier.name if summary.tier else "",
        "next_tier": summary.next_tier.name if summary.next_tier else "",
        "points_to_next_tier": summary.needed_for_next if summary.needed_for_next is not None else "",
        "gift": gift,
        "survey_link": survey_url(customer, purchase_survey_key(purchase.pk)),
    }
    return outbox.message_queue(
        customer=customer,
        purpose=MessagePurpose.THANK_YOU_FIRST if is_first else MessagePurpose.THANK_YOU,
        idempotency_key=key,
        context=context,
        is_marketing=True,
    )


def thank_you_missing(*, now: datetime.datetime | None = None, hours: int = 48, limit: int = 500) -> list[int]:
    """Purchases of the last ``hours`` past the delay with no thank-you row yet: those whose event
    was lost (broker down, worker killed). One query; the sweep enqueues them.

    The rules under which ``thank_you_send`` writes nothing (refunded in full, an old receipt, a
    customer thanked within the cooldown) are applied here too: otherwise those purchases would be
    picked again every run for ``hours``, and would crowd out the lost ones past ``limit``."""
    now = now or timezone.now()
    config = thank_you_settings()
    if not config.is_enabled:
        return []
    due_before = now - datetime.timedelta(minutes=config.delay_minutes + 1)
    thanked_recently = Message.objects.filter(
        customer=OuterRef("customer_id"),
        purpose__in=THANK_YOU_PURPOSES,
        created_at__gte=now - datetime.timedelta(days=config.cooldown_days),
        status__in=[Message.Status.PENDING, Message.Status.SENDING, Message.Status.SENT],
    )
    keyed = Purchase.objects.annotate(
        thank_you_key=Concat(Value("thank-you:"), Cast("pk", output_field=CharField()), output_field=CharField())
    )
    return list(
        keyed.filter(
            created_at__gte=now - datetime.timedelta(hours=hours),
            created_at__lte=due_before,
            amount__gte=config.min_amount,
            occurred_at__gte=now - datetime.timedelta(hours=THANK_YOU_WITHIN_HOURS),
            refunded_amount__lt=F("amount"),
        )
        .exclude(Exists(Message.objects.filter(idempotency_key=OuterRef("thank_you_key"))))
        .exclude(Exists(thanked_recently))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
