"""Admin pieces for contests and gift choices. ``campaigns.admin`` imports this module (which
registers the draw and entry admins) and attaches the rest to the campaign's admin:

- ``ContestEntryInline``: a contest's entries, read-only;
- ``GiftChoiceRecipientInline``: a choice campaign's recipients and what each chose, read-only;
- ``contest_draw_action``: the "Draw the winners" action (``contest_draw`` for each selected contest).

Draws, entries and winners are written only by ``campaigns.contests``: here they are read-only,
and a draw's page replays it to show that the record still gives the same winners.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns.contests import contest_draw, contest_draw_replay
from campaigns.models import Campaign, CampaignRecipient, ContestDraw, ContestEntry, ContestWinner
from core.errors import DomainError


def _customer_link(customer_id: int, label: object) -> SafeString:
    url = reverse("admin:customers_customer_change", args=[customer_id])
    return format_html('<a href="{}">{}</a>', url, label)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ContestEntryInline(ReadOnlyInline):
    """A contest's entries: who, from which source, how many tickets, when."""

    model = ContestEntry
    fields = readonly_fields = ("customer_shown", "source", "source_key", "tickets", "created_at")
    ordering = ["created_at", "id"]
    verbose_name_plural = _("entries")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContestEntry]:
        return super().get_queryset(request).select_related("customer")

    @admin.display(description=_("customer"))
    def customer_shown(self, entry: ContestEntry) -> SafeString:
        return _customer_link(entry.customer_id, entry.customer)


class GiftChoiceRecipientInline(ReadOnlyInline):
    """A choice campaign's recipients: what each chose, when, and whether by themselves or by default."""

    model = CampaignRecipient
    fields = readonly_fields = (
        "customer_shown",
        "group",
        "status",
        "option",
        "chosen_at",
        "chosen_by_customer",
        "points",
        "voucher",
    )
    verbose_name_plural = _("gift choices")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CampaignRecipient]:
        return super().get_queryset(request).select_related("customer", "option", "voucher")

    @admin.display(description=_("customer"))
    def customer_shown(self, recipient: CampaignRecipient) -> SafeString:
        return _customer_link(recipient.customer_id, recipient.customer)


@admin.action(permissions=["change"], description=_("Draw the winners of the selected contests"))
def contest_draw_action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
    """Draw each selected contest once (``contest_draw``); a refusal (not a contest, drawn already,
    still open) is reported for that contest and the others are still drawn."""
    for campaign in queryset.order_by("pk"):
        try:
            draw = contest_draw(campaign=campaign, by=request.user)  # type: ignore[arg-type]
        except DomainError as refusal:
            modeladmin.message_user(
                request,
                _("%(contest)s: %(reason)s") % {"contest": campaign.name, "reason": refusal.message},
                messages.ERROR,
            )
            continue
        modeladmin.message_user(
            request,
            ngettext(
                "%(contest)s: drawn from %(entrants)d entrant, %(winners)d winner.",
                "%(contest)s: drawn from %(entrants)d entrants, %(winners)d winners.",
                draw.entrant_count,
            )
            % {"contest": campaign.name, "entrants": draw.entrant_count, "winners": len(draw.winner_ids)},
            messages.SUCCESS,
        )


class ContestWinnerInline(ReadOnlyInline):
    model = ContestWinner
    fields = readonly_fields = ("rank", "customer_shown", "status", "accept_by", "responded_at", "prize_points")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContestWinner]:
        return super().get_queryset(request).select_related("customer")

    @admin.display(description=_("customer"))
    def customer_shown(self, winner: ContestWinner) -> SafeString:
        return _customer_link(winner.customer_id, winner.customer)


class ViewOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ContestDraw)
class ContestDrawAdmin(ViewOnlyAdmin):
    """The record of each draw: seed, entrant list hash and winners; the page replays the draw."""

    list_display = ["campaign", "drawn_at", "entrant_count", "ticket_count", "winners_shown", "drawn_by"]
    list_select_related = ["campaign", "drawn_by"]
    search_fields = ["campaign__name"]
    date_hierarchy = "drawn_at"
    ordering = ["-drawn_at", "-id"]
    fields = readonly_fields = (
        "campaign",
        "drawn_at",
        "drawn_by",
        "algorithm",
        "seed",
        "entrants_hash",
        "entrant_count",
        "ticket_count",
        "winners_shown",
        "replay_check",
    )
    inlines = [ContestWinnerInline]

    @admin.display(description=_("winners (customer ids, by rank)"))
    def winners_shown(self, draw: ContestDraw) -> str:
        return ", ".join(str(customer_id) for customer_id in draw.winner_ids) or "-"

    @admin.display(description=_("replay"))
    def replay_check(self, draw: ContestDraw) -> SafeString:
        """Replays the draw from its seed and today's entries as of the draw."""
        replay = contest_draw_replay(draw)
        if replay.is_confirmed:
            return format_html(
                "<strong>{}</strong>", _("Confirmed: the same entrant list (by hash) gives the same winners.")
            )
        return format_html(
            "<strong>{}</strong><br>{}",
            _("Not confirmed: the entries as of the draw have changed since."),
            _("Entrant list hash now: %(hash)s; winners now: %(winners)s.")
            % {"hash": replay.entrants_hash, "winners": ", ".join(map(str, replay)) or "-"},
        )


@admin.register(ContestEntry)
class ContestEntryAdmin(ViewOnlyAdmin):
    """Every entry of every contest, to search one customer's or filter one contest's."""

    list_display = ["campaign", "customer_shown", "source", "tickets", "created_at"]
    list_filter = ["source", ("campaign", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["campaign", "customer"]
    search_fields = ["customer__email", "customer__last_name", "campaign__name"]
    ordering = ["-created_at", "-id"]
    fields = readonly_fields = ("campaign", "customer", "source", "source_key", "tickets", "created_at")

    @admin.display(description=_("customer"), ordering="customer__last_name")
    def customer_shown(self, entry: ContestEntry) -> SafeString:
        return _customer_link(entry.customer_id, entry.customer)
