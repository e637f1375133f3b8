"""The outbox: every customer message is a row first, then sent once by a worker that claims it.

``message_queue`` decides (consent, frequency cap, a template in the customer's language) and
writes the row under its idempotency key; ``message_deliver`` claims a row with a lease and
sends it; ``messages_due`` is what the sweeper re-enqueues when an enqueue was lost.
"""

from __future__ import annotations

import datetime
import logging
import math
import uuid
from collections.abc import Mapping
from functools import partial

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from customers.channels import email_send, sms_send
from customers.models import Channel, ConsentSource, Customer, Message, MessageTemplate, SignupSource
from customers.templating import template_errors, template_render

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "vastavuoro.unsubscribe"
RETRY_BACKOFF_SECONDS = 30
RETRY_BACKOFF_MAX_SECONDS = 60 * 60
# Who signed up themselves in the portal: until they open the verification link, nobody has shown
# the address is theirs, so no marketing e-mail goes to it. Customers that partners, staff or
# imports brought in come with an address those vouch for (docs/operations.md).
SELF_SIGNUP_SOURCES = (SignupSource.PORTAL, SignupSource.REFERRAL)


def unsubscribe_token_make(customer: Customer, channel: str = Channel.EMAIL) -> str:
    return signing.dumps({"c": str(customer.public_id), "ch": channel}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_check(token: str) -> tuple[Customer, str] | None:
    """The customer and channel a token was made for; None when it is forged or unknown."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("ch") not in Channel.values:
        return None
    try:
        public_id = uuid.UUID(str(data.get("c")))
    except ValueError:
        return None
    customer = Customer.objects.filter(public_id=public_id).first()
    return None if customer is None else (customer, data["ch"])


def unsubscribe_url(customer: Customer, channel: str = Channel.EMAIL) -> str:
    path = reverse("portal:unsubscribe", args=[unsubscribe_token_make(customer, channel)])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def _template_for(purpose: str, channel: str, language: str) -> MessageTemplate | None:
    """The active template in ``language``, else in English; one that is not valid (saved past
    the admin's check, e.g. by a data migration) is skipped as if it were missing."""
    templates = {
        template.language: template
        for template in MessageTemplate.objects.filter(
            purpose=purpose, channel=channel, is_active=True, language__in=[language, "en"]
        )
        if not template_errors(template.subject) and not template_errors(template.body)
    }
    return templates.get(language) or templates.get("en")


def _suppression(customer: Customer, channel: str, is_marketing: bool, now: datetime.datetime) -> str:
    if customer.status != Customer.Status.ACTIVE:
        return "customer_not_active"
    address = customer.email if channel == Channel.EMAIL else customer.phone
    if not address:
        return "no_address"
    if not is_marketing:
        return ""
    if not customer.has_consent(channel):
        return "no_consent"
    if (
        channel == Channel.EMAIL
        and customer.email_verified_at is None
        and customer.signup_source in SELF_SIGNUP_SOURCES
    ):
        return "email_not_verified"
    since = now - datetime.timedelta(days=settings.MARKETING_CAP_DAYS)
    recent = Message.objects.filter(
        customer=customer,
        is_marketing=True,
        created_at__gte=since,
        status__in=[Message.Status.PENDING, Message.Status.SENDING, Message.Status.SENT],
    ).count()
    return "frequency_cap" if recent >= settings.MARKETING_CAP_COUNT else ""


@transaction.atomic
def message_queue(
    *,
    customer: Customer,
    purpose: str,
    idempotency_key: str,
    context: Mapping[str, object],
    is_marketing: bool,
    channel: str = Channel.EMAIL,
    send_after: datetime.datetime | None = None,
) -> Message:
    """Write the message row once per key (a repeat returns the first row) and enqueue its send
    after commit. A message that must not go out (no consent, over the cap, no address, no
    template) is still written, as ``suppressed`` with the reason, so the decision is visible on
    the customer's page and is not taken again. Locks the customer row, so two messages queued
    at once cannot both slip under the frequency cap."""
    existing = Message.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    existing = Message.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    now = timezone.now()
    reason = _suppression(customer, channel, is_marketing, now)
    template = _template_for(purpose, channel, customer.language)
    if template is None:
        reason = reason or "no_template"
    values = {"first_name": customer.first_name, **context}
    if is_marketing:
        values["unsubscribe_link"] = unsubscribe_url(customer, channel)
    subject = body = ""
    if template is not None and not reason:
        # A subject is one header line: a line break in a value (a name typed with one) would
        # make the mail unsendable, so all whitespace runs become single spaces.
        subject = " ".join(template_render(template.subject, values).split())
        body = template_render(template.body, values)
    message = Message(
        customer=customer,
        purpose=purpose,
        channel=channel,
        is_marketing=is_marketing,
        idempotency_key=idempotency_key,
        language=template.language if template else customer.language,
        to_address=customer.email if channel == Channel.EMAIL else customer.phone,
        subject=subject,
        body=body,
        send_after=send_after or now,
        status=Message.Status.SUPPRESSED if reason else Message.Status.PENDING,
        suppressed_reason=reason,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:  # queued meanwhile under the same key
        return Message.objects.get(idempotency_key=idempotency_key)
    if not reason:
        transaction.on_commit(partial(_enqueue, message.pk, countdown=(message.send_after - now).total_seconds()))
    return message


def _enqueue(message_id: int, *, countdown: float) -> None:
    """Hand a message to a worker. Never raises: the row is committed, and when the broker is down
    (or the message waits longer than a broker may hold a task) the sweeper sends it later."""
    from customers.tasks import message_send_task

    countdown = min(max(math.ceil(countdown), 0), settings.CELERY_MAX_COUNTDOWN)
    try:
        message_send_task.apply_async(kwargs={"message_id": message_id}, countdown=countdown, retry=False)
    except Exception:
        logger.warning("outbox: could not enqueue message %s; the sweeper will send it", message_id, exc_info=True)


def message_claim(message_id: int, *, now: datetime.datetime | None = None) -> Message | None:
    """Take a row for sending: pending and due, or left ``sending`` by a worker whose lease ran
    out. A conditional UPDATE: of two workers, exactly one gets it."""
    now = now or timezone.now()
    lease = now + datetime.timedelta(seconds=settings.MESSAGE_LEASE_SECONDS)
    claimable = Q(status=Message.Status.PENDING) | Q(status=Message.Status.SENDING, lease_until__lt=now)
    taken = Message.objects.filter(claimable, pk=message_id, send_after__lte=now).update(
        status=Message.Status.SENDING, lease_until=lease, attempts=F("attempts") + 1
    )
    return Message.objects.select_related("customer").get(pk=message_id) if taken else None


def message_deliver(message_id: int, *, now: datetime.datetime | None = None) -> Message | None:
    """Claim and send one message. Returns the message when this call sent it, None when there
    was nothing to do (already sent, claimed by another worker, not due). The customer is checked
    again at the moment of sending: a withdrawn consent stops a marketing message, a blocked or
    erased customer gets nothing. A failed send is re-raised after the row is put back to
    ``pending``, due again after an exponential backoff (the sweeper honours it too), or marked
    ``failed`` after ``MESSAGE_MAX_ATTEMPTS`` attempts (counting claims whose worker died)."""
    now = now or timezone.now()
    message = message_claim(message_id, now=now)
    if message is None:
        return None
    if message.attempts > settings.MESSAGE_MAX_ATTEMPTS:
        # Only expired leases get a row this far: its senders died mid-send (killed, out of
        # memory) every time. Stop, rather than let the sweeper reclaim it forever.
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.FAILED,
            error=f"Gave up: the sender stopped without finishing {message.attempts - 1} times.",
            lease_until=None,
        )
        return None
    customer = message.customer
    reason = ""
    if customer.status != Customer.Status.ACTIVE:
        reason = "customer_not_active"
    elif message.is_marketing and not customer.has_consent(message.channel):
        reason = "no_consent"
    if reason:
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.SUPPRESSED, suppressed_reason=reason, lease_until=None
        )
        return None
    try:
        if message.channel == Channel.EMAIL:
            provider_id = email_send(
                message, unsubscribe_url=unsubscribe_url(customer, message.channel) if message.is_marketing else None
            )
        else:
            provider_id = sms_send(message)
    except Exception as error:
        failed = message.attempts >= settings.MESSAGE_MAX_ATTEMPTS
        backoff = min(RETRY_BACKOFF_SECONDS * 2 ** (message.attempts - 1), RETRY_BACKOFF_MAX_SECONDS)
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.FAILED if failed else Message.Status.PENDING,
            send_after=message.send_after if failed else now + datetime.timedelta(seconds=backoff),
            error=f"{type(error).__name__}: {error}"[:2000],
            lease_until=None,
        )
        raise
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENT, provider_id=provider_id[:255], sent_at=timezone.now(), lease_until=None, error=""
    )
    message.status = Message.Status.SENT
    return message


