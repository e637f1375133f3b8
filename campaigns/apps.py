from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns.receivers import on_purchase_recorded
        from loyalty.signals import purchase_recorded

        purchase_recorded.connect(on_purchase_recorded, dispatch_uid="campaigns.thank_you")

        from campaigns.demo import demo_campaigns_load
        from customers.demo import register_demo_step

        register_demo_step(order=20, name="campaigns", step=demo_campaigns_load)

        from campaigns.demo_gifting import demo_gifting_load

        register_demo_step(order=25, name="gift campaigns", step=demo_gifting_load)
