from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, DomainError


class EmailTaken(Conflict):
    code = "email_taken"
    default_message = _("Another customer already uses this e-mail address.")


class CustomerNotActive(DomainError):
    code = "customer_not_active"
    status = 409
    default_message = _("The customer is blocked or erased.")


class CustomerErased(CustomerNotActive):
    code = "customer_erased"
    default_message = _("This customer's data was erased; the record can no longer change.")


class UnknownScope(DomainError):
    code = "unknown_scope"
    default_message = _("Unknown API scope.")
