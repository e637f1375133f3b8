"""Staff UI for referrals: the programme settings, every referral, the review queue with approve
and reject (a reason is asked for and recorded; the services do the work), and the funnel with
the top referrers."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import SingletonAdmin
from core.errors import DomainError
from customers.models import User
from referrals import selectors, services
from referrals.models import (
    FraudFlag,
    Referral,
    ReferralAwaitingReview,
    ReferralCode,
    ReferralProgram,
    ReferralTierReward,
)
from referrals.program import referral_program_get

FUNNEL_DEFAULT_DAYS = 30


REFERRAL_FIELDS = (
    "referrer_link",
    "friend_link",
    "code",
    "status",
    "flags_display",
    "reason",
    "note",
    "source",
    "partner",
    "created_at",
    "window_ends_at",
    "qualifying_purchase",
    "qualified_at",
    "rewarded_at",
    "referrer_points",
    "referrer_voucher",
    "friend_points",
    "friend_voucher",
    "reviewed_by",
    "reviewed_at",
    "rejected_at",
    "clawed_back_at",
)


class ReferralTierRewardInline(admin.TabularInline):
    model = ReferralTierReward
    extra = 0
    fields = ["tier", "referrer_points", "referrer_reward"]


@admin.register(ReferralProgram)
class ReferralProgramAdmin(SingletonAdmin):
    """One row, edited in place: the list page goes straight to it (made with its defaults)."""

    settings_row = staticmethod(referral_program_get)

    fieldsets = [
        (None, {"fields": ["is_enabled"]}),
        (_("Rewards"), {"fields": ["referrer_points", "referrer_reward", "friend_points", "friend_reward"]}),
        (_("Qualifying"), {"fields": ["min_purchase", "qualifying_days", "attribution_days", "monthly_cap"]}),
        (_("Velocity checks"), {"fields": ["velocity_hours", "velocity_max_per_code", "velocity_max_per_address"]}),
    ]
    inlines = [ReferralTierRewardInline]


class ReviewReasonForm(forms.Form):
    note = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Recorded with the referral, with your name and the time."),
    )

    def clean_note(self) -> str:
        note: str = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError(_("Say why."), code="required")
        return note


class ReferralAdminBase(admin.ModelAdmin):
    """A referral is written by the services only: staff read it and approve or reject it."""

    list_select_related = ["referrer", "friend", "qualifying_purchase"]
    search_fields = ["code", "referrer__email", "referrer__last_name", "friend__email", "friend__last_name"]
    search_help_text = _("Search by code, or the referrer's or the friend's e-mail or last name.")
    actions = ["approve", "reject"]
    show_full_result_count = False
    fields = REFERRAL_FIELDS
    readonly_fields = REFERRAL_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_review_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("referrals.change_referral"))

    @admin.display(description=_("fraud checks"))
    def flags_display(self, referral: Referral) -> str:
        labels = dict(FraudFlag.choices)
        return ", ".join(str(labels.get(flag, flag)) for flag in referral.flags) or "-"

    @admin.display(description=_("referrer"), ordering="referrer__last_name")
    def referrer_link(self, referral: Referral) -> str:
        url = reverse("admin:customers_customer_change", args=[referral.referrer_id])
        return format_html('<a href="{}">{}</a>', url, referral.referrer)

    @admin.display(description=_("friend"), ordering="friend__last_name")
    def friend_link(self, referral: Referral) -> str:
        url = reverse("admin:customers_customer_change", args=[referral.friend_id])
        return format_html('<a href="{}">{}</a>', url, referral.friend)

    def _review(
        self,
        request: HttpRequest,
        queryset: QuerySet[Referral],
        *,
        action: str,
        title: str,
        decide: Callable[..., Referral],
    ) -> TemplateResponse | None:
        """Ask for the reason on an intermediate page; with it, call the service for each
        selected referral. One that cannot be decided (no longer in review) is reported, not
        changed."""
        form = ReviewReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done = skipped = 0
            staff: User = request.user  # type: ignore[assignment]
            for referral in queryset.order_by("pk"):
                try:
                    decide(referral=referral, by=staff, note=form.cleaned_data["note"])
                except DomainError as refusal:
                    skipped += 1
                    self.message_user(
                        request, f"{referral.code} ({referral.friend}): {refusal.message}", messages.WARNING
                    )
                else:
                    done += 1
            self.message_user(
                request,
                ngettext("%(count)d referral decided.", "%(count)d referrals decided.", done) % {"count": done},
                messages.SUCCESS if done else messages.WARNING,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "referrals": queryset.select_related("referrer", "friend"),
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/referrals/review_reason.html", context)

    @admin.action(description=_("Approve and reward the selected referrals"), permissions=["review"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Referral]) -> TemplateResponse | None:
        return self._review(
            request, queryset, action="approve", title=str(_("Approve referrals")), decide=services.referral_approve
        )

    @admin.action(description=_("Reject the selected referrals"), permissions=["review"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Referral]) -> TemplateResponse | None:
        return self._review(
            request, queryset, action="reject", title=str(_("Reject referrals")), decide=services.referral_reject
        )


class FunnelForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("start") and cleaned.get("end") and cleaned["start"] > cleaned["end"]:
            raise forms.ValidationError(_("The start comes after the end."), code="inverted")
        return cleaned


def _percent(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.0f} %" if whole else "-"


@admin.register(Referral)
class ReferralAdmin(ReferralAdminBase):
    list_display = [
        "created_at",
        "referrer_link",
        "friend_link",
        "code",
        "status",
        "flags_display",
        "qualifying_purchase",
        "rewarded_at",
    ]
    list_filter = ["status", "created_at", "rewarded_at", "source"]
    date_hierarchy = "created_at"
    change_list_template = "admin/referrals/referral/change_list.html"

    def get_urls(self) -> list[Any]:
        funnel = path("funnel/", self.admin_site.admin_view(self.funnel_view), name="referrals_referral_funnel")
        return [funnel, *super().get_urls()]

    def funnel_view(self, request: HttpRequest) -> HttpResponse:
        """Links opened, sign-ups, qualified and rewarded in a date range (the last 30 days by
        default), and the top referrers of the range. Three queries."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        data = request.GET if "start" in request.GET or "end" in request.GET else None
        form = FunnelForm(
            data, initial={"start": today - datetime.timedelta(days=FUNNEL_DEFAULT_DAYS - 1), "end": today}
        )
        if form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        else:
            start, end = form.initial["start"], form.initial["end"]
        funnel = selectors.referral_funnel(start=start, end=end)
        steps = [
            (_("Links opened"), funnel.links_opened, ""),
            (_("Sign-ups"), funnel.signups, _percent(funnel.signups, funnel.links_opened)),
            (_("Qualified"), funnel.qualified, _percent(funnel.qualified, funnel.signups)),
            (_("Rewarded"), funnel.rewarded, _percent(funnel.rewarded, funnel.qualified)),
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Referral funnel"),
            "form": form,
            "funnel": funnel,
            "steps": steps,
            "top": selectors.top_referrers(start=start, end=end),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/referrals/funnel.html", context)


@admin.register(ReferralAwaitingReview)
class ReferralAwaitingReviewAdmin(ReferralAdminBase):
    """The review queue: referrals a fraud check or the monthly cap held back, oldest first."""

    list_display = ["qualified_at", "referrer_link", "friend_link", "code", "flags_display", "qualifying_purchase"]
    list_filter = ["qualified_at"]
    ordering = ["qualified_at", "pk"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Referral]:
        return super().get_queryset(request).filter(status=Referral.Status.REVIEW)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("referrals.view_referral"))

    def has_review_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("referrals.change_referral"))


@admin.register(ReferralCode)
class ReferralCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "customer", "created_at"]
    list_select_related = ["customer"]
    search_fields = ["code", "customer__email", "customer__last_name"]
    fields = ("code", "customer", "created_at")
    readonly_fields = ("code", "customer", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[ReferralCode], search_term: str) -> Any:
        normalised = services.referral_code_normalise(search_term)
        if normalised and queryset.filter(code=normalised).exists():
            return queryset.filter(code=normalised), False
        return super().get_search_results(request, queryset, search_term)
