"""Every write of the loyalty app. Import from here: ``from loyalty import services``."""

from loyalty.services.earning_rules import special_days_rule_create
from loyalty.services.jobs import (
    pending_points_release_due,
    points_expire_all,
    tiers_evaluate_all,
    vouchers_expire_due,
)
from loyalty.services.ledger import account_lock, accounts_lock
from loyalty.services.points import points_adjust, points_claw_back, points_earn
from loyalty.services.purchases import PurchaseResult, RefundResult, purchase_record, refund_record
from loyalty.services.rewards import (
    CODE_ALPHABET,
    RedemptionResult,
    code_generate,
    code_normalise,
    reward_redeem,
    voucher_cancel,
    voucher_code_display,
    voucher_code_normalise,
    voucher_get_for_partner,
    voucher_issue,
    voucher_use,
)
from loyalty.services.stamps import stamps_collect
from loyalty.services.tiers import tier_set

__all__ = [
    "CODE_ALPHABET",
    "PurchaseResult",
    "RedemptionResult",
    "RefundResult",
    "account_lock",
    "accounts_lock",
    "code_generate",
    "code_normalise",
    "pending_points_release_due",
    "points_adjust",
    "points_claw_back",
    "points_earn",
    "points_expire_all",
    "purchase_record",
    "refund_record",
    "reward_redeem",
    "special_days_rule_create",
    "stamps_collect",
    "tier_set",
    "tiers_evaluate_all",
    "voucher_cancel",
    "voucher_code_display",
    "voucher_code_normalise",
    "voucher_get_for_partner",
    "voucher_issue",
    "voucher_use",
    "vouchers_expire_due",
]
