from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from customers.api import schema  # noqa: F401 - registers the OpenAPI auth extension
        from customers.segments import segment_conditions_register_customers

        segment_conditions_register_customers()
