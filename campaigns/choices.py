"""Let the customer choose: a campaign offers one occasion with several gift kinds of equal cost
(discount, free shipping, gift, bonus points, cashback); each treated recipient picks one in the
portal before the campaign's ``choice_deadline``. After the deadline the customer's stated
preference is given (``preferred_reward_kind``), else the campaign's first option. Every choice
is recorded on the recipient, and a customer's own choice becomes their stated preference.

The launch (not here) reserves stock and budget, sets the treated recipients to
``awaiting_choice`` and queues the ``gift_choice`` message; this module grants the chosen gift.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.gifts import gift_grant
from campaigns.launch import recipient_key as campaign_gift_key  # one key: the launch's and the choice's
from campaigns.models import Campaign, CampaignRecipient, GiftOption
from core.errors import Conflict, DomainError, NotFound
from customers.models import ConsentSource, Customer, RewardKind
from customers.services import customer_update
from loyalty.models import LedgerEntry

logger = logging.getLogger(__name__)

POINTS_KINDS = (GiftOption.Kind.BONUS_POINTS, GiftOption.Kind.CASHBACK)
VOUCHER_KINDS = (GiftOption.Kind.DISCOUNT, GiftOption.Kind.FREE_SHIPPING, GiftOption.Kind.GIFT)
# The stated preference a choice records: cashback is paid in points, so it counts as bonus points.
PREFERENCE_FOR_KIND: dict[str, str] = {
    GiftOption.Kind.DISCOUNT: RewardKind.DISCOUNT,
    GiftOption.Kind.FREE_SHIPPING: RewardKind.FREE_SHIPPING,
    GiftOption.Kind.GIFT: RewardKind.GIFT,
    GiftOption.Kind.BONUS_POINTS: RewardKind.BONUS_POINTS,
    GiftOption.Kind.CASHBACK: RewardKind.BONUS_POINTS,
}


class GiftOptionInvalid(DomainError):
    code = "gift_option_invalid"
    default_message = _("This gift cannot be chosen.")


class GiftChoiceClosed(Conflict):
    code = "gift_choice_closed"
    default_message = _("This gift is no longer waiting for a choice.")


class GiftAlreadyChosen(Conflict):
    code = "gift_already_chosen"
    default_message = _("A gift has already been chosen for this occasion.")


class GiftChoiceDeadlinePassed(Conflict):
    code = "gift_choice_deadline_passed"
    default_message = _("The time to choose has passed; your preferred gift is on its way.")


def _option_check(option: GiftOption) -> None:
    if option.kind in POINTS_KINDS and option.points <= 0:
        raise GiftOptionInvalid(_("This gift has no points set."), option=option.pk)
    if option.kind in VOUCHER_KINDS and option.reward_id is None:
        raise GiftOptionInvalid(_("This gift has no reward set."), option=option.pk)


@transaction.atomic
def gift_choose(
    *, recipient: CampaignRecipient, option: GiftOption, by_customer: bool, now: datetime.datetime | None = None
) -> CampaignRecipient:
    """Give ``recipient`` the gift ``option`` of their campaign, once.

    Locks the recipient row. Only while it is ``awaiting_choice``, and, when ``by_customer``, not
    after the campaign's ``choice_deadline``. Bonus points and cashback are granted with
    ``points_earn`` (kind gift), discount, free shipping and gift as a voucher for the option's
    reward, both keyed ``campaign:<campaign>:<customer>``. The recipient becomes ``given`` with the
    option, when and by whom it was chosen, and the points or voucher. A customer's own choice
    also becomes their ``preferred_reward_kind`` (cashback as bonus points).

    The same option again (a double submit) returns the recipient unchanged; another option after
    the first is ``GiftAlreadyChosen``; a recipient not awaiting a choice is ``GiftChoiceClosed``;
    an option of another campaign, or one missing its points or reward, is ``GiftOptionInvalid``;
    the customer after the deadline is ``GiftChoiceDeadlinePassed``. Refusals write nothing. A
    customer no longer active gets nothing: given by default, the recipient is marked ``skipped``.
    """
    now = now or timezone.now()
    recipient = (
        CampaignRecipient.objects.select_for_update(of=("self",))
        .select_related("campaign", "customer")
        .get(pk=recipient.pk)
    )
    if option.campaign_id != recipient.campaign_id:
        raise GiftOptionInvalid(option=option.pk)
    if recipient.status == CampaignRecipient.Status.GIVEN:
        if recipient.option_id == option.pk:
            return recipient
        raise GiftAlreadyChosen()
    if recipient.status != CampaignRecipient.Status.AWAITING_CHOICE:
        raise GiftChoiceClosed(status=recipient.status)
    campaign = recipient.campaign
    if by_customer and campaign.choice_deadline is not None and now > campaign.choice_deadline:
        raise GiftChoiceDeadlinePassed(deadline=campaign.choice_deadline.isoformat())
    customer = recipient.customer
    if customer.status != Customer.Status.ACTIVE:
        if by_customer:
            raise GiftChoiceClosed(_("Only active members can choose a gift."), code="customer_not_active")
        recipient.status = CampaignRecipient.Status.SKIPPED
        recipient.save(update_fields=["status"])
        # Nothing was given: the stock and budget the launch reserved go back to the campaign.
        Campaign.objects.filter(pk=campaign.pk).update(
            allocated_count=F("allocated_count") - 1, spent=F("spent") - recipient.cost
        )
        return recipient
    option = GiftOption.objects.select_related("reward").get(pk=option.pk)
    _option_check(option)
    gift = gift_grant(
        customer=customer,
        points=option.points if option.kind in POINTS_KINDS else 0,
        reward=option.reward if option.kind in VOUCHER_KINDS else None,
        kind=LedgerEntry.Kind.GIFT,
        reason=f"Gift from campaign {campaign.name}: {option.label}"[:255],
        idempotency_key=campaign_gift_key(campaign.pk, customer.pk),
    )
    recipient.status = CampaignRecipient.Status.GIVEN
    recipient.option = option
    recipient.chosen_at = now
    recipient.chosen_by_customer = by_customer
    recipient.points = gift.points
    recipient.voucher = gift.voucher
    recipient.given_at = now
    recipient.save(
        update_fields=["status", "option", "chosen_at", "chosen_by_customer", "points", "voucher", "given_at"]
    )
    preference = PREFERENCE_FOR_KIND.get(option.kind)
    if by_customer and preference is not None and customer.preferred_reward_kind != preference:
        customer_update(customer=customer, source=ConsentSource.PORTAL, preferred_reward_kind=preference)
    return recipient


def gift_choices_default_due(*, now: datetime.datetime | None = None) -> list[tuple[int, int]]:
    """``(recipient id, option id)`` for every recipient still awaiting a choice after their
    campaign's deadline: the option of the customer's ``preferred_reward_kind``, else the
    campaign's first option. One query; campaigns without options are left out."""
    now = now or timezone.now()
    preferred = GiftOption.objects.filter(
        campaign=OuterRef("campaign"), kind=OuterRef("customer__preferred_reward_kind")
    ).values("pk")[:1]
    first = GiftOption.objects.filter(campaign=OuterRef("campaign")).order_by("pk").values("pk")[:1]
    rows = (
        CampaignRecipient.objects.filter(
            status=CampaignRecipient.Status.AWAITING_CHOICE, campaign__choice_deadline__lt=now
        )
        .annotate(default_option=Coalesce(Subquery(preferred), Subquery(first)))
        .filter(default_option__isnull=False)
        .order_by("pk")
        .values_list("pk", "default_option")
    )
    return [(int(recipient_id), int(option_id)) for recipient_id, option_id in rows]


