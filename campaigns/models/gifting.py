"""Campaigns that give first and prove it: an audience snapshotted at launch, a random holdout that
gets nothing, a budget, a cost per gift and a stock that allocation never exceeds."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.models import TimestampedModel


class GiftPolicy(models.Model):
    """Limits that keep gifts special: per customer, across every campaign. One row (pk=1)."""

    window_days = models.PositiveSmallIntegerField(_("window (days)"), default=90, validators=[MinValueValidator(1)])
    max_gifts = models.PositiveSmallIntegerField(
        _("at most this many surprise gifts per customer in the window"), default=3
    )
    max_value = models.DecimalField(
        _("at most this gift value per customer in the window"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("60.00"),
        validators=[MinValueValidator(Decimal(0))],
    )

    class Meta:
        verbose_name = _("gift policy")
        verbose_name_plural = _("gift policy")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="campaigns_gift_policy_singleton")]

    def __str__(self) -> str:
        return str(_("Gift policy"))


def seed_new() -> str:
    """A fresh random seed for a holdout draw."""
    return secrets.token_hex(16)


class GiftKind(models.TextChoices):
    POINTS = "points", _("Bonus points")
    VOUCHER = "voucher", _("Voucher for a catalogue reward")
    PHYSICAL = "physical", _("Physical gift to ship")
    SAMPLE = "sample", _("Sample to ship")
    CHOICE = "choice", _("Customer's choice")
    NONE = "none", _("No gift (announcement)")


class CampaignQuerySet(models.QuerySet["Campaign"]):
    def launched(self) -> CampaignQuerySet:
        return self.exclude(launched_at=None)


class Campaign(TimestampedModel):
    """One give-first occasion for one audience.

    Lifecycle: draft -> scheduled (launches at ``starts_at``) -> running -> completed, or
    cancelled before it runs. Launching snapshots the audience into ``CampaignRecipient`` rows,
    draws the holdout from ``holdout_seed`` (so a retried launch draws the same set) and fans the
    treated recipients out to workers in batches.
    """

    class Kind(models.TextChoices):
        GIFT = "gift", _("Gift")
        SAMPLE = "sample", _("Sample")
        SPECIAL_DAY = "special_day", _("Special customer day")
        CONTEST = "contest", _("Contest or sweepstake")
        ANNOUNCEMENT = "announcement", _("Announcement")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.GIFT)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    details = models.TextField(
        _("details for the message"), blank=True, max_length=1000, help_text=_("Fills {details} in the message.")
    )
    segment = models.ForeignKey(
        "customers.Segment",
        verbose_name=_("audience"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Snapshotted at launch. Empty: every member."),
    )
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True, help_text=_("Empty: when launched."))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    holdout_percent = models.DecimalField(
        _("holdout (%)"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("10.0"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(50))],
        help_text=_("Drawn at random; they get nothing and are compared with the rest. 0-50."),
    )
    holdout_seed = models.CharField(_("holdout seed"), max_length=64, default=seed_new, editable=False)
    gift_kind = models.CharField(_("gift"), max_length=10, choices=GiftKind.choices, default=GiftKind.POINTS)
    gift_points = models.PositiveIntegerField(_("gift points"), default=0)
    gift_reward = models.ForeignKey(
        "loyalty.Reward",
        verbose_name=_("gift reward"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("For a voucher gift: the catalogue reward the voucher is for."),
    )
    gift_description = models.CharField(
        _("gift description"), max_length=200, blank=True, help_text=_("What the customer gets, in their words.")
    )
    introduces_skus = models.JSONField(
        _("full-size products (SKUs)"),
        default=list,
        blank=True,
        help_text=_("For a sample: the full-size products it introduces, as a list of SKUs."),
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    cost_per_gift = models.DecimalField(
        _("cost per gift"), max_digits=10, decimal_places=2, default=Decimal(0), validators=[MinValueValidator(0)]
    )
    budget = models.DecimalField(
        _("budget"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("Empty: no budget limit."),
    )
    stock = models.PositiveIntegerField(_("gift stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    is_surprise = models.BooleanField(
        _("counts towards the per-customer gift limits"),
        default=True,
        help_text=_("Surprise gifts are capped per customer (gift policy) so they never become routine."),
    )
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal(1))],
        help_text=_("Special customer day: points multiplier in the window, for the audience."),
    )
    choice_deadline = models.DateTimeField(
        _("choose by"), null=True, blank=True, help_text=_("Customer's choice: the preferred kind is given after this.")
    )
    # Contests
    entry_spend_unit = models.DecimalField(
        _("one entry per amount spent"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Contest: purchases in the window earn one entry per this amount. Empty: no purchase entries."),
    )
    portal_entry = models.BooleanField(_("entry from the portal"), default=True)
    prize_description = models.CharField(_("prize"), max_length=200, blank=True)
    winners_count = models.PositiveSmallIntegerField(_("winners"), default=1, validators=[MinValueValidator(1)])
    prize_points = models.PositiveIntegerField(_("prize points"), default=0)
    accept_days = models.PositiveSmallIntegerField(_("winners accept within (days)"), default=14)

    # Stamped by the launch and the allocation.
    launched_at = models.DateTimeField(_("launched"), null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True, editable=False)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    audience_size = models.PositiveIntegerField(_("audience"), default=0, editable=False)
    holdout_size = models.PositiveIntegerField(_("holdout"), default=0, editable=False)
    allocated_count = models.PositiveIntegerField(_("gifts allocated"), default=0, editable=False)
    spent = models.DecimalField(_("spent"), max_digits=12, decimal_places=2, default=Decimal(0), editable=False)
    earning_rule_id = models.PositiveIntegerField(null=True, blank=True, editable=False)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_percent__gte=0) & Q(holdout_percent__lte=50), name="campaigns_holdout_0_50"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(starts_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="campaigns_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(allocated_count__lte=F("stock")), name="campaigns_within_stock"
            ),
            models.CheckConstraint(
                condition=Q(budget__isnull=True) | Q(spent__lte=F("budget")), name="campaigns_within_budget"
            ),
        ]
        indexes = [models.Index(fields=["status", "starts_at"], name="campaigns_status_start")]

    def __str__(self) -> str:
        return self.name


class GiftOption(models.Model):
    """One kind of gift a customer may choose for a ``choice`` campaign; all of equal cost."""

    class Kind(models.TextChoices):
        DISCOUNT = "discount", _("Discount")
        FREE_SHIPPING = "free_shipping", _("Free shipping")
        GIFT = "gift", _("Gift")
        BONUS_POINTS = "bonus_points", _("Bonus points")
        CASHBACK = "cashback", _("Cashback")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="options")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    label = models.CharField(_("label"), max_length=120)
    points = models.PositiveIntegerField(_("points"), default=0, help_text=_("Bonus points and cashback."))
    reward = models.ForeignKey(
        "loyalty.Reward",
        verbose_name=_("reward"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Discount, free shipping and gift: the voucher's catalogue reward."),
    )

    class Meta:
        verbose_name = _("gift option")
        verbose_name_plural = _("gift options")
        ordering = ["campaign", "id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "kind"], name="campaigns_option_kind_once")]

    def __str__(self) -> str:
        return self.label


class CampaignRecipient(models.Model):
    """One customer of a launched campaign's audience: treated or held out, and what they got.

    Unique per (campaign, customer), so a retried launch or batch writes nothing twice.
    """

    class Group(models.TextChoices):
        TREATED = "treated", _("Treated")
        HOLDOUT = "holdout", _("Holdout")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        AWAITING_CHOICE = "awaiting_choice", _("Awaiting choice")
        GIVEN = "given", _("Given")
        HELD_OUT = "held_out", _("Held out")
        OUT_OF_STOCK = "out_of_stock", _("Not given: out of stock")
        OVER_BUDGET = "over_budget", _("Not given: budget spent")
        OVER_CAP = "over_cap", _("Not given: customer's gift limit")
        SKIPPED = "skipped", _("Not given: no longer a member")

    class Shipment(models.TextChoices):
        NONE = "", _("Nothing to ship")
        ALLOCATED = "allocated", _("Allocated")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        RETURNED = "returned", _("Returned")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="campaign_receipts")
    group = models.CharField(_("group"), max_length=8, choices=Group.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    cost = models.DecimalField(_("cost"), max_digits=10, decimal_places=2, default=Decimal(0))
    points = models.PositiveIntegerField(_("points given"), default=0)
    voucher = models.ForeignKey(
        "loyalty.Voucher", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("voucher")
    )
    option = models.ForeignKey(
        GiftOption, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("chosen gift")
    )
    chosen_at = models.DateTimeField(_("chosen"), null=True, blank=True)
    chosen_by_customer = models.BooleanField(_("chosen by the customer"), default=False)
    shipment = models.CharField(_("shipment"), max_length=10, choices=Shipment.choices, blank=True, default="")
    tracking_code = models.CharField(_("tracking code"), max_length=64, blank=True)
    shipment_updated_at = models.DateTimeField(_("shipment updated"), null=True, blank=True)
    given_at = models.DateTimeField(_("given"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        ordering = ["campaign", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaigns_recipient_once"),
        ]
        indexes = [
            models.Index(fields=["campaign", "group", "status"], name="campaigns_recipient_status"),
            models.Index(fields=["customer", "given_at"], name="campaigns_recipient_given"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.customer_id} ({self.group})"
