from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = _("Referrals")

    def ready(self) -> None:
        from customers.demo import register_demo_step
        from loyalty.signals import purchase_recorded, purchase_refunded
        from referrals.demo import demo_referrals_load
        from referrals.portal.panels import home_panel_register
        from referrals.receivers import on_purchase_recorded, on_purchase_refunded
        from referrals.segment_conditions import segment_conditions_register_referrals

        purchase_recorded.connect(on_purchase_recorded, dispatch_uid="referrals.qualify")
        purchase_refunded.connect(on_purchase_refunded, dispatch_uid="referrals.claw_back")
        segment_conditions_register_referrals()
        home_panel_register()
        register_demo_step(order=30, name="referrals", step=demo_referrals_load)

        from referrals.privacy import privacy_section_register

        privacy_section_register()
