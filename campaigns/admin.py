from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from campaigns.birthdays import birthday_settings
from campaigns.models import (
    BirthdayGift,
    BirthdayReward,
    BirthdaySettings,
    ThankYouSettings,
    WinBackOffer,
    WinBackSettings,
)
from campaigns.services import thank_you_settings
from campaigns.win_back import win_back_settings


@admin.register(ThankYouSettings)
class ThankYouSettingsAdmin(admin.ModelAdmin):
    fields = ["is_enabled", "delay_minutes", "min_amount", "cooldown_days", "gift_points", "gift_min_amount"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        cache.delete("campaigns:thank-you-delay")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:campaigns_thankyousettings_change", args=[thank_you_settings().pk]))


class SingletonAdmin(admin.ModelAdmin):
    """An automation's settings: one row, edited in place, never added or deleted."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class BirthdayGiftInline(admin.TabularInline):
    model = BirthdayGift
    extra = 0
    fields = ["tier", "points", "reward"]


@admin.register(BirthdaySettings)
class BirthdaySettingsAdmin(SingletonAdmin):
    fields = ["is_enabled", "days_ahead", "send_hour", "gift_points", "gift_reward"]
    inlines = [BirthdayGiftInline]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:campaigns_birthdaysettings_change", args=[birthday_settings().pk]))


@admin.register(WinBackSettings)
class WinBackSettingsAdmin(SingletonAdmin):
    fields = ["is_enabled", "inactive_days", "gift_points", "gift_reward"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:campaigns_winbacksettings_change", args=[win_back_settings().pk]))


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
