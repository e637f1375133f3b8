"""Staff UI for the loyalty programme. Writes with side effects go through loyalty.services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import SingletonAdmin
from core.errors import DomainError
from customers.models import Customer
from loyalty import services
from loyalty.earning import earn_calculate
from loyalty.forms import EarnPreviewForm, PointsAdjustForm
from loyalty.models import (
    EarningRule,
    LedgerEntry,
    PointsAccount,
    Program,
    Purchase,
    PurchaseLine,
    Refund,
    Reward,
    StampCard,
    Tier,
    TierChange,
    Voucher,
)
from loyalty.program import program_cache_clear, program_get, rules_get
from loyalty.selectors import loyalty_summary_for_customer


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ClearsProgramCacheMixin:
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        program_cache_clear()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        program_cache_clear()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)  # type: ignore[misc]
        program_cache_clear()


@admin.register(Program)
class ProgramAdmin(ClearsProgramCacheMixin, SingletonAdmin):
    settings_row = staticmethod(program_get)
    fieldsets = [
        (_("Points"), {"fields": ["currency", "point_value", "points_expiry_months", "expiry_warning_days"]}),
        (_("Tiers"), {"fields": ["tier_measure", "tier_window_months", "tier_grace_days"]}),
        (_("Returns"), {"fields": ["pending_points_enabled", "return_window_days", "refund_overspend_policy"]}),
    ]


@admin.register(Tier)
class TierAdmin(ClearsProgramCacheMixin, admin.ModelAdmin):
    list_display = ["name", "rank", "threshold", "multiplier"]
    ordering = ["rank"]


@admin.register(EarningRule)
class EarningRuleAdmin(ClearsProgramCacheMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "is_active",
        "points_per_unit",
        "multiplier",
        "percent",
        "bonus_points",
        "starts_at",
        "ends_at",
    ]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "category", "sku"]
    filter_horizontal = ["tiers"]
    change_list_template = "admin/loyalty/earningrule/change_list.html"
    fieldsets = [
        (None, {"fields": ["name", "kind", "is_active"]}),
        (_("How much"), {"fields": ["points_per_unit", "multiplier", "bonus_points", "percent"]}),
        (_("Which lines"), {"fields": ["category", "sku"]}),
        (_("When and for whom"), {"fields": ["starts_at", "ends_at", "tiers"]}),
    ]

    def get_urls(self) -> list[Any]:
        preview = path("preview/", self.admin_site.admin_view(self.preview_view), name="loyalty_earningrule_preview")
        return [preview, *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """What would a sample purchase earn, and why: each rule's share, with today's rules."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = EarnPreviewForm(request.GET or None)
        result = None
        if form.is_valid():
            result = earn_calculate(
                **form.preview_arguments(), rules=rules_get(), point_value=program_get().point_value
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Preview what a purchase earns"),
            "form": form,
            "result": result,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/loyalty/earningrule/preview.html", context)


@admin.register(StampCard)
class StampCardAdmin(ClearsProgramCacheMixin, admin.ModelAdmin):
    list_display = ["name", "category", "sku", "stamps_required", "reward", "is_active"]
    list_select_related = ["reward"]


@admin.register(Reward)
class RewardAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "points_cost", "value", "stock", "min_tier", "valid_until", "is_active"]
    list_filter = ["kind", "is_active", "min_tier"]
    list_select_related = ["min_tier"]
    search_fields = ["name"]


@admin.register(Voucher)
class VoucherAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["display_code", "customer", "kind", "value", "status", "source", "issued_at", "expires_at"]
    list_filter = ["status", "source", "kind"]
    list_select_related = ["customer", "reward"]
    search_fields = ["code", "customer__email"]
    search_help_text = _("Search by voucher code (dashes and case do not matter) or customer e-mail.")
    actions = ["cancel_vouchers"]
    show_full_result_count = False

    @admin.display(description=_("code"), ordering="code")
    def display_code(self, voucher: Voucher) -> str:
        return services.voucher_code_display(voucher.code)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Voucher], search_term: str) -> Any:
        normalised = services.voucher_code_normalise(search_term)
        if normalised and len(normalised) == 12:
            return queryset.filter(code=normalised), False
        return super().get_search_results(request, queryset, search_term)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super(ReadOnlyMixin, self).has_change_permission(request, obj)

    @admin.action(description=_("Cancel the selected vouchers (their points return)"), permissions=["change"])
    def cancel_vouchers(self, request: HttpRequest, queryset: QuerySet[Voucher]) -> None:
        cancelled = 0
        for voucher in queryset:
            try:
                services.voucher_cancel(voucher=voucher, by=request.user)  # type: ignore[arg-type]
                cancelled += 1
            except DomainError as error:
                self.message_user(request, f"{voucher.code}: {error.message}", messages.WARNING)
        self.message_user(
            request,
            ngettext("%(count)d voucher cancelled.", "%(count)d vouchers cancelled.", cancelled) % {"count": cancelled},
            messages.SUCCESS,
        )


class PurchaseLineInline(ReadOnlyMixin, admin.TabularInline):
    model = PurchaseLine
    extra = 0
    fields = ["sku", "category", "quantity", "unit_price"]
    readonly_fields = fields


