"""The referral app's refusals: each with a stable ``code`` (the API's problem+json) and a message."""

from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, DomainError, NotFound


class UnknownReferralCode(NotFound):
    code = "unknown_referral_code"
    default_message = _("No member has this referral code.")


class SelfReferral(DomainError):
    code = "self_referral"
    status = 422
    default_message = _("Members cannot refer themselves.")


class AlreadyReferred(Conflict):
    code = "already_referred"
    default_message = _("This customer was already referred with another code.")


class NotANewCustomer(DomainError):
    code = "not_a_new_customer"
    status = 422
    default_message = _("Only a new customer, who has bought nothing yet, can be referred.")


class ReferralsClosed(Conflict):
    code = "referrals_closed"
    default_message = _("The referral programme is closed.")


class ReferralNotReviewable(Conflict):
    code = "referral_not_reviewable"
    default_message = _("Only a referral awaiting review (or still pending) can be approved or rejected.")


class ReasonRequired(DomainError):
    code = "reason_required"
    status = 422
    default_message = _("Say why.")
