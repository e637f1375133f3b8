from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework_api_key.models import APIKey

from core.errors import DomainError
from customers import feedback as feedback_services
from customers import privacy, segments, services
from customers.models import (
    Channel,
    Complaint,
    ConsentEvent,
    ConsentSource,
    Customer,
    Feedback,
    Message,
    MessageTemplate,
    Partner,
    PartnerAPIKey,
    Segment,
    SegmentMember,
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

    # --- privacy rights: export and erasure (customers.privacy) ---------------------------------
    # The change page links both (templates/admin/customers/customer/change_form.html). Export
    # needs the view permission, erasure the delete permission (it is the lawful form of deleting
    # a customer whose purchases the books keep). An erased customer's page is read-only, and
    # "erased" is never a status picked in the form: only the erase action sets it.

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if isinstance(obj, Customer) and obj.status == Customer.Status.ERASED:
            return False
        return super().has_change_permission(request, obj)

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "status":
            kwargs["choices"] = [choice for choice in Customer.Status.choices if choice[0] != Customer.Status.ERASED]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_urls(self) -> list[Any]:
        privacy_urls = [
            path(
                "<path:object_id>/privacy/export/",
                self.admin_site.admin_view(self.privacy_export_view),
                name="customers_customer_privacy_export",
            ),
            path(
                "<path:object_id>/privacy/erase/",
                self.admin_site.admin_view(self.privacy_erase_view),
                name="customers_customer_privacy_erase",
            ),
        ]
        return [*privacy_urls, *super().get_urls()]

    def privacy_export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Everything held about the customer as a JSON download; the export is logged."""
        customer = self.get_object(request, unquote(object_id))
        if customer is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, customer):
            raise PermissionDenied
        response = HttpResponse(
            privacy.customer_data_export_json(customer), content_type="application/json; charset=utf-8"
        )
        filename = privacy.customer_data_filename(customer=customer)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        add_never_cache_headers(response)
        self.log_change(request, customer, "Personal data exported (JSON).")
        return response

    def privacy_erase_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: what erasure does, and a confirmation button. POST: erase (``customer_erase``, by
        this staff member), log it and go back to the customer's page."""
        customer = self.get_object(request, unquote(object_id))
        if customer is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_delete_permission(request, customer):
            raise PermissionDenied
        if request.method == "POST":
            by = request.user
            assert isinstance(by, User)
            privacy.customer_erase(customer=customer, by=by, source=privacy.ErasureSource.ADMIN)
            self.log_change(request, customer, "Personal data erased.")
            self.message_user(request, _("The customer's personal data was erased."), messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:customers_customer_change", args=[customer.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase the personal data of %(customer)s") % {"customer": customer},
            "opts": self.opts,
            "customer": customer,
            "is_erased": customer.status == Customer.Status.ERASED,
        }
        return TemplateResponse(request, "admin/customers/customer/erase_confirm.html", context)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]
    list_display = ["name", "is_interest"]
    list_editable = ["is_interest"]
    list_filter = ["is_interest"]


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


# --- segments --------------------------------------------------------------------------------------

SEGMENT_PREVIEW_SIZE = 10
SEGMENT_UPLOAD_MAX_BYTES = 5 * 1024 * 1024
SEGMENT_UNKNOWN_SHOWN = 50


INLINE_ROWS_MAX = 200  # an inline with more rows than this makes a page too heavy to save


class SegmentMemberInline(admin.TabularInline):
    """Hand-picked members of a static segment."""

    model = SegmentMember
    extra = 1
    fields = ["customer", "added_at"]
    readonly_fields = ["added_at"]
    autocomplete_fields = ["customer"]
    verbose_name_plural = _("members (hand-picked)")

    def get_queryset(self, request: HttpRequest) -> QuerySet[SegmentMember]:
        return super().get_queryset(request).select_related("customer").order_by("-added_at", "-id")


class SegmentUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), required=False, help_text=_("E-mail addresses in any column."))
    emails = forms.CharField(
        label=_("or paste e-mail addresses"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if upload is not None and upload.size > SEGMENT_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."), code="too_large")
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("file") and not (cleaned.get("emails") or "").strip():
            raise forms.ValidationError(_("Choose a file or paste some e-mail addresses."), code="empty")
        return cleaned

    def text(self) -> str:
        upload = self.cleaned_data.get("file")
        parts = [upload.read().decode("utf-8-sig", errors="replace")] if upload else []
        parts.append(self.cleaned_data.get("emails") or "")
        return "\n".join(parts)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "match", "member_count", "refreshed_at", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "description"]
    readonly_fields = ["conditions", "preview", "member_count", "refreshed_at"]
    fieldsets = [
        (None, {"fields": ["name", "description", "kind", "is_active"]}),
        (_("Rules (dynamic segments)"), {"fields": ["match", "rules", "conditions"]}),
        (_("Members"), {"fields": ["preview", "member_count", "refreshed_at"]}),
    ]
    actions = ["refresh_now"]
    change_form_template = "admin/customers/segment/change_form.html"

    def get_inlines(self, request: HttpRequest, obj: Segment | None) -> list[type[admin.options.InlineModelAdmin]]:
        # Hand-picking is for small lists: a page with thousands of rows could not even be saved
        # (every row posts its fields). Big static segments (a campaign's frozen audience) are
        # added to by upload and listed under the members' own pages.
        small = obj is not None and obj.member_count <= INLINE_ROWS_MAX
        return [SegmentMemberInline] if small and obj.kind == Segment.Kind.STATIC else []

    @admin.display(description=_("conditions you can use"))
    def conditions(self, segment: Segment) -> str:
        rows = format_html_join(
            "",
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    condition.key,
                    condition.label,
                    condition.value_type,
                    ", ".join(str(choice) for choice, _label in condition.choice_list()) or condition.help_text,
                )
                for condition in segments.segment_conditions()
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("condition"),
            _("meaning"),
            _("value"),
            _("values or example"),
            rows,
        )

    @admin.display(description=_("preview"))
    def preview(self, segment: Segment) -> str:
        """How many customers the rules on the form select, and the first ten of them (unsaved rules
        when "Preview" was pressed, the saved ones otherwise)."""
        if segment.kind == Segment.Kind.STATIC and segment.pk is None:
            return "-"
        try:
            customers = segments.segment_queryset(segment)
            count = customers.count()
        except ValidationError:
            return str(_("Correct the rules to see a preview."))
        sample = list(customers.order_by("pk")[:SEGMENT_PREVIEW_SIZE])
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> ({})</li>',
            (
                (reverse("admin:customers_customer_change", args=[customer.pk]), customer, customer.email)
                for customer in sample
            ),
        )
        summary = ngettext("%(count)d customer matches.", "%(count)d customers match.", count) % {"count": count}
        return format_html("<strong>{}</strong><ul>{}</ul>", summary, items)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and "_preview" in request.POST:
            return self._preview_view(request, object_id, form_url, extra_context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _preview_view(
        self, request: HttpRequest, object_id: str | None, form_url: str, extra_context: dict[str, Any] | None
    ) -> HttpResponse:
        """The change form, bound to what was posted and not saved, with the preview of its rules."""
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        if object_id and obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        add = obj is None
        if not (self.has_add_permission(request) if add else self.has_change_permission(request, obj)):
            raise PermissionDenied
        fieldsets = self.get_fieldsets(request, obj)
        form_class = self.get_form(request, obj, change=not add, fields=flatten_fieldsets(fieldsets))
        form = form_class(request.POST, request.FILES, instance=obj)
        form.is_valid()  # binds the posted rules to form.instance, which the preview reads
        admin_form = helpers.AdminForm(
            form,
            list(fieldsets),
            self.get_prepopulated_fields(request, obj),
            self.get_readonly_fields(request, obj),
            model_admin=self,
        )
        self.message_user(request, _("Preview only: nothing was saved."), messages.INFO)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Add %s") % self.opts.verbose_name if add else _("Change %s") % self.opts.verbose_name,
            "subtitle": str(obj) if obj else None,
            "adminform": admin_form,
            "object_id": object_id,
            "original": obj,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=add, change=not add, obj=obj, form_url=form_url)

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        segments.segment_refresh(segment=form.instance)

    @admin.action(description=_("Refresh the members now"))
    def refresh_now(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        refreshed = 0
        for segment in queryset.order_by("pk"):
            try:
                segments.segment_refresh(segment=segment)
            except ValidationError as error:
                self.message_user(
                    request,
                    _("%(segment)s was not refreshed: %(errors)s")
                    % {"segment": segment, "errors": " ".join(error.messages)},
                    messages.ERROR,
                )
                continue
            refreshed += 1
        self.message_user(
            request,
            ngettext("%(count)d segment refreshed.", "%(count)d segments refreshed.", refreshed) % {"count": refreshed},
            messages.SUCCESS,
        )

    def get_urls(self) -> list[Any]:
        upload = path(
            "<path:object_id>/upload/",
            self.admin_site.admin_view(self.upload_view),
            name="customers_segment_upload",
        )
        return [upload, *super().get_urls()]

    def upload_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Add customers to a static segment from a CSV of e-mails; report the unknown ones."""
        segment = self.get_object(request, unquote(object_id))
        if segment is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, segment):
            raise PermissionDenied
        change_url = reverse("admin:customers_segment_change", args=[segment.pk])
        if segment.kind != Segment.Kind.STATIC:
            self.message_user(request, segments.SegmentNotStatic().message, messages.ERROR)
            return HttpResponseRedirect(change_url)
        form = SegmentUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            emails, invalid = segments.segment_emails_parse(form.text())
            result = segments.segment_members_add(segment=segment, emails=emails)
            self.message_user(
                request,
                _("%(added)d customers added; %(already)d were members already.")
                % {"added": result.added, "already": result.already_members},
                messages.SUCCESS,
            )
            unknown = result.unknown_emails + invalid
            if unknown:
                shown = ", ".join(unknown[:SEGMENT_UNKNOWN_SHOWN])
                more = len(unknown) - SEGMENT_UNKNOWN_SHOWN
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d e-mail matched no customer: %(emails)s",
                        "%(count)d e-mails matched no customer: %(emails)s",
                        len(unknown),
                    )
                    % {"count": len(unknown), "emails": shown + (f" (+{more})" if more > 0 else "")},
                    messages.WARNING,
                )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Add members to %(segment)s") % {"segment": segment},
            "opts": self.opts,
            "segment": segment,
            "form": form,
        }
        return TemplateResponse(request, "admin/customers/segment/upload.html", context)


# --- feedback and complaints -----------------------------------------------------------------------


class FeedbackInline(admin.TabularInline):
    model = Feedback
    extra = 0
    can_delete = False
    fields = ["created_at", "source_key", "scale", "score", "comment", "reward_points", "rewarded_at"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    verbose_name_plural = _("feedback")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ComplaintInline(admin.TabularInline):
    model = Complaint
    extra = 0
    can_delete = False
    fields = ["created_at", "subject", "status", "owner", "resolved_at"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    show_change_link = True
    verbose_name_plural = _("complaints")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Complaint]:
        return super().get_queryset(request).select_related("owner")


# Before loyalty's admin extends CustomerAdmin, so the final customer page has them too.
CustomerAdmin.inlines = [*CustomerAdmin.inlines, FeedbackInline, ComplaintInline]


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    """Answers are the customers' words: staff read them, nobody edits them. The changelist's
    subtitle sums up the answers the filters select (mean rating, Net Promoter Score)."""

    list_display = ["created_at", "customer", "source_key", "scale", "score", "comment_start", "reward_points"]
    list_filter = ["scale", "score", "language", ("rewarded_at", admin.EmptyFieldListFilter)]
    list_select_related = ["customer"]
    search_fields = ["customer__email", "source_key", "comment"]
    search_help_text = _("Search by customer e-mail, survey or comment.")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("comment"))
    def comment_start(self, feedback: Feedback) -> str:
        return feedback.comment if len(feedback.comment) <= 80 else feedback.comment[:79] + "…"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context is not None and "cl" in context:
            summary = feedback_services.feedback_summary(context["cl"].queryset)
            rating = "-" if summary.rating_average is None else f"{summary.rating_average:.2f}"
            nps = "-" if summary.nps is None else f"{summary.nps:+d}"
            context["subtitle"] = _(
                "Average rating %(rating)s of 5 (%(rating_count)d answers) · NPS %(nps)s (%(nps_count)d answers)"
            ) % {"rating": rating, "rating_count": summary.rating_count, "nps": nps, "nps_count": summary.nps_count}
        return response


class ComplaintAdminForm(forms.ModelForm):
    """Checks the rules of ``complaint_update`` (or ``complaint_open`` when adding) as form
    errors, so staff see why a change is refused and nothing is saved."""

    request_user: User

    class Meta:
        model = Complaint
        fields = ["customer", "subject", "description", "status", "owner", "resolution"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        adding = self.instance.pk is None
        if adding and cleaned["customer"].status != Customer.Status.ACTIVE:
            self.add_error("customer", _("The customer is blocked or erased."))
            return cleaned
        # Adding: the new complaint starts open, then takes the status staff chose.
        current = Complaint(status=Complaint.Status.OPEN) if adding else self.instance
        try:
            feedback_services.complaint_changes(
                complaint=current,
                by=self.request_user,
                status=cleaned.get("status"),
                owner=cleaned.get("owner"),
                resolution=cleaned.get("resolution", ""),
            )
        except DomainError as error:
            field = error.details.get("field")
            self.add_error(field if field in self.fields else None, ValidationError(error.message, code=error.code))
        return cleaned


@admin.register(Complaint)
class ComplaintAdmin(admin.ModelAdmin):
    """Support staff resolve complaints here. Every change goes through ``complaint_update``."""

    form = ComplaintAdminForm
    list_display = ["subject", "customer", "status", "owner", "source", "created_at", "resolved_at"]
    list_filter = ["status", ("owner", admin.RelatedOnlyFieldListFilter), "source"]
    list_select_related = ["customer", "owner"]
    search_fields = ["subject", "description", "customer__email", "customer__last_name"]
    search_help_text = _("Search by subject, text, or the customer's e-mail or last name.")
    show_full_result_count = False
    autocomplete_fields = ["customer"]
    actions = ["assign_to_me"]
    readonly_fields_on_change = ["customer", "subject", "description", "source", "resolved_at", "created_at"]
    fieldsets_on_change = [
        (_("The complaint"), {"fields": ["customer", "subject", "description", "source", "created_at"]}),
        (_("Handling"), {"fields": ["status", "owner", "resolution", "resolved_at"]}),
    ]
    fieldsets_on_add = [
        (_("The complaint"), {"fields": ["customer", "subject", "description"]}),
        (_("Handling"), {"fields": ["status", "owner", "resolution"]}),
    ]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a complaint is part of the customer's story; close it with a resolution

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The customer's own words stay as they wrote them.
        return self.readonly_fields_on_change if obj is not None else []

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fieldsets_on_change if obj is not None else self.fieldsets_on_add

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request_user = request.user  # type: ignore[attr-defined]
        return form

    def save_model(self, request: HttpRequest, obj: Complaint, form: ModelForm, change: bool) -> None:
        data = form.cleaned_data
        by = request.user
        assert isinstance(by, User)
        if change:
            try:
                feedback_services.complaint_update(
                    complaint=obj, by=by, status=data["status"], owner=data["owner"], resolution=data["resolution"]
                )
            except DomainError as error:  # the row changed between the form's check and the save
                self.message_user(request, error.message, messages.ERROR)
            return
        created = feedback_services.complaint_open(
            customer=data["customer"],
            subject=data["subject"],
            description=data["description"],
            source=Complaint.Source.STAFF,
            owner=data["owner"],
        )
        feedback_services.complaint_update(
            complaint=created, by=by, status=data["status"], resolution=data["resolution"]
        )
        obj.pk = created.pk
        for field in Complaint._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Complaint]) -> None:
        by = request.user
        assert isinstance(by, User)
        assigned = 0
        for complaint in queryset.order_by("pk"):
            try:
                feedback_services.complaint_update(complaint=complaint, by=by, owner=by)
            except DomainError as error:
                self.message_user(request, f"{complaint}: {error.message}", messages.WARNING)
                continue
            assigned += 1
        self.message_user(
            request,
            ngettext("%(count)d complaint assigned to you.", "%(count)d complaints assigned to you.", assigned)
            % {"count": assigned},
            messages.SUCCESS,
        )
