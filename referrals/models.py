"""Referral codes, referrals and fraud checks: built by the referrals issue."""
