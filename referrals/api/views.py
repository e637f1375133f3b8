"""The referral part of the partner API: thin views that validate, call one service or selector,
and serialize. Domain errors become problem+json by the core exception handler."""

from __future__ import annotations

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import PROBLEM_RESPONSES
from core.errors import NotFound
from customers.models import Customer, Scope
from referrals import selectors, services
from referrals.api.serializers import (
    ReferralCreateInputSerializer,
    ReferralOutputSerializer,
    ReferralSummaryOutputSerializer,
)
from referrals.models import Referral

CUSTOMER_PARAMETER = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Customer id")


def _customer_or_404(public_id: uuid.UUID) -> Customer:
    customer = Customer.objects.filter(public_id=public_id).first()
    if customer is None:
        raise NotFound("No customer has this id.", code="customer_not_found", customer=str(public_id))
    return customer


class ReferralCreateView(generics.GenericAPIView):
    required_scopes = {"POST": Scope.REFERRALS_WRITE}
    serializer_class = ReferralOutputSerializer

    @extend_schema(
        summary="Attach a new customer to a member's referral code",
        description=(
            "Call it right after registering the customer, before recording their first purchase. "
            "The same customer and code again answers 200 with the first body. Refusals: 404 "
            "`unknown_referral_code` and `customer_not_found`, 409 `already_referred` (another code), "
            "422 `self_referral` and `not_a_new_customer`, 409 `referrals_closed` and `customer_not_active`."
        ),
        request=ReferralCreateInputSerializer,
        responses={
            201: OpenApiResponse(ReferralOutputSerializer, description="Attached."),
            200: OpenApiResponse(ReferralOutputSerializer, description="Already attached to this code."),
            **PROBLEM_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = ReferralCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = services.referral_attach(
            code=data["code"],
            friend=_customer_or_404(data["customer"]),
            source=Referral.Source.API,
            partner=request.user.partner,  # type: ignore[union-attr]
            network_address=data["network_address"] or "",
        )
        body = ReferralOutputSerializer(result.referral).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class CustomerReferralsView(generics.GenericAPIView):
    required_scopes = {"GET": Scope.CUSTOMERS_READ}
    serializer_class = ReferralSummaryOutputSerializer

    @extend_schema(
        summary="A customer's referral code and link, and their referrals counted by status",
        description=(
            "Reads only. `code` and `link` are empty strings until the member has a code (made when "
            "they first open their referrals page in the portal)."
        ),
        parameters=[CUSTOMER_PARAMETER],
        responses={200: ReferralSummaryOutputSerializer, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        summary = selectors.referral_summary_for_customer(_customer_or_404(public_id))
        return Response(ReferralSummaryOutputSerializer(summary).data)
