"""Input serializers (strict: unknown fields and wrongly typed values are refused) and output
serializers (only stored fields, so a repeated write answers with the very same body)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from core.api.serializers import StrictCharField, StrictEmailField, StrictInputSerializer
from loyalty.models import LedgerEntry, Program, Purchase, Refund, Reward, Voucher
from loyalty.services import voucher_code_display

EXTERNAL_ID_MAX_LENGTH = 100
# The service keys a redemption as "partner:<pk>:redemption:<external_id>" in a 120-character
# column: 80 characters leave room for any partner primary key.
REDEMPTION_EXTERNAL_ID_MAX_LENGTH = 80
EARLIEST_PURCHASE = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
MAX_LINES = 500
MAX_QUANTITY = 1_000_000
MAX_ID = 2**63 - 1

currency_validator = RegexValidator(r"^[A-Za-z]{3}\Z", _("Give a three-letter ISO 4217 code."), code="invalid")


def _validate_printable(value: str) -> None:
    # An id must be usable in a URL path segment and in a log line.
    if not value.isprintable():
        raise serializers.ValidationError(_("Control characters are not allowed."), code="invalid_characters")


class ExternalIdField(StrictCharField):
    """The partner's own id for a purchase, refund, redemption or order: printable, at most 100."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", EXTERNAL_ID_MAX_LENGTH)
        super().__init__(validators=[_validate_printable], **kwargs)


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as a string (DRF would turn a number into a UUID)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time with its UTC offset: a time without one is ambiguous and refused."""

    default_error_messages = {
        "naive": _("Give the time with its UTC offset, for example 2025-03-01T12:30:00+02:00."),
    }

    def enforce_timezone(self, value: datetime.datetime) -> datetime.datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


# --- Input ----------------------------------------------------------------------------------------


class LineListSerializer(serializers.ListSerializer):
    """Errors about the list itself (not a list, too long) are the field's own, like a ListField's:
    ``lines: [not_a_list]`` rather than ``lines.non_field_errors``."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, dict) and set(exc.detail) == {api_settings.NON_FIELD_ERRORS_KEY}:
                raise serializers.ValidationError(exc.detail[api_settings.NON_FIELD_ERRORS_KEY]) from exc
            raise


class PurchaseLineInputSerializer(StrictInputSerializer):
    """One line of a purchase: category and product bonuses and stamp cards look at them."""

    sku = StrictCharField(max_length=64)
    category = StrictCharField(max_length=64, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0))

    class Meta:
        list_serializer_class = LineListSerializer


class PurchaseCreateInputSerializer(StrictInputSerializer):
    """A purchase to record, for a customer given by id or by e-mail."""

    default_error_messages = {
        "customer_required": _("Give the customer's id or e-mail."),
        "customer_ambiguous": _("Give the customer's id or e-mail, not both."),
        "too_old": _("The purchase time is too far in the past."),
    }

    external_id = ExternalIdField(help_text=_("Your id of the purchase, unique per partner (the idempotency key)."))
    customer = StrictUUIDField(required=False, help_text=_("The customer's id; or give customer_email."))
    customer_email = StrictEmailField(
        max_length=254, required=False, help_text=_("The customer's e-mail: a new customer is registered.")
    )
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    currency = StrictCharField(min_length=3, max_length=3, validators=[currency_validator])
    occurred_at = AwareDateTimeField(help_text=_("ISO 8601 with a UTC offset."))
    store = StrictCharField(max_length=100, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=Purchase.Channel.choices, default=Purchase.Channel.STORE)
    lines = PurchaseLineInputSerializer(many=True, required=False, max_length=MAX_LINES)  # type: ignore[call-arg]
    payment_fingerprint = StrictCharField(max_length=64, allow_blank=True, default="")
    shipping_fingerprint = StrictCharField(max_length=64, allow_blank=True, default="")

    def validate_occurred_at(self, value: datetime.datetime) -> datetime.datetime:
        if value < EARLIEST_PURCHASE:
            self.fail("too_old")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("customer", "customer_email") if name in attrs]
        if len(given) != 1:
            code = "customer_ambiguous" if given else "customer_required"
            raise serializers.ValidationError(
                {"customer": [serializers.ErrorDetail(str(self.error_messages[code]), code=code)]}
            )
        return attrs


class RefundCreateInputSerializer(StrictInputSerializer):
    """A full or partial refund of a purchase."""

    external_id = ExternalIdField(help_text=_("Your id of the refund, unique per purchase (the idempotency key)."))
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))


class RedemptionCreateInputSerializer(StrictInputSerializer):
    """Spend a customer's points on a reward."""

    external_id = ExternalIdField(
        max_length=REDEMPTION_EXTERNAL_ID_MAX_LENGTH,
        help_text=_("Your id of the redemption, unique per partner (the idempotency key)."),
    )
    customer = StrictUUIDField()
    reward = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=_("The reward's id."))


class VoucherRedeemInputSerializer(StrictInputSerializer):
    """The order a voucher is used for."""

    order_id = ExternalIdField(help_text=_("Your id of the order the voucher pays for."))


class RewardListQuerySerializer(serializers.Serializer):
    customer = serializers.UUIDField(
        required=False, help_text=_("Only rewards this customer is eligible for and can afford.")
    )


# --- Output ---------------------------------------------------------------------------------------


class EarnShareSerializer(serializers.Serializer):
    rule = serializers.CharField()
    kind = serializers.CharField()
    points = serializers.IntegerField()


class PurchaseOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="external_id", read_only=True)
    customer = serializers.UUIDField(source="customer.public_id", read_only=True)
    tier_after = serializers.CharField(
        source="tier_after.name", read_only=True, allow_null=True, help_text=_("The customer's tier after it.")
    )
    earn_breakdown = EarnShareSerializer(many=True, read_only=True)
    recorded_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Purchase
        fields = [
            "id",
            "customer",
            "amount",
            "currency",
            "occurred_at",
            "store",
            "channel",
            "points_earned",
            "points_pending",
            "balance_after",
            "tier_after",
            "earn_breakdown",
            "recorded_at",
        ]
        read_only_fields = fields


class RefundOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="external_id", read_only=True)
    purchase = serializers.CharField(source="purchase.external_id", read_only=True)
    recorded_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Refund
        fields = ["id", "purchase", "amount", "points_reversed", "points_owed", "points_written_off", "recorded_at"]
        read_only_fields = fields


class LedgerEntryOutputSerializer(serializers.ModelSerializer):
    # A plain string in the schema: a second enum named "kind" (rewards have one) would need a
    # settings-level ENUM_NAME_OVERRIDES entry to be named without a warning.
    kind = serializers.CharField(
        read_only=True, help_text=format_lazy(_("One of: {kinds}."), kinds=", ".join(LedgerEntry.Kind.values))
    )
    purchase = serializers.CharField(
        source="purchase.external_id", read_only=True, allow_null=True, help_text=_("The purchase's external id.")
    )
    voucher = serializers.SerializerMethodField(help_text=_("The voucher's code."))
    reverses = serializers.IntegerField(
        source="reverses_id", read_only=True, allow_null=True, help_text=_("The id of the entry this one reverses.")
    )

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "amount",
            "balance_after",
            "reason",
            "created_at",
            "expires_at",
            "purchase",
            "voucher",
            "reverses",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_voucher(self, entry: LedgerEntry) -> str | None:
        return voucher_code_display(entry.voucher.code) if entry.voucher is not None else None


class TierOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    rank = serializers.IntegerField()
    multiplier = serializers.DecimalField(max_digits=5, decimal_places=2)
    perks = serializers.ListField(source="perk_list", child=serializers.CharField())


class NextTierOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    threshold = serializers.DecimalField(max_digits=12, decimal_places=2)


class QualificationOutputSerializer(serializers.Serializer):
    measure = serializers.ChoiceField(choices=Program.TierMeasure.choices)
    window_months = serializers.IntegerField()
    value = serializers.DecimalField(
        source="qualifying_value",
        max_digits=14,
        decimal_places=2,
        help_text=_("Points earned or spend in the window."),
    )
    needed_for_next = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    progress_percent = serializers.IntegerField(min_value=0, max_value=100)


class ExpiringOutputSerializer(serializers.Serializer):
    points = serializers.IntegerField(source="expiring_points")
    before = serializers.DateTimeField(source="expiring_before")


class LoyaltySummaryOutputSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    pending_points = serializers.IntegerField(source="pending", help_text=_("Waiting out the return window."))
    points_owed = serializers.IntegerField(source="owed", help_text=_("Refunded points that were already spent."))
    lifetime_earned = serializers.IntegerField()
    tier = TierOutputSerializer(allow_null=True)
    tier_since = serializers.DateTimeField(allow_null=True)
    tier_grace_until = serializers.DateTimeField(allow_null=True, help_text=_("The tier is kept until then."))
    next_tier = NextTierOutputSerializer(allow_null=True)
    qualification = QualificationOutputSerializer(source="*")
    expiring = ExpiringOutputSerializer(source="*")


class RewardOutputSerializer(serializers.ModelSerializer):
    min_tier = serializers.CharField(
        source="min_tier.name", read_only=True, allow_null=True, help_text=_("The lowest tier that may redeem it.")
    )

    class Meta:
        model = Reward
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "points_cost",
            "value",
            "stock",
            "min_tier",
            "valid_until",
            "voucher_valid_days",
        ]
        read_only_fields = fields


class RewardReferenceOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reward
        fields = ["id", "name"]
        read_only_fields = fields


class VoucherOutputSerializer(serializers.ModelSerializer):
    code = serializers.SerializerMethodField(help_text=_("XXXX-XXXX-XXXX; accepted with or without dashes."))
    reward = RewardReferenceOutputSerializer(read_only=True, allow_null=True)
    customer = serializers.UUIDField(source="customer.public_id", read_only=True)
    # The metaclass moves declared fields into _declared_fields, so Serializer.is_valid() is untouched.
    is_valid = serializers.SerializerMethodField(  # type: ignore[assignment]
        help_text=_("Issued and not past its expiry: usable now.")
    )
    order_id = serializers.SerializerMethodField(help_text=_("The order it was used for."))

    class Meta:
        model = Voucher
        fields = [
            "code",
            "status",
            "is_valid",
            "kind",
            "value",
            "currency",
            "source",
            "reward",
            "points_spent",
            "customer",
            "issued_at",
            "expires_at",
            "redeemed_at",
            "order_id",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_code(self, voucher: Voucher) -> str:
        return voucher_code_display(voucher.code)

    @extend_schema_field(serializers.BooleanField())
    def get_is_valid(self, voucher: Voucher) -> bool:
        return voucher.status == Voucher.Status.ISSUED and voucher.expires_at > timezone.now()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_order_id(self, voucher: Voucher) -> str | None:
        return voucher.redeemed_order_id or None
