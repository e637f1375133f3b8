from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self) -> None:
        from customers.demo import register_demo_step
        from loyalty.demo import demo_loyalty_load
        from loyalty.portal.panels import home_panel_register
        from loyalty.segment_conditions import segment_conditions_register_loyalty

        home_panel_register()
        register_demo_step(order=10, name="loyalty", step=demo_loyalty_load)
        segment_conditions_register_loyalty()

        from loyalty.privacy import privacy_section_register

        privacy_section_register()