def message_retry_at(message_id: int) -> datetime.datetime | None:
    """When a message that failed to send is due again; None when it is no longer waiting."""
    return (
        Message.objects.filter(pk=message_id, status=Message.Status.PENDING)
        .values_list("send_after", flat=True)
        .first()
    )


def messages_due(*, now: datetime.datetime | None = None, grace_seconds: int = 60, limit: int = 500) -> list[int]:
    """Rows a worker should have sent by now: pending and due for over ``grace_seconds`` (their
    enqueue was lost, e.g. the broker was down), or ``sending`` with an expired lease."""
    now = now or timezone.now()
    stale = now - datetime.timedelta(seconds=grace_seconds)
    return list(
        Message.objects.filter(
            Q(status=Message.Status.PENDING, send_after__lte=stale)
            | Q(status=Message.Status.SENDING, lease_until__lt=now)
        )
        .order_by("send_after")
        .values_list("pk", flat=True)[:limit]
    )


def customer_unsubscribe(*, customer: Customer, channel: str) -> bool:
    """Withdraw marketing consent from an unsubscribe link; returns whether it changed."""
    from customers.services import customer_consent_set

    return customer_consent_set(customer=customer, channel=channel, granted=False, source=ConsentSource.UNSUBSCRIBE)


# --- Messages of the past: demo data and imported history ----------------------------------------


