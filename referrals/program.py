"""The referral programme's settings row (created with its defaults when missing)."""

from __future__ import annotations

from referrals.models import ReferralProgram


def referral_program_get() -> ReferralProgram:
    return ReferralProgram.objects.get_or_create(pk=1)[0]
