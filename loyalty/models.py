"""Purchases and refunds, the points ledger, tiers, earning rules, rewards and vouchers.

The ledger: ``LedgerEntry`` rows are append-only; ``PointsAccount.balance`` is a cached sum of
them, moved in the same transaction under a row lock and guarded by ``CHECK (balance >= 0)``.
Positive entries open a ``PointsLot`` (what is left of them, and when it expires); debits consume
lots nearest to expiry first and record each ``LotConsumption``, so a reversal gives back exactly
the points it took. ``manage.py verify_ledger`` re-derives every cached number.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import TimestampedModel
from customers.models import Customer, Partner


class Program(models.Model):
    """The loyalty programme's settings, editable by staff. One row (pk=1)."""

    class TierMeasure(models.TextChoices):
        POINTS_EARNED = "points_earned", _("Points earned")
        SPEND = "spend", _("Spend")

    class OverspendPolicy(models.TextChoices):
        OWE = "owe", _("Carry as points owed, repaid from future earnings")
        WRITE_OFF = "write_off", _("Write off with a visible ledger entry")

    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    point_value = models.DecimalField(
        _("value of one point"),
        max_digits=8,
        decimal_places=4,
        default=Decimal("0.01"),
        validators=[MinValueValidator(Decimal("0.0001"))],
        help_text=_("In the programme's currency; used for cashback and reports."),
    )
    points_expiry_months = models.PositiveSmallIntegerField(
        _("points expire after (months)"), default=24, help_text=_("0: points never expire.")
    )
    tier_measure = models.CharField(
        _("tier qualification"), max_length=16, choices=TierMeasure.choices, default=TierMeasure.POINTS_EARNED
    )
    tier_window_months = models.PositiveSmallIntegerField(_("tier window (months)"), default=12)
    tier_grace_days = models.PositiveSmallIntegerField(_("downgrade grace period (days)"), default=30)
    pending_points_enabled = models.BooleanField(
        _("pending points"), default=False, help_text=_("Points become spendable only after the return window.")
    )
    return_window_days = models.PositiveSmallIntegerField(_("return window (days)"), default=14)
    refund_overspend_policy = models.CharField(
        _("when refunded points were already spent"),
        max_length=10,
        choices=OverspendPolicy.choices,
        default=OverspendPolicy.OWE,
    )
    expiry_warning_days = models.PositiveSmallIntegerField(_("warn about expiring points (days ahead)"), default=30)

    class Meta:
        verbose_name = _("programme settings")
        verbose_name_plural = _("programme settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="loyalty_program_singleton")]

    def __str__(self) -> str:
        return str(_("Programme settings"))


class Tier(models.Model):
    """A level reached by points earned or spend in a rolling window."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("0 is the entry level."))
    threshold = models.DecimalField(
        _("threshold"),
        max_digits=12,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("Points earned or money spent in the window to reach this tier."),
    )
    multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    perks = models.TextField(_("perks"), blank=True, help_text=_("One perk per line, shown to the customer."))

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]

    def __str__(self) -> str:
        return self.name

    @property
    def perk_list(self) -> list[str]:
        return [line.strip() for line in self.perks.splitlines() if line.strip()]


class PointsAccount(models.Model):
    customer = models.OneToOneField(Customer, on_delete=models.PROTECT, related_name="points_account")
    balance = models.IntegerField(_("balance"), default=0)
    lifetime_earned = models.IntegerField(_("lifetime earned"), default=0)
    owed = models.IntegerField(_("points owed"), default=0, help_text=_("Refunded points already spent."))
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    tier_since = models.DateTimeField(_("in tier since"), null=True, blank=True)
    tier_grace_until = models.DateTimeField(_("downgrade grace until"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="loyalty_account_balance_not_negative"),
            models.CheckConstraint(condition=Q(owed__gte=0), name="loyalty_account_owed_not_negative"),
            models.CheckConstraint(condition=Q(lifetime_earned__gte=0), name="loyalty_account_lifetime_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {self.balance}"


class Purchase(models.Model):
    class Channel(models.TextChoices):
        STORE = "store", _("Store")
        WEB = "web", _("Web shop")
        APP = "app", _("App")
        OTHER = "other", _("Other")

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="purchases")
    external_id = models.CharField(_("external id"), max_length=100)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="purchases")
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    occurred_at = models.DateTimeField(_("occurred at"))
    store = models.CharField(_("store"), max_length=100, blank=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.STORE)
    refunded_amount = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, default=Decimal(0))
    points_earned = models.IntegerField(_("points earned"), default=0)
    points_pending = models.BooleanField(_("points pending"), default=False)
    balance_after = models.IntegerField(_("balance after"), default=0)
    tier_after = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    earn_breakdown = models.JSONField(_("how the points were earned"), default=list, blank=True)
    payload_hash = models.CharField(max_length=64, editable=False)
    payment_fingerprint = models.CharField(_("payment fingerprint"), max_length=64, blank=True)
    shipping_fingerprint = models.CharField(_("shipping fingerprint"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        constraints = [
            models.UniqueConstraint(fields=["partner", "external_id"], name="loyalty_purchase_partner_external_id"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="loyalty_purchase_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=models.F("amount")),
                name="loyalty_purchase_refund_within_amount",
            ),
        ]
        indexes = [models.Index(fields=["customer", "occurred_at"], name="loyalty_purchase_cust_time")]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.amount} {self.currency})"

    @property
    def remaining_amount(self) -> Decimal:
        return self.amount - self.refunded_amount


class PurchaseLine(models.Model):
    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(_("SKU"), max_length=64)
    category = models.CharField(_("category"), max_length=64, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("purchase line")
        verbose_name_plural = _("purchase lines")

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class Refund(models.Model):
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="refunds")
    external_id = models.CharField(_("external id"), max_length=100)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    points_reversed = models.IntegerField(_("points reversed"), default=0)
    points_owed = models.IntegerField(_("points owed"), default=0)
    points_written_off = models.IntegerField(_("points written off"), default=0)
    payload_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.UniqueConstraint(fields=["purchase", "external_id"], name="loyalty_refund_purchase_external_id"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="loyalty_refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.amount})"


class LedgerEntry(models.Model):
    """One change of a points balance. Append-only: a correction is a new entry."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        BONUS = "bonus", _("Bonus")
        REDEEM = "redeem", _("Redeemed")
        REFUND = "refund", _("Refund")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Adjustment")
        GIFT = "gift", _("Gift")
        BIRTHDAY = "birthday", _("Birthday")
        REFERRAL = "referral", _("Referral")
        REPAY = "repay", _("Owed points repaid")
        WRITE_OFF = "write_off", _("Written off")

    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    amount = models.IntegerField(_("points"))
    balance_after = models.IntegerField(_("balance after"))
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    reverses = models.ForeignKey(
        "self", verbose_name=_("reverses"), on_delete=models.PROTECT, null=True, blank=True, related_name="reversals"
    )
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    voucher = models.ForeignKey("loyalty.Voucher", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        indexes = [models.Index(fields=["account", "-id"], name="loyalty_entry_account_id")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d}"


class PointsLot(models.Model):
    """What is left of one positive entry, and when it expires. Debits consume lots in expiry order."""

    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="lots")
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="lot")
    initial = models.IntegerField()
    remaining = models.IntegerField()
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("initial")),
                name="loyalty_lot_remaining_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "expires_at", "id"], name="loyalty_lot_open", condition=Q(remaining__gt=0)),
            models.Index(fields=["expires_at"], name="loyalty_lot_expiring", condition=Q(remaining__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.initial}"


class LotConsumption(models.Model):
    """A debit entry took ``points`` from a lot (append-only; a reversal gives them back)."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="consumptions")
    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="consumptions")
    points = models.IntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(points__gt=0), name="loyalty_consumption_positive")]

    def __str__(self) -> str:
        return f"{self.points} from lot {self.lot_id}"


class PendingPoints(models.Model):
    """Points from a purchase waiting out the return window (when pending points are on)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RELEASED = "released", _("Released")
        CANCELLED = "cancelled", _("Cancelled")

    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="pending")
    purchase = models.OneToOneField(Purchase, on_delete=models.PROTECT, related_name="pending_points")
    points = models.IntegerField()
    available_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)

    class Meta:
        indexes = [models.Index(fields=["available_at"], name="loyalty_pending_due", condition=Q(status="pending"))]

    def __str__(self) -> str:
        return f"{self.points} ({self.get_status_display()})"


