"""Domain events of the referrals app. Sent on commit (core.events.emit_on_commit), ids only.

referral_rewarded(referral_id, referrer_id, friend_id)
    A referral was rewarded: both sides have their reward (points, voucher) and their message is
    queued. Sent once per referral (the status flip to ``rewarded`` happens once, under its row
    lock); not sent for a repeated task or sweep.
"""

from django.dispatch import Signal

referral_rewarded = Signal()