def gift_choices_default_give(*, pairs: Iterable[tuple[int, int]], now: datetime.datetime | None = None) -> int:
    """Give a batch of recipients their default option (``gift_choices_default_due``), each in its
    own transaction. Returns how many were given by default. A recipient who chose meanwhile is
    skipped; a failure is logged and skipped, and the next run finds that recipient again."""
    pairs = list(pairs)
    recipients = CampaignRecipient.objects.in_bulk([recipient_id for recipient_id, _option_id in pairs])
    options = GiftOption.objects.in_bulk([option_id for _recipient_id, option_id in pairs])
    given = 0
    for recipient_id, option_id in pairs:
        recipient, option = recipients.get(recipient_id), options.get(option_id)
        if recipient is None or option is None or recipient.status != CampaignRecipient.Status.AWAITING_CHOICE:
            continue
        try:
            result = gift_choose(recipient=recipient, option=option, by_customer=False, now=now)
        except (GiftChoiceClosed, GiftAlreadyChosen):
            continue  # the customer chose meanwhile
        except Exception:
            logger.exception("campaigns: the default gift of recipient %s failed; the next run retries", recipient_id)
            continue
        given += result.status == CampaignRecipient.Status.GIVEN and not result.chosen_by_customer
    return given


# --- Reads for the portal ----------------------------------------------------------------------------


def _with_options(recipients: QuerySet[CampaignRecipient]) -> QuerySet[CampaignRecipient]:
    return recipients.select_related("campaign").prefetch_related(
        Prefetch("campaign__options", queryset=GiftOption.objects.select_related("reward").order_by("pk"))
    )


def gifts_awaiting_choice_for_customer(
    customer: Customer, *, now: datetime.datetime | None = None
) -> QuerySet[CampaignRecipient]:
    """This customer's gifts still to choose (deadline not passed), soonest deadline first, with
    the campaign and its options. Two queries."""
    now = now or timezone.now()
    return _with_options(
        CampaignRecipient.objects.filter(customer=customer, status=CampaignRecipient.Status.AWAITING_CHOICE)
        .filter(Q(campaign__choice_deadline__isnull=True) | Q(campaign__choice_deadline__gte=now))
        .order_by("campaign__choice_deadline", "pk")
    )


def gift_choice_for_customer(customer: Customer, recipient_id: int) -> CampaignRecipient:
    """One of this customer's gifts of a choice campaign (whatever its status), with its options;
    ``NotFound`` for another customer's, or a gift with nothing to choose."""
    found = _with_options(
        CampaignRecipient.objects.filter(pk=recipient_id, customer=customer).filter(
            Q(status=CampaignRecipient.Status.AWAITING_CHOICE) | Q(option__isnull=False)
        )
    ).first()
    if found is None:
        raise NotFound()
    return found


def gifts_received_for_customer(customer: Customer, *, limit: int = 20) -> QuerySet[CampaignRecipient]:
    """The gifts this customer was given by campaigns, newest first, with what they got. One query."""
    return (
        CampaignRecipient.objects.filter(customer=customer, status=CampaignRecipient.Status.GIVEN)
        .select_related("campaign", "option", "voucher__reward")
        .order_by("-given_at", "-pk")[:limit]
    )
