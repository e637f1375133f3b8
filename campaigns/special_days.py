"""Special customer days: a points multiplier for a window, for the campaign's treated audience.

At launch the treated recipients are frozen into a static segment (the holdout is not in it, so
it earns the normal rate and shows what the day brought), and a special-days earning rule limited
to that segment runs from ``starts_at`` to ``ends_at``. The announcement goes out through the
campaign's batches like any campaign message.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignRecipient
from customers.models import Customer
from customers.segments import segment_static_create
from loyalty import services as loyalty_services


def special_day_rule_create(*, campaign: Campaign) -> int:
    """Freeze the treated audience and create the window's multiplier; returns the rule's id.
    Call inside the launch transaction, after the snapshot."""
    if campaign.starts_at is None or campaign.ends_at is None:  # refused earlier by campaign_problems
        raise ValueError("A special day needs its window.")
    treated = CampaignRecipient.objects.filter(campaign=campaign, group=CampaignRecipient.Group.TREATED)
    segment = segment_static_create(
        name=_("%(campaign)s (#%(id)s): treated") % {"campaign": campaign.name[:70], "id": campaign.pk},
        customers=Customer.objects.filter(pk__in=treated.values("customer_id")),
        description=_("Frozen at the launch of the special day; the holdout is not in it."),
    )
    rule = loyalty_services.special_days_rule_create(
        name=campaign.name,
        multiplier=campaign.points_multiplier,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        segment=segment,
    )
    return rule.pk
