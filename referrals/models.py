"""Referral codes and links, referrals and their rewards, the programme's settings, link opens.

A member's ``ReferralCode`` is made lazily (``referrals.services.referral_code_for``). A friend who
signs up with it gets one ``Referral`` (a customer is referred once: ``friend`` is unique). The
referral waits (``pending``) for the friend's first purchase at or above the minimum within the
qualifying window; the fraud checks then either pass it (``qualified``, then ``rewarded`` once
both sides have their reward) or hold it for staff (``review``). Staff approve or reject it with a
reason; a pending referral whose window passed, or a rewarded one whose qualifying purchase was
refunded in full inside the window, ends ``rejected`` with the reason recorded.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.models import TimestampedModel


class ReferralProgram(models.Model):
    """The referral programme, as marketing staff set it up. One row (pk=1)."""

    is_enabled = models.BooleanField(
        _("referrals are open"), default=True, help_text=_("Off: no new referrals and no rewards.")
    )
    referrer_points = models.PositiveIntegerField(
        _("referrer's reward (points)"), default=200, help_text=_("For the member who shared the link. 0: none.")
    )
    referrer_reward = models.ForeignKey(
        "loyalty.Reward",
        verbose_name=_("referrer's reward (voucher)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Optional: a voucher for this catalogue reward as well."),
    )
    friend_points = models.PositiveIntegerField(
        _("friend's reward (points)"), default=100, help_text=_("For the new member. 0: none.")
    )
    friend_reward = models.ForeignKey(
        "loyalty.Reward",
        verbose_name=_("friend's reward (voucher)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Optional: a voucher for this catalogue reward as well."),
    )
    min_purchase = models.DecimalField(
        _("minimum qualifying purchase"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("20.00"),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    qualifying_days = models.PositiveSmallIntegerField(
        _("qualifying window (days)"),
        default=30,
        validators=[MinValueValidator(1)],
        help_text=_("The friend's qualifying purchase must come within this many days of signing up."),
    )
    monthly_cap = models.PositiveSmallIntegerField(
        _("rewarded referrals per member per month"),
        default=10,
        help_text=_("More than this waits for review. 0: no cap."),
    )
    attribution_days = models.PositiveSmallIntegerField(
        _("attribution window (days)"),
        default=30,
        validators=[MinValueValidator(1)],
        help_text=_("How long a browser that opened a referral link remembers the code."),
    )
    velocity_hours = models.PositiveSmallIntegerField(
        _("velocity window (hours)"), default=24, validators=[MinValueValidator(1)]
    )
    velocity_max_per_code = models.PositiveSmallIntegerField(
        _("sign-ups on one code in the velocity window"),
        default=5,
        validators=[MinValueValidator(1)],
        help_text=_("More sign-ups than this on one code send its referrals to review."),
    )
    velocity_max_per_address = models.PositiveSmallIntegerField(
        _("sign-ups from one network address in the velocity window"),
        default=3,
        validators=[MinValueValidator(1)],
        help_text=_("More referred sign-ups than this from one address send them to review."),
    )

    class Meta:
        verbose_name = _("referral programme")
        verbose_name_plural = _("referral programme")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="referrals_program_singleton")]

    def __str__(self) -> str:
        return str(_("Referral programme"))


class ReferralTierReward(models.Model):
    """A tier's own referrer reward: replaces the programme's referrer reward for members in the
    tier (so a higher tier can earn more for each friend)."""

    program = models.ForeignKey(ReferralProgram, on_delete=models.CASCADE, related_name="tier_rewards")
    tier = models.OneToOneField(
        "loyalty.Tier", verbose_name=_("tier"), on_delete=models.CASCADE, related_name="referral_reward"
    )
    referrer_points = models.PositiveIntegerField(_("referrer's reward (points)"), default=0)
    referrer_reward = models.ForeignKey(
        "loyalty.Reward",
        verbose_name=_("referrer's reward (voucher)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("referrer reward of a tier")
        verbose_name_plural = _("referrer rewards per tier")
        ordering = ["tier__rank"]

    def __str__(self) -> str:
        return str(self.tier)


class ReferralCode(models.Model):
    """A member's referral code: short, from an alphabet without look-alike characters, stored in
    upper case (looked up case-insensitively by normalising the input)."""

    customer = models.OneToOneField(
        "customers.Customer", verbose_name=_("member"), on_delete=models.CASCADE, related_name="referral_code"
    )
    code = models.CharField(_("code"), max_length=16, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")

    def __str__(self) -> str:
        return self.code


class ReferralLinkOpen(models.Model):
    """How many times a code's link was opened on a day: a counter, no personal data."""

    code = models.ForeignKey(ReferralCode, on_delete=models.CASCADE, related_name="opens")
    day = models.DateField(_("day"))
    opens = models.PositiveIntegerField(_("opens"), default=0)

    class Meta:
        verbose_name = _("referral link opens")
        verbose_name_plural = _("referral link opens")
        constraints = [models.UniqueConstraint(fields=["code", "day"], name="referrals_link_open_code_day")]
        indexes = [models.Index(fields=["day"], name="referrals_link_open_day")]

    def __str__(self) -> str:
        return f"{self.code_id} {self.day}: {self.opens}"


