"""The campaign pages of the admin: before launch the audience, holdout and treated sizes with the
projected cost, a test send to the staff member's own address and the launch; after it, the
reciprocation effect (treated against holdout) with its chart; and a calendar of planned campaigns."""

from __future__ import annotations

import calendar
import datetime
import logging
from functools import partial
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns import launch, tasks
from campaigns.admin_contests import ContestEntryInline, GiftChoiceRecipientInline, contest_draw_action
from campaigns.admin_shipments import ShipmentAdminMixin
from campaigns.effect import CampaignEffect, campaign_effect
from campaigns.models import Campaign, GiftKind, GiftOption
from core.errors import DomainError

logger = logging.getLogger(__name__)


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        exclude: list[str] = []  # every editable field: the fieldsets below choose what shows

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The campaign must end after it starts."))
        budget = cleaned.get("budget")
        if budget is not None and self.instance is not None:
            probe = Campaign(
                gift_kind=cleaned.get("gift_kind") or self.instance.gift_kind,
                gift_points=cleaned.get("gift_points") or 0,
                cost_per_gift=cleaned.get("cost_per_gift") or 0,
            )
            cost = launch.gift_cost(probe)
            if cost > 0 and budget < cost:
                self.add_error(
                    "budget",
                    _("The budget (%(budget)s) is smaller than one gift (%(cost)s).")
                    % {"budget": budget, "cost": cost},
                )
        return cleaned


class GiftOptionInline(admin.TabularInline):
    model = GiftOption
    extra = 0
    autocomplete_fields = ["reward"]

    def _is_draft(self, obj: Campaign | None) -> bool:
        return obj is None or obj.launched_at is None

    # Once launched, the options are what customers were offered: they stay as they were.
    def has_add_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return self._is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return self._is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return self._is_draft(obj) and super().has_delete_permission(request, obj)


INLINE_ROWS_MAX = 200  # more rows than this make a page too heavy to save: the lists link instead