class RefundInline(ReadOnlyMixin, admin.TabularInline):
    model = Refund
    extra = 0
    fields = ["external_id", "amount", "points_reversed", "points_owed", "points_written_off", "created_at"]
    readonly_fields = fields


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "external_id",
        "partner",
        "customer",
        "amount",
        "currency",
        "points_earned",
        "refunded_amount",
        "occurred_at",
    ]
    list_filter = ["partner", "channel"]
    list_select_related = ["partner", "customer"]
    search_fields = ["external_id", "customer__email"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    inlines = [PurchaseLineInline, RefundInline]
    readonly_fields = ["breakdown"]

    @admin.display(description=_("how the points were earned"))
    def breakdown(self, purchase: Purchase) -> str:
        return format_html_join(
            "", "<div>{}: {}</div>", ((share["rule"], share["points"]) for share in purchase.earn_breakdown)
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "account", "kind", "amount", "balance_after", "reason", "created_by"]
    list_filter = ["kind"]
    list_select_related = ["account__customer", "created_by"]
    search_fields = ["account__customer__email", "idempotency_key", "reason"]
    show_full_result_count = False


class TierChangeInline(ReadOnlyMixin, admin.TabularInline):
    model = TierChange
    extra = 0
    fields = ["created_at", "from_tier", "to_tier", "reason", "qualifying_value"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[TierChange]:
        return super().get_queryset(request).select_related("from_tier", "to_tier")


@admin.register(PointsAccount)
class PointsAccountAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["customer", "balance", "tier", "lifetime_earned", "owed", "tier_grace_until"]
    list_filter = ["tier"]
    list_select_related = ["customer", "tier"]
    search_fields = ["customer__email", "customer__last_name"]
    inlines = [TierChangeInline]
    show_full_result_count = False


def adjust_points_view(model_admin: admin.ModelAdmin, request: HttpRequest, customer: Customer) -> HttpResponse:
    """The staff "adjust points" page: an amount and a required reason, through points_adjust."""
    if not request.user.has_perm("loyalty.add_ledgerentry") and not request.user.is_superuser:
        raise PermissionDenied
    form = PointsAdjustForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.points_adjust(
                customer=customer,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                idempotency_key=f"{customer.pk}:{form.cleaned_data['nonce']}",
                by=request.user,  # type: ignore[arg-type]
            )
        except DomainError as error:
            form.add_error("amount", error.message)
        else:
            model_admin.message_user(request, _("Points adjusted."), messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:customers_customer_change", args=[customer.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Adjust points of %(customer)s") % {"customer": customer},
        "form": form,
        "customer": customer,
        "summary": loyalty_summary_for_customer(customer),
        "opts": Customer._meta,
    }
    return TemplateResponse(request, "admin/loyalty/adjust_points.html", context)


class VoucherInline(ReadOnlyMixin, admin.TabularInline):
    model = Voucher
    extra = 0
    fields = ["code", "kind", "value", "status", "issued_at", "expires_at"]
    readonly_fields = fields
    ordering = ["-issued_at"]
    verbose_name_plural = _("vouchers")


class PurchaseInline(ReadOnlyMixin, admin.TabularInline):
    model = Purchase
    extra = 0
    fields = ["external_id", "partner", "amount", "points_earned", "refunded_amount", "occurred_at"]
    readonly_fields = fields
    ordering = ["-occurred_at"]
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Purchase]:
        return super().get_queryset(request).select_related("partner")


# The customer page gains the loyalty story: a summary, the latest statement, purchases and
# vouchers, and the "adjust points" page. customers knows nothing of loyalty; loyalty extends it.
BaseCustomerAdmin = type(admin.site._registry[Customer])
admin.site.unregister(Customer)


@admin.register(Customer)
class LoyaltyCustomerAdmin(BaseCustomerAdmin):  # type: ignore[valid-type,misc]
    inlines = [*BaseCustomerAdmin.inlines, PurchaseInline, VoucherInline]
    readonly_fields = [*BaseCustomerAdmin.readonly_fields, "loyalty_overview"]
    fieldsets = [*BaseCustomerAdmin.fieldsets, (_("Loyalty"), {"fields": ["loyalty_overview"]})]

    def get_urls(self) -> list[Any]:
        adjust = path(
            "<int:object_id>/adjust-points/",
            self.admin_site.admin_view(self.adjust_points),
            name="customers_customer_adjust_points",
        )
        return [adjust, *super().get_urls()]

    def adjust_points(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return adjust_points_view(self, request, get_object_or_404(Customer, pk=object_id))

    @admin.display(description=_("points and tier"))
    def loyalty_overview(self, customer: Customer) -> str:
        if customer.pk is None:
            return "-"
        summary = loyalty_summary_for_customer(customer)
        entries = LedgerEntry.objects.filter(account__customer=customer).order_by("-id")[:10]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    entry.created_at.strftime("%Y-%m-%d %H:%M"),
                    entry.get_kind_display(),
                    f"{entry.amount:+d}",
                    entry.balance_after,
                    entry.reason,
                )
                for entry in entries
            ),
        )
        return format_html(
            "<p><strong>{}</strong> {} &middot; <strong>{}</strong> {} &middot; {} {} &middot; {} {}</p>"
            '<p><a class="button" href="{}">{}</a></p>'
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            summary.balance,
            _("points"),
            summary.tier.name if summary.tier else "-",
            _("tier"),
            summary.pending,
            _("pending"),
            summary.owed,
            _("owed"),
            reverse("admin:customers_customer_adjust_points", args=[customer.pk]),
            _("Adjust points"),
            _("When"),
            _("Kind"),
            _("Points"),
            _("Balance"),
            _("Reason"),
            rows,
        )