class TierChange(models.Model):
    class Reason(models.TextChoices):
        UPGRADE = "upgrade", _("Upgrade")
        DOWNGRADE = "downgrade", _("Downgrade")
        STAFF = "staff", _("Set by staff")

    account = models.ForeignKey(PointsAccount, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    qualifying_value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_tier} -> {self.to_tier}"


class EarningRule(TimestampedModel):
    """One way to earn points. See ``loyalty.earning`` for the stacking order."""

    class Kind(models.TextChoices):
        BASE_RATE = "base_rate", _("Base rate per currency unit")
        CATEGORY_BONUS = "category", _("Category bonus")
        SKU_BONUS = "sku", _("Product (SKU) bonus")
        SPECIAL_DAYS = "special_days", _("Special days multiplier")
        FIRST_PURCHASE = "first_purchase", _("First purchase bonus")
        BIRTHDAY_MONTH = "birthday_month", _("Birthday month multiplier")
        CASHBACK = "cashback", _("Cashback as points")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    is_active = models.BooleanField(_("active"), default=True)
    points_per_unit = models.DecimalField(
        _("points per currency unit"),
        max_digits=8,
        decimal_places=2,
        default=Decimal(0),
        help_text=_("Base rate, and category or product bonus per currency unit spent on matching lines."),
    )
    multiplier = models.DecimalField(
        _("multiplier"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("1.00"),
        help_text=_("Special days and birthday month."),
    )
    bonus_points = models.PositiveIntegerField(_("bonus points"), default=0, help_text=_("First purchase bonus."))
    percent = models.DecimalField(
        _("cashback percent"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        help_text=_("Cashback: this share of the amount paid, turned into points at the point value."),
    )
    category = models.CharField(_("category"), max_length=64, blank=True)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    tiers = models.ManyToManyField(
        Tier, verbose_name=_("only for tiers"), blank=True, related_name="+", help_text=_("Empty: every tier.")
    )
    segment = models.ForeignKey(
        "customers.Segment",
        verbose_name=_("only for the segment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Special days: only the segment's members. Empty: everyone."),
    )

    class Meta:
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class StampCard(TimestampedModel):
    """Buy ``stamps_required`` items in a category (or of a SKU), get a reward voucher ("10+1")."""

    name = models.CharField(_("name"), max_length=100)
    category = models.CharField(_("category"), max_length=64, blank=True)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    stamps_required = models.PositiveSmallIntegerField(
        _("stamps for a reward"), default=10, validators=[MinValueValidator(1)]
    )
    reward = models.ForeignKey("loyalty.Reward", on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("stamp card")
        verbose_name_plural = _("stamp cards")

    def __str__(self) -> str:
        return self.name


class StampProgress(models.Model):
    card = models.ForeignKey(StampCard, on_delete=models.CASCADE, related_name="progress")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="stamp_progress")
    stamps = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["card", "customer"], name="loyalty_stamp_card_customer")]

    def __str__(self) -> str:
        return f"{self.stamps}/{self.card.stamps_required}"


