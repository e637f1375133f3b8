"""Connections between apps that may not import each other (campaigns and referrals), made here in
the composition root: a rewarded referral becomes a gratitude task for staff."""

from django.apps import AppConfig


class WiringConfig(AppConfig):
    name = "config"
    label = "config_wiring"
    verbose_name = "Wiring"

    def ready(self) -> None:
        from campaigns.receivers import on_referral_rewarded
        from referrals.signals import referral_rewarded

        referral_rewarded.connect(on_referral_rewarded, dispatch_uid="config.referral_gratitude")
