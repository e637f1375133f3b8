"""Input serializers (strict: unknown fields and wrongly typed values are refused) and output
serializers (stored fields only, so a repeated attach answers with the very same body)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api.serializers import StrictCharField, StrictInputSerializer
from referrals.models import Referral


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as a string (DRF would turn a number into a UUID)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class ReferralCreateInputSerializer(StrictInputSerializer):
    code = StrictCharField(max_length=40, help_text=_("The member's referral code (any case, dashes ignored)."))
    customer = StrictUUIDField(help_text=_("The new customer's id (the friend)."))
    network_address = serializers.IPAddressField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Optional: the address the friend signed up from (kept only hashed, for velocity checks)."),
    )


class ReferralOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    referrer = serializers.UUIDField(source="referrer.public_id", read_only=True)
    customer = serializers.UUIDField(source="friend.public_id", read_only=True)
    qualify_by = serializers.DateTimeField(source="window_ends_at", read_only=True)

    class Meta:
        model = Referral
        fields = ["id", "code", "referrer", "customer", "status", "qualify_by", "created_at"]


class ReferralCountsSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    review = serializers.IntegerField()
    qualified = serializers.IntegerField()
    rewarded = serializers.IntegerField()
    rejected = serializers.IntegerField()


class ReferralSummaryOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    link = serializers.URLField()
    counts = ReferralCountsSerializer(help_text=_("The referrals this customer made, by status."))
    total = serializers.IntegerField()
    points_earned = serializers.IntegerField()
    vouchers_earned = serializers.IntegerField()
