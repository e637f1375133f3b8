"""Every write of the referrals app. Import from here: ``from referrals import services``."""

from referrals.services.attach import ReferralAttached, referral_attach
from referrals.services.codes import (
    referral_code_find,
    referral_code_for,
    referral_code_normalise,
    referral_link,
    referral_link_open,
)
from referrals.services.join import Joined, member_join
from referrals.services.rewards import (
    friend_display_name,
    referral_approve,
    referral_claw_back,
    referral_process,
    referral_qualify,
    referral_reject,
    referral_reward,
    reward_key,
)
from referrals.services.sweep import referrals_expire, referrals_to_claw_back, referrals_to_process

__all__ = [
    "Joined",
    "ReferralAttached",
    "friend_display_name",
    "member_join",
    "referral_approve",
    "referral_attach",
    "referral_claw_back",
    "referral_code_find",
    "referral_code_for",
    "referral_code_normalise",
    "referral_link",
    "referral_link_open",
    "referral_process",
    "referral_qualify",
    "referral_reject",
    "referral_reward",
    "referrals_expire",
    "referrals_to_claw_back",
    "referrals_to_process",
    "reward_key",
]
