"""The campaigns section of a customer's data export, and what erasure does to campaign data.

Registered in ``CampaignsConfig.ready()``. The export holds the campaigns the customer was part
of (treated or held out, and what they got), birthday rewards, win-back offers, contest entries
and wins, and the gratitude tasks staff had for them (personal gestures: their action, status and
outcome note are data held about the customer).

Erasure keeps the rows the reports and the books need (recipients, rewards, offers, entries and
wins: costs, holdout comparisons and a draw's record stay), and removes what is personal beyond
the link to the customer: parcel tracking codes and the staff's outcome notes. Open gratitude tasks are skipped, since
nobody is left to thank. Gifts still awaiting a choice are left to the deadline job, which skips
customers who are no longer active and gives the reserved stock and budget back.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from campaigns.models import (
    BirthdayReward,
    CampaignRecipient,
    ContestEntry,
    ContestWinner,
    GratitudeTask,
    WinBackOffer,
)
from customers.models import Customer
from customers.privacy import iso, register_privacy_section
from loyalty.services import voucher_code_display


def _voucher(code: str | None) -> str | None:
    return voucher_code_display(code) if code else None


def _recipients(customer: Customer) -> list[dict[str, Any]]:
    recipients = (
        CampaignRecipient.objects.filter(customer=customer)
        .select_related("campaign", "option", "voucher")
        .order_by("created_at", "id")
    )
    return [
        {
            "campaign": recipient.campaign.name,
            "kind": recipient.campaign.kind,
            "group": recipient.group,
            "status": recipient.status,
            "gift": recipient.campaign.gift_description,
            "points": recipient.points,
            "voucher": _voucher(recipient.voucher.code if recipient.voucher else None),
            "chosen_gift": recipient.option.label if recipient.option else None,
            "chosen_at": iso(recipient.chosen_at),
            "shipment": recipient.shipment,
            "tracking_code": recipient.tracking_code,
            "given_at": iso(recipient.given_at),
            "created_at": iso(recipient.created_at),
        }
        for recipient in recipients
    ]


def _birthday_rewards(customer: Customer) -> list[dict[str, Any]]:
    rewards = BirthdayReward.objects.filter(customer=customer).select_related("voucher").order_by("year", "id")
    return [
        {
            "year": reward.year,
            "birthday": iso(reward.birthday),
            "points": reward.points,
            "voucher": _voucher(reward.voucher.code if reward.voucher else None),
            "granted_at": iso(reward.created_at),
        }
        for reward in rewards
    ]


def _win_back_offers(customer: Customer) -> list[dict[str, Any]]:
    offers = WinBackOffer.objects.filter(customer=customer).select_related("voucher").order_by("created_at", "id")
    return [
        {
            "last_purchase_before_the_lapse": iso(offer.lapse_started),
            "points": offer.points,
            "voucher": _voucher(offer.voucher.code if offer.voucher else None),
            "offered_at": iso(offer.created_at),
        }
        for offer in offers
    ]


def _contest_entries(customer: Customer) -> list[dict[str, Any]]:
    entries = ContestEntry.objects.filter(customer=customer).select_related("campaign").order_by("created_at", "id")
    return [
        {
            "contest": entry.campaign.name,
            "source": entry.source,
            "entries": entry.tickets,
            "created_at": iso(entry.created_at),
        }
        for entry in entries
    ]


def _contest_wins(customer: Customer) -> list[dict[str, Any]]:
    wins = ContestWinner.objects.filter(customer=customer).select_related("draw__campaign").order_by("id")
    return [
        {
            "contest": win.draw.campaign.name,
            "prize": win.draw.campaign.prize_description,
            "rank": win.rank,
            "status": win.status,
            "accept_by": iso(win.accept_by),
            "responded_at": iso(win.responded_at),
            "prize_points": win.prize_points,
            "drawn_at": iso(win.draw.drawn_at),
        }
        for win in wins
    ]


def _gratitude_tasks(customer: Customer) -> list[dict[str, Any]]:
    tasks = GratitudeTask.objects.filter(customer=customer).select_related("purchase").order_by("created_at", "id")
    return [
        {
            "action": task.action,
            "status": task.status,
            "occasion": task.purchase.external_id if task.purchase else task.source_key,
            "due_on": iso(task.due_on),
            "outcome_note": task.outcome_note,
            "closed_at": iso(task.done_at),
        }
        for task in tasks
    ]


def campaigns_data_export(customer: Customer) -> dict[str, Any]:
    """The customer's campaign data. Six queries, whatever the number of rows."""
    return {
        "campaigns": _recipients(customer),
        "birthday_rewards": _birthday_rewards(customer),
        "win_back_offers": _win_back_offers(customer),
        "contest_entries": _contest_entries(customer),
        "contest_wins": _contest_wins(customer),
        "gratitude_tasks": _gratitude_tasks(customer),
    }


def campaigns_data_erase(customer: Customer) -> None:
    """Skip the customer's open gratitude tasks and clear every outcome note; clear the tracking
    codes of their parcels. Set-based, and a second run matches no row."""
    now = timezone.now()
    GratitudeTask.objects.filter(customer=customer, status=GratitudeTask.Status.OPEN).update(
        status=GratitudeTask.Status.SKIPPED, outcome_note="", done_at=now
    )
    GratitudeTask.objects.filter(customer=customer).exclude(outcome_note="").update(outcome_note="")
    CampaignRecipient.objects.filter(customer=customer).exclude(tracking_code="").update(tracking_code="")


def privacy_section_register() -> None:
    register_privacy_section(key="campaigns", order=200, export=campaigns_data_export, erase=campaigns_data_erase)