class Reward(TimestampedModel):
    class Kind(models.TextChoices):
        FIXED_DISCOUNT = "fixed_discount", _("Fixed discount")
        PERCENT_DISCOUNT = "percent_discount", _("Percent discount")
        FREE_SHIPPING = "free_shipping", _("Free shipping")
        GIFT = "gift", _("Gift")
        PRODUCT = "product", _("Product")
        SAMPLE = "sample", _("Sample")

    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    points_cost = models.PositiveIntegerField(_("points cost"))
    value = models.DecimalField(
        _("value"),
        max_digits=10,
        decimal_places=2,
        default=Decimal(0),
        help_text=_("Money off, or percent for a percent discount."),
    )
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    min_tier = models.ForeignKey(
        Tier, verbose_name=_("lowest tier"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    valid_from = models.DateTimeField(_("available from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("available until"), null=True, blank=True)
    voucher_valid_days = models.PositiveSmallIntegerField(_("voucher valid for (days)"), default=60)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["points_cost", "name"]

    def __str__(self) -> str:
        return self.name


class Voucher(models.Model):
    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued")
        REDEEMED = "redeemed", _("Redeemed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    class Source(models.TextChoices):
        REDEMPTION = "redemption", _("Points redemption")
        STAMP_CARD = "stamp_card", _("Stamp card")
        GIFT = "gift", _("Gift")

    code = models.CharField(_("code"), max_length=16, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="vouchers")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, null=True, blank=True, related_name="vouchers")
    kind = models.CharField(_("kind"), max_length=16, choices=Reward.Kind.choices)
    value = models.DecimalField(_("value"), max_digits=10, decimal_places=2, default=Decimal(0))
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ISSUED)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, default=Source.REDEMPTION)
    points_spent = models.PositiveIntegerField(_("points spent"), default=0)
    issued_by = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    idempotency_key = models.CharField(max_length=120, unique=True)
    payload_hash = models.CharField(max_length=64, blank=True, editable=False)
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    redeemed_at = models.DateTimeField(_("used"), null=True, blank=True)
    redeemed_by = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    redeemed_order_id = models.CharField(_("order"), max_length=100, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        indexes = [models.Index(fields=["customer", "-issued_at"], name="loyalty_voucher_customer")]

    def __str__(self) -> str:
        return self.code
