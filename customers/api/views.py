from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import PROBLEM_RESPONSES
from customers import selectors, services
from customers.api.filters import CustomerFilter
from customers.api.serializers import (
    CustomerCreateInputSerializer,
    CustomerOutputSerializer,
    CustomerUpdateInputSerializer,
    SegmentOutputSerializer,
)
from customers.models import Customer, Scope, SignupSource


class CustomerListCreateView(generics.GenericAPIView):
    required_scopes = {"GET": Scope.CUSTOMERS_READ, "POST": Scope.CUSTOMERS_WRITE}
    serializer_class = CustomerOutputSerializer
    filterset_class = CustomerFilter

    def get_queryset(self) -> Any:
        return selectors.customer_list()

    @extend_schema(summary="List customers", responses={200: CustomerOutputSerializer(many=True), **PROBLEM_RESPONSES})
    def get(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(CustomerOutputSerializer(page, many=True).data)

    @extend_schema(
        summary="Create a customer, or return the one with this e-mail",
        request=CustomerCreateInputSerializer,
        responses={
            201: OpenApiResponse(CustomerOutputSerializer, description="Created."),
            200: OpenApiResponse(CustomerOutputSerializer, description="A customer with this e-mail exists."),
            **PROBLEM_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = CustomerCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration = services.customer_register(
            **serializer.validated_data, source=SignupSource.API, partner=request.user.partner
        )
        body = CustomerOutputSerializer(registration.customer).data
        if registration.created:
            location = request.build_absolute_uri(f"{request.path}{registration.customer.public_id}/")
            return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})
        return Response(body, status=status.HTTP_200_OK)


class CustomerDetailView(generics.GenericAPIView):
    required_scopes = {"GET": Scope.CUSTOMERS_READ, "PATCH": Scope.CUSTOMERS_WRITE}
    serializer_class = CustomerOutputSerializer

    def get_object(self) -> Customer:
        return get_object_or_404(selectors.customer_list(), public_id=self.kwargs["public_id"])

    @extend_schema(summary="Read a customer", responses={200: CustomerOutputSerializer, **PROBLEM_RESPONSES})
    def get(self, request: Request, public_id: str) -> Response:
        return Response(CustomerOutputSerializer(self.get_object()).data)

    @extend_schema(
        summary="Update a customer",
        request=CustomerUpdateInputSerializer,
        responses={200: CustomerOutputSerializer, **PROBLEM_RESPONSES},
    )
    def patch(self, request: Request, public_id: str) -> Response:
        customer = self.get_object()
        serializer = CustomerUpdateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.customer_update(
            customer=customer, source="api", partner=request.user.partner, **serializer.validated_data
        )
        return Response(CustomerOutputSerializer(self.get_object()).data)


class SegmentListView(generics.GenericAPIView):
    required_scopes = {"GET": Scope.SEGMENTS_READ}
    serializer_class = SegmentOutputSerializer

    def get_queryset(self) -> Any:
        return selectors.segment_list()

    @extend_schema(
        summary="List segments with their size and last refresh",
        responses={200: SegmentOutputSerializer(many=True), **PROBLEM_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SegmentOutputSerializer(page, many=True).data)
