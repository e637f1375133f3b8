"""The loyalty part of the partner API: thin views that validate, call one service or selector,
and serialize. Domain errors become problem+json by the core exception handler."""

from __future__ import annotations

import uuid

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import PROBLEM_RESPONSES
from core.errors import NotFound
from customers import services as customer_services
from customers.models import Customer, Partner, Scope, SignupSource
from loyalty import selectors, services
from loyalty.api.serializers import (
    LedgerEntryOutputSerializer,
    LoyaltySummaryOutputSerializer,
    PurchaseCreateInputSerializer,
    PurchaseOutputSerializer,
    RedemptionCreateInputSerializer,
    RefundCreateInputSerializer,
    RefundOutputSerializer,
    RewardListQuerySerializer,
    RewardOutputSerializer,
    VoucherOutputSerializer,
    VoucherRedeemInputSerializer,
)
from loyalty.earning import Line
from loyalty.models import Purchase, Reward

CUSTOMER_PARAMETER = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Customer id")
CODE_PARAMETER = OpenApiParameter(
    "code", OpenApiTypes.STR, OpenApiParameter.PATH, description="Voucher code, with or without dashes, any case."
)
PURCHASE_PARAMETER = OpenApiParameter(
    "external_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Your id of the purchase."
)


def _customer_or_404(public_id: uuid.UUID) -> Customer:
    customer = Customer.objects.filter(public_id=public_id).first()
    if customer is None:
        raise NotFound("No customer has this id.", code="customer_not_found", customer=str(public_id))
    return customer


def _partner(request: Request) -> Partner:
    return request.user.partner  # type: ignore[union-attr]


def _created_or_ok(created: bool) -> int:
    return status.HTTP_201_CREATED if created else status.HTTP_200_OK


