from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, DomainError, NotFound


class InsufficientPoints(Conflict):
    code = "insufficient_points"
    default_message = _("Not enough points.")


class PayloadConflict(Conflict):
    code = "idempotency_conflict"
    default_message = _("This id was already used with a different payload.")


class RefundExceedsPurchase(DomainError):
    code = "refund_exceeds_purchase"
    default_message = _("The refund is larger than what remains of the purchase.")


class UnknownCurrency(DomainError):
    code = "unknown_currency"
    default_message = _("This currency is not accepted by the programme.")


class RewardUnavailable(Conflict):
    code = "reward_unavailable"
    default_message = _("This reward is not available now.")


class OutOfStock(Conflict):
    code = "out_of_stock"
    default_message = _("This reward is out of stock.")


class NotEligible(Conflict):
    code = "not_eligible"
    default_message = _("This reward needs a higher tier.")


class VoucherNotFound(NotFound):
    code = "voucher_not_found"
    default_message = _("No such voucher.")


class VoucherAlreadyUsed(Conflict):
    code = "voucher_already_used"
    default_message = _("This voucher was already used for another order.")


class VoucherExpired(Conflict):
    code = "voucher_expired"
    default_message = _("This voucher has expired.")


class VoucherCancelled(Conflict):
    code = "voucher_cancelled"
    default_message = _("This voucher was cancelled.")


class VoucherNotCancellable(Conflict):
    code = "voucher_not_cancellable"
    default_message = _("Only an unused voucher can be cancelled.")


class CustomerInactive(Conflict):
    code = "customer_not_active"
    default_message = _("The customer is blocked or erased.")
