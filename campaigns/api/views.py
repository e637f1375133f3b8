from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.api.serializers import CampaignEffectOutputSerializer, CampaignOutputSerializer
from campaigns.effect import campaign_effect
from campaigns.models import Campaign
from core.api.schema import PROBLEM_RESPONSES
from customers.models import Scope


class CampaignListView(generics.GenericAPIView):
    required_scopes = {"GET": Scope.CAMPAIGNS_READ}
    serializer_class = CampaignOutputSerializer

    def get_queryset(self) -> Any:
        return Campaign.objects.select_related("segment").order_by("-id")

    @extend_schema(
        summary="List campaigns with their audience, holdout and spend",
        responses={200: CampaignOutputSerializer(many=True), **PROBLEM_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CampaignOutputSerializer(page, many=True).data)


class CampaignEffectView(generics.GenericAPIView):
    required_scopes = {"GET": Scope.CAMPAIGNS_READ}
    serializer_class = CampaignEffectOutputSerializer

    @extend_schema(
        summary="A campaign's reciprocation effect: treated against holdout at 30, 60 and 90 days",
        responses={200: CampaignEffectOutputSerializer, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        return Response(CampaignEffectOutputSerializer(campaign_effect(campaign)).data)
