from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework_api_key.models import APIKey

from customers import services
from customers.models import (
    Channel,
    ConsentEvent,
    ConsentSource,
    Customer,
    Message,
    MessageTemplate,
    Partner,
    PartnerAPIKey,
    StaffNote,
    Tag,
    User,
)
from customers.templating import PLACEHOLDERS, template_errors, template_render

admin.site.register(User, UserAdmin)
# The library's own key model is unused: partner keys live in PartnerAPIKey.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class ConsentEventInline(admin.TabularInline):
    model = ConsentEvent
    extra = 0
    can_delete = False
    fields = ["recorded_at", "channel", "is_granted", "source", "recorded_by", "partner"]
    readonly_fields = fields
    verbose_name_plural = _("consent history")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentEvent]:
        return super().get_queryset(request).select_related("recorded_by", "partner")


class StaffNoteInline(admin.StackedInline):
    model = StaffNote
    extra = 1
    fields = ["text", "author", "created_at"]
    readonly_fields = ["author", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StaffNote]:
        return super().get_queryset(request).select_related("author")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["email", "first_name", "last_name", "phone", "language", "status", "email_consent", "created_at"]
    list_display_links = ["email"]
    list_filter = [
        "status",
        "language",
        "signup_source",
        "email_consent",
        "sms_consent",
        "preferred_reward_kind",
        "tags",
    ]
    search_fields = ["email", "first_name", "last_name", "phone"]
    search_help_text = _("Search by name, e-mail or phone.")
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False
    autocomplete_fields = ["tags"]
    readonly_fields = [
        "public_id",
        "user",
        "signup_source",
        "signup_partner",
        "email_consent_at",
        "sms_consent_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (_("Who"), {"fields": ["first_name", "last_name", "birth_date", "status"]}),
        (_("Contact"), {"fields": ["email", "phone", "language", "time_zone"]}),
        (_("Preferences and interests"), {"fields": ["preferred_reward_kind", "tags"]}),
        (_("Consent"), {"fields": [("email_consent", "email_consent_at"), ("sms_consent", "sms_consent_at")]}),
        (
            _("Record"),
            {
                "fields": ["public_id", "user", "signup_source", "signup_partner", "created_at", "updated_at"],
                "classes": ["collapse"],
            },
        ),
    ]
    inlines = [StaffNoteInline, ConsentEventInline]

    def save_model(self, request: HttpRequest, obj: Customer, form: ModelForm, change: bool) -> None:
        # Consent changes go through the service so that each one is recorded with who and when.
        consent_changes = {
            name: form.cleaned_data[name] for name in ("email_consent", "sms_consent") if name in form.changed_data
        }
        for name in consent_changes:
            setattr(obj, name, form.initial.get(name, False))
        if not change:
            obj.signup_source = "admin"
        super().save_model(request, obj, form, change)
        if change and "email" in form.changed_data and obj.user_id:
            # As ``customer_update`` does: the portal login follows the e-mail.
            User.objects.filter(pk=obj.user_id).update(email=obj.email)
        for name, granted in consent_changes.items():
            channel = Channel.EMAIL if name == "email_consent" else Channel.SMS
            services.customer_consent_set(
                customer=obj, channel=channel, granted=granted, source=ConsentSource.ADMIN, by=request.user
            )

    def save_formset(self, request: HttpRequest, form: ModelForm, formset: Any, change: bool) -> None:
        for instance in formset.save(commit=False):
            if isinstance(instance, StaffNote) and instance.author_id is None:
                instance.author = request.user
            instance.save()
        for instance in formset.deleted_objects:
            instance.delete()
        formset.save_m2m()


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]
    list_display = ["name"]


class PartnerAPIKeyInline(admin.TabularInline):
    model = PartnerAPIKey
    extra = 0
    can_delete = False
    fields = ["name", "prefix", "scopes", "created", "last_used_at", "expiry_date", "revoked"]
    readonly_fields = ["name", "prefix", "scopes", "created", "last_used_at", "expiry_date", "revoked"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "contact_email", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "contact_email"]
    inlines = [PartnerAPIKeyInline]


@admin.register(PartnerAPIKey)
class PartnerAPIKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "partner", "prefix", "created", "last_used_at", "expiry_date", "revoked"]
    list_filter = ["revoked", "partner"]
    list_select_related = ["partner"]
    search_fields = ["name", "prefix", "partner__name"]
    readonly_fields = ["name", "partner", "prefix", "scopes", "created", "last_used_at", "expiry_date", "revoked"]
    actions = ["revoke_keys"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are issued with `manage.py create_partner`, which shows the key once

    @admin.action(description=_("Revoke the selected keys"))
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[PartnerAPIKey]) -> None:
        keys = list(queryset.filter(revoked=False))
        for api_key in keys:
            services.partner_key_revoke(api_key=api_key)
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", len(keys)) % {"count": len(keys)},
            messages.SUCCESS,
        )


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["purpose", "language", "channel", "subject", "is_active", "updated_at"]
    list_filter = ["purpose", "language", "channel", "is_active"]
    readonly_fields = ["placeholders", "preview"]
    fields = ["purpose", "language", "channel", "subject", "body", "is_active", "placeholders", "preview"]

    @admin.display(description=_("placeholders you can use"))
    def placeholders(self, template: MessageTemplate) -> str:
        return ", ".join(f"{{{name}}}" for name in sorted(PLACEHOLDERS))

    @admin.display(description=_("preview"))
    def preview(self, template: MessageTemplate) -> str:
        """The template filled in for a real customer of its language (sample values otherwise)."""
        if template.pk is None or template_errors(template.body) or template_errors(template.subject):
            return "-"
        customer = Customer.objects.active().filter(language=template.language).order_by("pk").first()
        values = {**PLACEHOLDERS, "first_name": customer.first_name if customer else PLACEHOLDERS["first_name"]}
        return format_html(
            "<strong>{}</strong><pre style='white-space: pre-wrap'>{}</pre>",
            template_render(template.subject, values),
            template_render(template.body, values),
        )


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "customer",
        "purpose",
        "channel",
        "status",
        "suppressed_reason",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "purpose", "channel", "is_marketing"]
    list_select_related = ["customer"]
    search_fields = ["customer__email", "to_address", "idempotency_key"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ["created_at", "purpose", "channel", "status", "suppressed_reason", "subject", "sent_at"]
    readonly_fields = fields
    ordering = ["-created_at"]
    verbose_name_plural = _("messages")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


CustomerAdmin.inlines = [*CustomerAdmin.inlines, MessageInline]
