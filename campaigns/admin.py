from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns.admin_campaigns import CampaignAdmin, CampaignRecipientAdmin
from campaigns.birthdays import birthday_settings
from campaigns.gratitude import GratitudeTaskClosed, gratitude_task_close
from campaigns.launch import gift_policy
from campaigns.models import (
    BirthdayGift,
    BirthdayReward,
    BirthdaySettings,
    Campaign,
    CampaignRecipient,
    GiftPolicy,
    GratitudeRule,
    GratitudeTask,
    ThankYouSettings,
    WinBackOffer,
    WinBackSettings,
)
from campaigns.services import thank_you_settings
from campaigns.win_back import win_back_settings
from core.admin import SingletonAdmin


class GiftPolicyAdmin(SingletonAdmin):
    fields = ["window_days", "max_gifts", "max_value"]
    settings_row = staticmethod(gift_policy)


@admin.register(ThankYouSettings)
class ThankYouSettingsAdmin(SingletonAdmin):
    fields = ["is_enabled", "delay_minutes", "min_amount", "cooldown_days", "gift_points", "gift_min_amount"]
    settings_row = staticmethod(thank_you_settings)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        cache.delete("campaigns:thank-you-delay")


class BirthdayGiftInline(admin.TabularInline):
    model = BirthdayGift
    extra = 0
    fields = ["tier", "points", "reward"]


@admin.register(BirthdaySettings)
class BirthdaySettingsAdmin(SingletonAdmin):
    fields = ["is_enabled", "days_ahead", "send_hour", "gift_points", "gift_reward"]
    inlines = [BirthdayGiftInline]
    settings_row = staticmethod(birthday_settings)


@admin.register(WinBackSettings)
class WinBackSettingsAdmin(SingletonAdmin):
    fields = ["is_enabled", "inactive_days", "gift_points", "gift_reward"]
    settings_row = staticmethod(win_back_settings)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record of what an automation did: written by its service only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BirthdayReward)
class BirthdayRewardAdmin(ReadOnlyAdmin):
    list_display = ["customer", "year", "birthday", "points", "voucher", "message_status", "created_at"]
    list_filter = ["year"]
    list_select_related = ["customer", "voucher", "message"]
    search_fields = ["customer__email", "customer__last_name"]
    date_hierarchy = "created_at"
    fields = ["customer", "year", "birthday", "points", "voucher", "message", "created_at"]
    readonly_fields = fields

    @admin.display(description=_("message"))
    def message_status(self, reward: BirthdayReward) -> str:
        if reward.message is None:
            return "-"
        return reward.message.suppressed_reason or reward.message.get_status_display()


@admin.register(WinBackOffer)
class WinBackOfferAdmin(ReadOnlyAdmin):
    list_display = ["customer", "lapse_started", "points", "voucher", "message_status", "created_at"]
    list_select_related = ["customer", "voucher", "message"]
    search_fields = ["customer__email", "customer__last_name"]
    date_hierarchy = "created_at"
    fields = ["customer", "lapse_started", "points", "voucher", "message", "created_at"]
    readonly_fields = fields

    @admin.display(description=_("message"))
    def message_status(self, offer: WinBackOffer) -> str:
        if offer.message is None:
            return "-"
        return offer.message.suppressed_reason or offer.message.get_status_display()


@admin.register(GratitudeRule)
class GratitudeRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "event", "purchase_number", "min_amount", "action", "assignee", "due_in_days", "is_active"]
    list_filter = ["is_active", "event", "action"]
    list_select_related = ["assignee"]
    fields = ["name", "is_active", "event", "purchase_number", "min_amount", "action", "assignee", "due_in_days"]


class GratitudeTaskStatusFilter(admin.SimpleListFilter):
    """Status, open by default: the list is a to-do list; "All" shows the closed ones too."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*GratitudeTask.Status.choices, (self.ALL, _("All"))]

    def value(self) -> str:
        return super().value() or GratitudeTask.Status.OPEN

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == self.ALL:
            return queryset
        return queryset.filter(status=self.value())


class GratitudeTaskDueFilter(admin.SimpleListFilter):
    title = _("due")
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("overdue", _("Overdue")), ("today", _("Today")), ("week", _("In the next 7 days"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        today = timezone.localdate()
        if self.value() == "overdue":
            return queryset.filter(due_on__lt=today)
        if self.value() == "today":
            return queryset.filter(due_on=today)
        if self.value() == "week":
            return queryset.filter(due_on__gte=today, due_on__lte=today + datetime.timedelta(days=7))
        return queryset


@admin.register(GratitudeTask)
class GratitudeTaskAdmin(admin.ModelAdmin):
    list_display = ["due_on", "action", "customer_link", "purchase", "rule", "assignee", "status", "done_by", "done_at"]
    list_filter = [GratitudeTaskStatusFilter, GratitudeTaskDueFilter, "action", "assignee"]
    list_select_related = ["customer", "purchase", "rule", "assignee", "done_by"]
    ordering = ["due_on", "id"]
    search_fields = ["customer__email", "customer__last_name"]
    fields = [
        "customer_link",
        "rule",
        "purchase",
        "action",
        "assignee",
        "due_on",
        "status",
        "outcome_note",
        "done_by",
        "done_at",
        "created_at",
    ]
    readonly_fields = ["customer_link", "rule", "purchase", "action", "status", "done_by", "done_at", "created_at"]
    actions = ["mark_done", "skip"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("customer"), ordering="customer__last_name")
    def customer_link(self, task: GratitudeTask) -> str:
        url = reverse("admin:customers_customer_change", args=[task.customer_id])
        return format_html('<a href="{}">{}</a>', url, task.customer)

    def _close(self, request: HttpRequest, queryset: QuerySet[GratitudeTask], status: str) -> None:
        closed = skipped = 0
        for task in queryset.order_by("pk"):
            try:
                gratitude_task_close(task=task, by=request.user, status=status)  # type: ignore[arg-type]
            except GratitudeTaskClosed:
                skipped += 1
            else:
                closed += 1
        if closed:
            self.message_user(
                request, ngettext("%(count)d task closed.", "%(count)d tasks closed.", closed) % {"count": closed}
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d task was already closed and was left as it was.",
                    "%(count)d tasks were already closed and were left as they were.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Mark as done"))
    def mark_done(self, request: HttpRequest, queryset: QuerySet[GratitudeTask]) -> None:
        self._close(request, queryset, GratitudeTask.Status.DONE)

    @admin.action(description=_("Skip"))
    def skip(self, request: HttpRequest, queryset: QuerySet[GratitudeTask]) -> None:
        self._close(request, queryset, GratitudeTask.Status.SKIPPED)


admin.site.register(Campaign, CampaignAdmin)
admin.site.register(CampaignRecipient, CampaignRecipientAdmin)
admin.site.register(GiftPolicy, GiftPolicyAdmin)