class CampaignRecipientAdmin(admin.ModelAdmin):
    """Every recipient of every campaign, read-only: filter one campaign's by group and status."""

    list_display = ["campaign", "customer", "group", "status", "option", "points", "shipment", "given_at"]
    list_filter = ["group", "status", "shipment", ("campaign", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["campaign", "customer", "option"]
    search_fields = ["customer__email", "customer__last_name", "campaign__name"]
    ordering = ["campaign", "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _bars(effect: CampaignEffect) -> list[dict[str, Any]]:
    """Geometry of the reciprocation-rate chart: per window a treated and a holdout bar (height in
    % of 160 px), and the uplift interval as text."""
    bars = []
    for index, window in enumerate(effect.windows):
        x = 30 + index * 150
        bars.append(
            {
                "days": window.days,
                "x_treated": x,
                "x_holdout": x + 50,
                "x_label": x + 45,
                "h_treated": round(window.treated.reciprocation_rate * 160, 1),
                "h_holdout": round(window.holdout.reciprocation_rate * 160, 1),
                "y_treated": round(190 - window.treated.reciprocation_rate * 160, 1),
                "y_holdout": round(190 - window.holdout.reciprocation_rate * 160, 1),
                "treated": round(window.treated.reciprocation_rate * 100, 1),
                "holdout": round(window.holdout.reciprocation_rate * 100, 1),
                "complete": window.is_complete,
            }
        )
    return bars


class CampaignAdmin(ShipmentAdminMixin, admin.ModelAdmin):
    form = CampaignForm
    change_form_template = "admin/campaigns/campaign/change_form.html"
    list_display = [
        "name",
        "kind",
        "status",
        "starts_at",
        "audience_size",
        "holdout_size",
        "allocated_count",
        "stock",
        "spent",
        "budget",
    ]
    list_filter = ["status", "kind", "gift_kind"]
    search_fields = ["name"]
    list_select_related = ["segment"]
    autocomplete_fields = ["segment", "gift_reward"]
    actions = [contest_draw_action]
    date_hierarchy = "created_at"
    readonly_fields = [
        "status",
        "holdout_seed",
        "launched_at",
        "completed_at",
        "audience_size",
        "holdout_size",
        "allocated_count",
        "spent",
    ]
    fieldsets = [
        (None, {"fields": ["name", "kind", "status", "details", "segment", "starts_at", "ends_at"]}),
        (gettext_lazy("Holdout"), {"fields": ["holdout_percent", "holdout_seed"]}),
        (
            gettext_lazy("Gift"),
            {
                "fields": [
                    "gift_kind",
                    "gift_points",
                    "gift_reward",
                    "gift_description",
                    "introduces_skus",
                    "choice_deadline",
                    "is_surprise",
                ]
            },
        ),
        (gettext_lazy("Budget and stock"), {"fields": ["currency", "cost_per_gift", "budget", "stock"]}),
        (gettext_lazy("Special customer day"), {"fields": ["points_multiplier"], "classes": ["collapse"]}),
        (
            gettext_lazy("Contest"),
            {
                "fields": [
                    "entry_spend_unit",
                    "portal_entry",
                    "prize_description",
                    "winners_count",
                    "prize_points",
                    "accept_days",
                ],
                "classes": ["collapse"],
            },
        ),
        (
            gettext_lazy("Results"),
            {"fields": ["launched_at", "completed_at", "audience_size", "holdout_size", "allocated_count", "spent"]},
        ),
    ]

    def get_inlines(self, request: HttpRequest, obj: Campaign | None) -> list[type[admin.options.InlineModelAdmin]]:
        """The gift options; a small contest's entries and a small choice campaign's choices
        inline (bigger ones are linked to their lists, see the change form)."""
        inlines: list[type[admin.options.InlineModelAdmin]] = [GiftOptionInline]
        if obj is None:
            return inlines
        if obj.kind == Campaign.Kind.CONTEST and obj.entries.count() <= INLINE_ROWS_MAX:
            inlines.append(ContestEntryInline)
        if obj.gift_kind == GiftKind.CHOICE and obj.recipients.count() <= INLINE_ROWS_MAX:
            inlines.append(GiftChoiceRecipientInline)
        return inlines

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
            # A launched campaign's terms are history: the report depends on them.
            fields += [
                "kind",
                "segment",
                "holdout_percent",
                "gift_kind",
                "gift_points",
                "gift_reward",
                "cost_per_gift",
                "budget",
                "stock",
                "points_multiplier",
                "is_surprise",
            ]
        return fields

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("calendar/", wrap(self.calendar_view), name="campaigns_campaign_calendar"),
            path("<int:pk>/launch/", wrap(self.launch_view), name="campaigns_campaign_launch"),
            path("<int:pk>/test-send/", wrap(self.test_send_view), name="campaigns_campaign_test_send"),
            path("<int:pk>/cancel/", wrap(self.cancel_view), name="campaigns_campaign_cancel"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = extra_context or {}
        campaign = self.get_object(request, object_id)
        if campaign is not None:
            if campaign.launched_at is None:
                extra_context["preview"] = launch.campaign_preview(campaign)
                extra_context["problems"] = launch.campaign_problems(campaign)
            else:
                effect = campaign_effect(campaign)
                extra_context["effect"] = effect
                extra_context["bars"] = _bars(effect)
                extra_context["by_status"] = launch.count_by_status(campaign)
        return super().change_view(request, object_id, form_url, extra_context)

    def _campaign(self, request: HttpRequest, pk: int) -> Campaign:
        if not self.has_change_permission(request):
            raise PermissionDenied
        return get_object_or_404(Campaign, pk=pk)

    def _back(self, campaign: Campaign) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    def launch_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self._campaign(request, pk)
        if request.method != "POST":
            return self._back(campaign)
        try:
            with transaction.atomic():
                batches = launch.campaign_launch(campaign_id=campaign.pk, by=request.user)  # type: ignore[arg-type]
                transaction.on_commit(partial(_enqueue_quietly, campaign.pk, batches))
        except DomainError as error:
            self.message_user(request, str(error.message), messages.ERROR)
            return self._back(campaign)
        campaign.refresh_from_db()
        self.message_user(
            request,
            _("Launched: %(audience)s customers, %(holdout)s held out; the gifts go out in %(batches)s batches.")
            % {"audience": campaign.audience_size, "holdout": campaign.holdout_size, "batches": len(batches)},
            messages.SUCCESS,
        )
        return self._back(campaign)

    def test_send_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self._campaign(request, pk)
        if request.method != "POST":
            return self._back(campaign)
        address = getattr(request.user, "email", "")
        if not address:
            self.message_user(request, _("Your staff account has no e-mail address."), messages.ERROR)
            return self._back(campaign)
        try:
            launch.campaign_test_send(campaign=campaign, to=address)
        except DomainError as error:
            self.message_user(request, str(error.message), messages.ERROR)
        else:
            self.message_user(request, _("A test was sent to %(address)s.") % {"address": address}, messages.SUCCESS)
        return self._back(campaign)

    def cancel_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self._campaign(request, pk)
        if request.method == "POST":
            try:
                launch.campaign_cancel(campaign=campaign)
            except DomainError as error:
                self.message_user(request, str(error.message), messages.ERROR)
            else:
                self.message_user(request, _("The campaign was cancelled."), messages.SUCCESS)
        return self._back(campaign)

    def calendar_view(self, request: HttpRequest) -> HttpResponse:
        """A month of planned special days and campaigns (``?month=2026-11``)."""
        today = timezone.localdate()
        try:
            year, month = (int(part) for part in request.GET.get("month", "").split("-"))
            first = datetime.date(year, month, 1)
            if not 2 <= year <= 9998:  # the grid reaches into the months around it
                raise ValueError(year)
        except ValueError:
            first = today.replace(day=1)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        start = timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))
        end = timezone.make_aware(datetime.datetime.combine(last, datetime.time.max))
        campaigns = list(_calendar_campaigns(start, end))
        weeks = []
        for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
            days = []
            for day in week:
                day_start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
                day_end = day_start + datetime.timedelta(days=1)
                on = [c for c in campaigns if _covers(c, day_start, day_end)]
                days.append({"date": day, "in_month": day.month == first.month, "campaigns": on, "today": day == today})
            weeks.append(days)
        previous = (first - datetime.timedelta(days=1)).replace(day=1)
        following = last + datetime.timedelta(days=1)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Campaign calendar"),
            "first": first,
            "weeks": weeks,
            "previous": f"{previous:%Y-%m}",
            "following": f"{following:%Y-%m}",
        }
        return TemplateResponse(request, "admin/campaigns/campaign/calendar.html", context)


def _enqueue_quietly(campaign_id: int, batches: list[list[int]]) -> None:
    try:
        tasks.campaign_batches_enqueue(campaign_id, batches)
    except Exception:
        import logging

        logging.getLogger(__name__).warning(
            "campaigns: batches of campaign %s not enqueued; the sweep will", campaign_id
        )


def _calendar_campaigns(start: datetime.datetime, end: datetime.datetime) -> QuerySet[Campaign]:
    from django.db.models import Q

    return (
        Campaign.objects.exclude(status=Campaign.Status.CANCELLED)
        .filter(Q(starts_at__lte=end) | Q(starts_at__isnull=True, launched_at__lte=end))
        .filter(Q(ends_at__gte=start) | Q(ends_at__isnull=True))
        .exclude(starts_at__isnull=True, launched_at__isnull=True)
        .order_by("starts_at", "pk")
    )


def _covers(campaign: Campaign, day_start: datetime.datetime, day_end: datetime.datetime) -> bool:
    begins = campaign.starts_at or campaign.launched_at
    if begins is None or begins >= day_end:
        return False
    if campaign.ends_at is None:
        return begins >= day_start  # no window: shown on its start day
    return campaign.ends_at > day_start