@transaction.atomic
def message_record_past(*, message: Message, at: datetime.datetime) -> Message:
    """Record a message that ``message_queue`` has just written as the message of a moment in the
    past (``at``) that went out then: for demo data and imported history built through the real
    services (the thank-you of last week's purchase), which must not be sent today.

    Call it in the transaction that queued the message, before it commits: the send task enqueued
    on commit then finds nothing to send (the row is no longer pending), and nothing is ever
    mailed. A pending row becomes ``sent``, created, due and sent at ``at`` after one attempt (no
    provider id: no provider saw it), unless the frequency cap was already reached at ``at``
    (counted over the marketing messages of the week before ``at``): then it is ``suppressed``
    for ``frequency_cap``, with no text, as ``message_queue`` would have written it at ``at``. A
    suppressed row keeps its reason and moves to ``at``. Consent is the customer's today: past
    consents are not replayed. Rows sent, being sent or failed are left alone, so a repeat changes
    nothing. Returns the row as it is now.
    """
    moved = {"created_at": at, "send_after": at}
    pending = Message.objects.filter(pk=message.pk, status=Message.Status.PENDING, attempts=0)
    if message.is_marketing and pending.exists():
        since = at - datetime.timedelta(days=settings.MARKETING_CAP_DAYS)
        earlier = (
            Message.objects.filter(
                customer_id=message.customer_id,
                is_marketing=True,
                created_at__gte=since,
                created_at__lte=at,
                status__in=[Message.Status.PENDING, Message.Status.SENDING, Message.Status.SENT],
            )
            .exclude(pk=message.pk)
            .count()
        )
        if earlier >= settings.MARKETING_CAP_COUNT:
            pending.update(
                **moved, status=Message.Status.SUPPRESSED, suppressed_reason="frequency_cap", subject="", body=""
            )
    pending.update(**moved, status=Message.Status.SENT, sent_at=at, attempts=1, lease_until=None)
    Message.objects.filter(pk=message.pk, status=Message.Status.SUPPRESSED, attempts=0, created_at__gt=at).update(
        **moved
    )
    return Message.objects.get(pk=message.pk)
