from __future__ import annotations

from rest_framework import serializers

from campaigns.models import Campaign


class CampaignOutputSerializer(serializers.ModelSerializer):
    segment = serializers.CharField(source="segment.name", default=None)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "kind",
            "status",
            "segment",
            "starts_at",
            "ends_at",
            "launched_at",
            "completed_at",
            "holdout_percent",
            "audience_size",
            "holdout_size",
            "allocated_count",
            "gift_kind",
            "currency",
            "cost_per_gift",
            "budget",
            "spent",
            "stock",
        ]


class IntervalSerializer(serializers.Serializer):
    estimate = serializers.FloatField()
    low = serializers.FloatField()
    high = serializers.FloatField()


class GroupStatsSerializer(serializers.Serializer):
    size = serializers.IntegerField()
    buyers = serializers.IntegerField()
    purchases = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    reciprocation_rate = serializers.FloatField()
    revenue_per_customer = serializers.FloatField()
    frequency = serializers.FloatField()
    sample_conversion = serializers.FloatField(allow_null=True)


class WindowEffectSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    ends_at = serializers.DateTimeField()
    is_complete = serializers.BooleanField()
    treated = GroupStatsSerializer()
    holdout = GroupStatsSerializer()
    rate_uplift = IntervalSerializer(allow_null=True)
    revenue_uplift = IntervalSerializer(allow_null=True)
    incremental_revenue = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    points_cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    gift_cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    return_on_cost = serializers.FloatField(allow_null=True)


class CampaignEffectOutputSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    currency = serializers.CharField()
    launched_at = serializers.DateTimeField(allow_null=True)
    windows = WindowEffectSerializer(many=True)
