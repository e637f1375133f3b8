from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import StrictCharField, StrictEmailField, StrictInputSerializer
from customers.models import Customer, Language, RewardKind, Segment, phone_validator, validate_time_zone


class ConsentStateSerializer(serializers.Serializer):
    granted = serializers.BooleanField()
    changed_at = serializers.DateTimeField(allow_null=True)


class ConsentsSerializer(serializers.Serializer):
    email = ConsentStateSerializer()
    sms = ConsentStateSerializer()


class CustomerOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    consents = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "birth_date",
            "language",
            "time_zone",
            "status",
            "signup_source",
            "preferred_reward_kind",
            "consents",
            "tags",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(ConsentsSerializer)
    def get_consents(self, customer: Customer) -> dict[str, Any]:
        stamp = serializers.DateTimeField().to_representation
        return {
            "email": {
                "granted": customer.email_consent,
                "changed_at": stamp(customer.email_consent_at) if customer.email_consent_at else None,
            },
            "sms": {
                "granted": customer.sms_consent,
                "changed_at": stamp(customer.sms_consent_at) if customer.sms_consent_at else None,
            },
        }

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, customer: Customer) -> list[str]:
        return sorted(tag.name for tag in customer.tags.all())


def _validate_birth_date(value: datetime.date | None) -> datetime.date | None:
    if value is None:
        return value
    today = timezone.localdate()
    if value > today:
        raise serializers.ValidationError(_("The birth date cannot be in the future."), code="future_date")
    if value.year < 1900:
        raise serializers.ValidationError(_("The birth date is too far in the past."), code="date_too_old")
    return value


class CustomerCreateInputSerializer(StrictInputSerializer):
    email = StrictEmailField(max_length=254)
    first_name = StrictCharField(max_length=100, required=False, allow_blank=True)
    last_name = StrictCharField(max_length=100, required=False, allow_blank=True)
    phone = StrictCharField(max_length=16, required=False, allow_blank=True, validators=[phone_validator])
    birth_date = serializers.DateField(required=False, allow_null=True, validators=[_validate_birth_date])
    language = serializers.ChoiceField(choices=Language.choices, required=False)
    time_zone = StrictCharField(max_length=64, required=False, allow_blank=True, validators=[validate_time_zone])
    preferred_reward_kind = serializers.ChoiceField(choices=RewardKind.choices, required=False, allow_blank=True)
    email_consent = serializers.BooleanField(required=False, help_text=_("Marketing e-mail consent."))
    sms_consent = serializers.BooleanField(required=False, help_text=_("Marketing SMS consent."))
    tags = serializers.ListField(
        child=StrictCharField(max_length=50), required=False, max_length=50, help_text=_("Tags and interests.")
    )


class CustomerUpdateInputSerializer(CustomerCreateInputSerializer):
    email = StrictEmailField(max_length=254, required=False)


class SegmentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["id", "name", "kind", "member_count", "refreshed_at"]
