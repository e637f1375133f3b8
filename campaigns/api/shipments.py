"""The partner API of shipped gifts and samples: a fulfilment partner lists a campaign's shipments
and reports each one's progress (shipped with a tracking code, delivered, returned).

    GET   /api/v1/campaigns/{campaign_id}/shipments/                  campaigns:read
    PATCH /api/v1/campaigns/{campaign_id}/shipments/{recipient_id}/   campaigns:write

A shipment is a treated recipient that was given a physical gift or sample. Held-out recipients,
recipients not given anything and another campaign's recipients are not shipments: 404. The list
carries the customer's public id, not their contact details (those stay behind ``customers:read``).
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns import shipments
from campaigns.models import Campaign, CampaignRecipient
from core.api.schema import PROBLEM_RESPONSES
from core.api.serializers import StrictCharField, StrictInputSerializer
from core.errors import NotFound
from customers.models import Scope

SHIPMENT_STATUS_CHOICES = [
    (value, label) for value, label in CampaignRecipient.Shipment.choices if value in shipments.SHIPMENT_STATUSES
]
CAMPAIGN_PARAMETER = OpenApiParameter("campaign_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Campaign id")
RECIPIENT_PARAMETER = OpenApiParameter(
    "recipient_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Recipient id (the shipment's id)"
)


# --- serializers ------------------------------------------------------------------------------------


def _validate_printable(value: str) -> None:
    # NUL and the length have their own checks (and codes) in CharField.
    if "\x00" not in value and not value.isprintable():
        raise serializers.ValidationError(_("The tracking code has control characters."), code="invalid_characters")


class ShipmentUpdateInputSerializer(StrictInputSerializer):
    status = serializers.ChoiceField(choices=SHIPMENT_STATUS_CHOICES)
    tracking_code = StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=shipments.TRACKING_CODE_MAX_LENGTH,
        validators=[_validate_printable],
        help_text=gettext_lazy("Empty or left out: the stored tracking code is kept."),
    )


class ShipmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    customer = serializers.UUIDField(source="customer.public_id", read_only=True)
    gift = serializers.SerializerMethodField()
    # Plain text in the schema: a second component with this enum would collide with the other
    # "status" enums of the API (drf-spectacular names an enum shared by two components by a hash).
    status = serializers.CharField(
        source="shipment", read_only=True, help_text=gettext_lazy("allocated, shipped, delivered or returned.")
    )
    tracking_code = serializers.CharField(read_only=True)
    updated_at = serializers.DateTimeField(source="shipment_updated_at", read_only=True, allow_null=True)
    given_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_gift(self, recipient: CampaignRecipient) -> str:
        """What to ship: the campaign's gift description."""
        campaign: Campaign = self.context["campaign"]
        return campaign.gift_description


class ShipmentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(field_name="shipment", choices=SHIPMENT_STATUS_CHOICES)

    class Meta:
        model = CampaignRecipient
        fields: list[str] = []


# --- views ------------------------------------------------------------------------------------------


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound(_("No campaign has this id."), code="campaign_not_found", campaign=campaign_id)
    return campaign


class ShipmentListView(generics.GenericAPIView):
    required_scopes = {"GET": Scope.CAMPAIGNS_READ}
    serializer_class = ShipmentOutputSerializer
    filterset_class = ShipmentFilter

    def get_queryset(self) -> QuerySet[CampaignRecipient]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no campaign
            return CampaignRecipient.objects.none()
        return shipments.shipments_queryset(campaign=self.kwargs["campaign_id"])

    @extend_schema(
        summary="A campaign's shipments (physical gifts and samples), newest first",
        parameters=[CAMPAIGN_PARAMETER],
        responses={200: ShipmentOutputSerializer(many=True), **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = _campaign_or_404(campaign_id)
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        body = ShipmentOutputSerializer(page, many=True, context={"campaign": campaign}).data
        return self.get_paginated_response(body)


class ShipmentDetailView(generics.GenericAPIView):
    required_scopes = {"PATCH": Scope.CAMPAIGNS_WRITE}
    serializer_class = ShipmentOutputSerializer

    @extend_schema(
        summary="Report a shipment's progress",
        description=(
            "Allowed moves: allocated to shipped, shipped to delivered or returned, delivered to returned. "
            "Sending the status the shipment already has changes nothing (200, the same body), except that "
            "a different non-empty tracking code replaces the stored one. Any other move is 409 "
            "`shipment_transition_invalid`."
        ),
        parameters=[CAMPAIGN_PARAMETER, RECIPIENT_PARAMETER],
        request=ShipmentUpdateInputSerializer,
        responses={200: ShipmentOutputSerializer, **PROBLEM_RESPONSES},
    )
    def patch(self, request: Request, campaign_id: int, recipient_id: int) -> Response:
        serializer = ShipmentUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = _campaign_or_404(campaign_id)
        recipient = shipments.shipments_queryset(campaign=campaign).filter(pk=recipient_id).first()
        if recipient is None:
            raise NotFound(
                _("This campaign has no shipment with this id."), code="shipment_not_found", recipient=recipient_id
            )
        shipments.shipment_update(
            recipient=recipient,
            status=serializer.validated_data["status"],
            tracking_code=serializer.validated_data["tracking_code"],
            by=request.user.partner,  # type: ignore[union-attr]
        )
        return Response(ShipmentOutputSerializer(recipient, context={"campaign": campaign}).data)


urlpatterns = [
    path("campaigns/<int:campaign_id>/shipments/", ShipmentListView.as_view(), name="campaign-shipment-list"),
    path(
        "campaigns/<int:campaign_id>/shipments/<int:recipient_id>/",
        ShipmentDetailView.as_view(),
        name="campaign-shipment-detail",
    ),
]