class CustomerLoyaltyView(generics.GenericAPIView):
    required_scopes = {"GET": Scope.CUSTOMERS_READ}
    serializer_class = LoyaltySummaryOutputSerializer

    @extend_schema(
        summary="A customer's points, tier, progress to the next tier and points about to expire",
        parameters=[CUSTOMER_PARAMETER],
        responses={200: LoyaltySummaryOutputSerializer, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        summary = selectors.loyalty_summary_for_customer(_customer_or_404(public_id))
        return Response(LoyaltySummaryOutputSerializer(summary).data)


class CustomerLedgerView(generics.GenericAPIView):
    required_scopes = {"GET": Scope.CUSTOMERS_READ}
    serializer_class = LedgerEntryOutputSerializer
    filter_backends = []  # nothing to filter by

    @extend_schema(
        summary="A customer's ledger entries, newest first",
        parameters=[CUSTOMER_PARAMETER],
        responses={200: LedgerEntryOutputSerializer(many=True), **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        entries = selectors.ledger_for_customer(_customer_or_404(public_id))
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(LedgerEntryOutputSerializer(page, many=True).data)


class PurchaseCreateView(generics.GenericAPIView):
    required_scopes = {"POST": Scope.PURCHASES_WRITE}
    serializer_class = PurchaseOutputSerializer

    @extend_schema(
        summary="Record a purchase and earn its points",
        description=(
            "Idempotent by `external_id` (per partner): a repeat answers 200 with the first body, another "
            "payload under the same id is 409 `idempotency_conflict`. Give `customer_email` instead of "
            "`customer` to register a new customer with the purchase."
        ),
        request=PurchaseCreateInputSerializer,
        responses={
            201: OpenApiResponse(PurchaseOutputSerializer, description="Recorded."),
            200: OpenApiResponse(PurchaseOutputSerializer, description="Already recorded with this payload."),
            **PROBLEM_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = PurchaseCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        partner = _partner(request)
        lines = [Line(**line) for line in data.pop("lines", [])]
        public_id, email = data.pop("customer", None), data.pop("customer_email", None)
        if email is None:
            customer = _customer_or_404(public_id)
            result = services.purchase_record(partner=partner, customer=customer, lines=lines, **data)
        else:
            # One transaction: a purchase the service refuses must not leave a new customer behind.
            with transaction.atomic():
                customer = customer_services.customer_register(
                    email=email, source=SignupSource.API, partner=partner
                ).customer
                result = services.purchase_record(partner=partner, customer=customer, lines=lines, **data)
        return Response(PurchaseOutputSerializer(result.purchase).data, status=_created_or_ok(result.created))


class RefundCreateView(generics.GenericAPIView):
    required_scopes = {"POST": Scope.PURCHASES_WRITE}
    serializer_class = RefundOutputSerializer

    @extend_schema(
        summary="Refund all or part of a purchase",
        description=(
            "Reverses the purchase's points pro rata. Idempotent by the refund's `external_id` (per purchase); "
            "a refund larger than what remains is 400 `refund_exceeds_purchase`."
        ),
        parameters=[PURCHASE_PARAMETER],
        request=RefundCreateInputSerializer,
        responses={
            201: OpenApiResponse(RefundOutputSerializer, description="Refunded."),
            200: OpenApiResponse(RefundOutputSerializer, description="Already refunded with this payload."),
            **PROBLEM_RESPONSES,
        },
    )
    def post(self, request: Request, external_id: str) -> Response:
        serializer = RefundCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        purchase = Purchase.objects.filter(partner=_partner(request), external_id=external_id).first()
        if purchase is None:  # another partner's purchase is not this partner's to see
            raise NotFound("You have no purchase with this id.", code="purchase_not_found", purchase=external_id)
        result = services.refund_record(purchase=purchase, **serializer.validated_data)
        return Response(RefundOutputSerializer(result.refund).data, status=_created_or_ok(result.created))


class RewardListView(generics.GenericAPIView):
    required_scopes = {"GET": Scope.REWARDS_READ}
    serializer_class = RewardOutputSerializer
    filter_backends = []  # nothing to filter by
    pagination_class = None  # a catalogue is short; ordered by cost, which a cursor cannot page

    @extend_schema(
        summary="The rewards catalogue",
        parameters=[RewardListQuerySerializer],
        responses={200: RewardOutputSerializer(many=True), **PROBLEM_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        query = RewardListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        public_id = query.validated_data.get("customer")
        if public_id is None:
            rewards = selectors.rewards_available()
        else:
            rewards = selectors.rewards_for_customer(_customer_or_404(public_id), affordable_only=True)
        return Response(RewardOutputSerializer(rewards, many=True).data)


class RedemptionCreateView(generics.GenericAPIView):
    required_scopes = {"POST": Scope.REDEMPTIONS_WRITE}
    serializer_class = VoucherOutputSerializer

    @extend_schema(
        summary="Spend a customer's points on a reward",
        description=(
            "Returns the voucher. Idempotent by `external_id` (per partner). Refusals are 409: "
            "`insufficient_points`, `out_of_stock`, `not_eligible`, `reward_unavailable`."
        ),
        request=RedemptionCreateInputSerializer,
        responses={
            201: OpenApiResponse(VoucherOutputSerializer, description="Redeemed: the new voucher."),
            200: OpenApiResponse(VoucherOutputSerializer, description="Already redeemed with this payload."),
            **PROBLEM_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = RedemptionCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        partner = _partner(request)
        customer = _customer_or_404(data["customer"])
        reward = Reward.objects.filter(pk=data["reward"]).first()
        if reward is None:
            raise NotFound("No reward has this id.", code="reward_not_found", reward=data["reward"])
        result = services.reward_redeem(
            customer=customer,
            reward=reward,
            idempotency_key=f"partner:{partner.pk}:redemption:{data['external_id']}",
            partner=partner,
        )
        return Response(VoucherOutputSerializer(result.voucher).data, status=_created_or_ok(result.created))


class VoucherDetailView(generics.GenericAPIView):
    required_scopes = {"GET": Scope.VOUCHERS_READ}
    serializer_class = VoucherOutputSerializer

    @extend_schema(
        summary="Validate a voucher at checkout",
        parameters=[CODE_PARAMETER],
        responses={200: VoucherOutputSerializer, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, code: str) -> Response:
        voucher = services.voucher_get_for_partner(code=code, partner=_partner(request))
        return Response(VoucherOutputSerializer(voucher).data)


class VoucherRedeemView(generics.GenericAPIView):
    required_scopes = {"POST": Scope.VOUCHERS_WRITE}
    serializer_class = VoucherOutputSerializer

    @extend_schema(
        summary="Use a voucher for an order",
        description=(
            "200 for the first use and for a repeat for the same order; another order is 409 "
            "`voucher_already_used`, an expired or cancelled voucher 409 `voucher_expired` / `voucher_cancelled`."
        ),
        parameters=[CODE_PARAMETER],
        request=VoucherRedeemInputSerializer,
        responses={200: VoucherOutputSerializer, **PROBLEM_RESPONSES},
    )
    def post(self, request: Request, code: str) -> Response:
        serializer = VoucherRedeemInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        voucher, _used_now = services.voucher_use(
            code=code, partner=_partner(request), order_id=serializer.validated_data["order_id"]
        )
        return Response(VoucherOutputSerializer(voucher).data)
