"""Give-first automations and campaigns. Today: the thank-you after a purchase."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ThankYouSettings(models.Model):
    """The thank-you automation, as marketing staff set it up. One row (pk=1)."""

    is_enabled = models.BooleanField(_("send thank-you messages"), default=True)
    delay_minutes = models.PositiveIntegerField(
        _("delay (minutes)"), default=30, help_text=_("How long after the purchase the thank-you goes out.")
    )
    min_amount = models.DecimalField(
        _("minimum purchase"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("5.00"),
        validators=[MinValueValidator(Decimal(0))],
    )
    cooldown_days = models.PositiveSmallIntegerField(_("at most one thank-you per customer in (days)"), default=14)
    gift_points = models.PositiveIntegerField(_("thank-you gift (points)"), default=0, help_text=_("0: no gift."))
    gift_min_amount = models.DecimalField(
        _("gift from a purchase of"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("100.00"),
        validators=[MinValueValidator(Decimal(0))],
    )

    class Meta:
        verbose_name = _("thank-you automation")
        verbose_name_plural = _("thank-you automation")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="campaigns_thank_you_singleton")]

    def __str__(self) -> str:
        return str(_("Thank-you automation"))
