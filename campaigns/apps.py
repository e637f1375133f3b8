from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns.receivers import on_feedback_given, on_purchase_recorded, on_purchase_recorded_contests
        from customers.signals import feedback_given
        from loyalty.signals import purchase_recorded

        purchase_recorded.connect(on_purchase_recorded, dispatch_uid="campaigns.thank_you")
        purchase_recorded.connect(on_purchase_recorded_contests, dispatch_uid="campaigns.contest_entries")
        feedback_given.connect(on_feedback_given, dispatch_uid="campaigns.feedback_reward")

        from campaigns.demo import demo_campaigns_load
        from customers.demo import register_demo_step

        register_demo_step(order=20, name="campaigns", step=demo_campaigns_load)

        from campaigns.demo_gifting import demo_gifting_load

        register_demo_step(order=25, name="gift campaigns", step=demo_gifting_load)

        from campaigns.demo_contests import demo_contest_load

        register_demo_step(order=26, name="contests and gift choices", step=demo_contest_load)

        from campaigns.demo import demo_history_load

        # Last: the month of history replays the automations over every purchase the demo made.
        register_demo_step(order=90, name="campaigns history", step=demo_history_load)

        from campaigns.portal.panels import portal_panels_register

        portal_panels_register()

        from campaigns.privacy import privacy_section_register

        privacy_section_register()
