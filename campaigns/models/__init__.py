"""The campaigns app's models, a module per concern: the automations, gifting campaigns, contests."""

from campaigns.models.automations import (
    BirthdayGift,
    BirthdayReward,
    BirthdaySettings,
    GratitudeAction,
    GratitudeRule,
    GratitudeTask,
    ThankYouSettings,
    WinBackOffer,
    WinBackSettings,
)
from campaigns.models.contests import ContestDraw, ContestEntry, ContestWinner
from campaigns.models.gifting import Campaign, CampaignRecipient, GiftKind, GiftOption, GiftPolicy

__all__ = [
    "BirthdayGift",
    "BirthdayReward",
    "BirthdaySettings",
    "Campaign",
    "CampaignRecipient",
    "ContestDraw",
    "ContestEntry",
    "ContestWinner",
    "GiftKind",
    "GiftOption",
    "GiftPolicy",
    "GratitudeAction",
    "GratitudeRule",
    "GratitudeTask",
    "ThankYouSettings",
    "WinBackOffer",
    "WinBackSettings",
]