class FraudFlag(models.TextChoices):
    """Why a referral waits for review: each fraud check's stable code."""

    SAME_EMAIL = "same_email", _("Same e-mail as the referrer (ignoring case, dots and +tags)")
    SAME_PHONE = "same_phone", _("Same phone as the referrer")
    SAME_NAME = "same_name", _("Same full name as the referrer")
    SHARED_PAYMENT = "shared_payment", _("Paid with the referrer's payment details")
    SHARED_SHIPPING = "shared_shipping", _("Shipped to the referrer's address")
    EXISTING_CUSTOMER = "existing_customer", _("The friend was a customer already")
    PURCHASED_BEFORE = "purchased_before", _("The friend bought before signing up")
    CODE_VELOCITY = "code_velocity", _("Many sign-ups on this code in a short time")
    ADDRESS_VELOCITY = "address_velocity", _("Many sign-ups from one network address in a short time")
    MONTHLY_CAP = "monthly_cap", _("The referrer reached the monthly cap")


class Referral(TimestampedModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a qualifying purchase")
        REVIEW = "review", _("Awaiting review")
        QUALIFIED = "qualified", _("Qualified")
        REWARDED = "rewarded", _("Rewarded")
        REJECTED = "rejected", _("Rejected")

    class Reason(models.TextChoices):
        WINDOW_EXPIRED = "window_expired", _("No qualifying purchase within the window")
        REFUNDED = "refunded", _("The qualifying purchase was refunded in full")
        STAFF = "staff", _("Rejected by staff")

    class Source(models.TextChoices):
        PORTAL = "portal", _("Portal sign-up")
        API = "api", _("Partner API")
        ADMIN = "admin", _("Staff (admin)")
        DEMO = "demo", _("Demo data")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    referrer = models.ForeignKey(
        "customers.Customer", verbose_name=_("referrer"), on_delete=models.PROTECT, related_name="referrals_made"
    )
    friend = models.OneToOneField(
        "customers.Customer", verbose_name=_("friend"), on_delete=models.PROTECT, related_name="referral"
    )
    code = models.CharField(_("code used"), max_length=16)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    flags = models.JSONField(_("fraud checks that flagged it"), default=list, blank=True)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices, blank=True)
    note = models.TextField(_("staff note"), max_length=2000, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.PORTAL)
    partner = models.ForeignKey(
        "customers.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    address_hash = models.CharField(
        _("network address (hashed)"), max_length=64, blank=True, help_text=_("Only a keyed hash, for velocity checks.")
    )
    window_ends_at = models.DateTimeField(_("qualifying purchase by"))
    qualifying_purchase = models.ForeignKey(
        "loyalty.Purchase",
        verbose_name=_("qualifying purchase"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    qualified_at = models.DateTimeField(_("qualified"), null=True, blank=True)
    rewarded_at = models.DateTimeField(_("rewarded"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("rejected"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    referrer_points = models.PositiveIntegerField(_("referrer's points"), default=0)
    friend_points = models.PositiveIntegerField(_("friend's points"), default=0)
    referrer_voucher = models.ForeignKey(
        "loyalty.Voucher",
        verbose_name=_("referrer's voucher"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    friend_voucher = models.ForeignKey(
        "loyalty.Voucher",
        verbose_name=_("friend's voucher"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    clawed_back_at = models.DateTimeField(_("rewards taken back"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(referrer=F("friend")), name="referrals_not_self"),
        ]
        indexes = [
            models.Index(fields=["referrer", "status"], name="referrals_referrer_status"),
            models.Index(fields=["status", "window_ends_at"], name="referrals_status_window"),
            models.Index(fields=["code", "created_at"], name="referrals_code_time"),
            models.Index(
                fields=["address_hash", "created_at"], name="referrals_address_time", condition=~Q(address_hash="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.referrer_id} -> {self.friend_id}"


class ReferralAwaitingReview(Referral):
    """The review queue in the admin: referrals that a fraud check (or the cap) held back."""

    class Meta:
        proxy = True
        verbose_name = _("referral awaiting review")
        verbose_name_plural = _("referrals awaiting review")
