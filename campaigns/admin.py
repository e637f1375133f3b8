from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from campaigns.models import ThankYouSettings
from campaigns.services import thank_you_settings


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
