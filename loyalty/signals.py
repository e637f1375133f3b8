"""Domain events of the loyalty app. Sent on commit (core.events.emit_on_commit), ids only.

purchase_recorded(purchase_id, customer_id)
    A new purchase was recorded (not sent for a repeated request).
points_changed(customer_id, entry_id)
    A ledger entry moved the customer's balance.
tier_changed(customer_id, from_tier_id, to_tier_id, reason)
    The customer's tier changed (reason: upgrade, downgrade or staff).
voucher_issued(voucher_id, customer_id)
voucher_redeemed(voucher_id, customer_id)
purchase_refunded(purchase_id, refund_id, customer_id)
"""

from django.dispatch import Signal

purchase_recorded = Signal()
purchase_refunded = Signal()
points_changed = Signal()
tier_changed = Signal()
voucher_issued = Signal()
voucher_redeemed = Signal()
