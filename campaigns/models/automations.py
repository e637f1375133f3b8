"""The give-first automations: the thank-you after a purchase, birthday rewards, win-back, gratitude tasks."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
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
    feedback_reward_points = models.PositiveIntegerField(
        _("points for answering the survey"),
        default=25,
        help_text=_("Given for taking part, whatever the answer. 0: none."),
    )

    class Meta:
        verbose_name = _("thank-you automation")
        verbose_name_plural = _("thank-you automation")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="campaigns_thank_you_singleton")]

    def __str__(self) -> str:
        return str(_("Thank-you automation"))


class BirthdaySettings(models.Model):
    """The birthday automation. One row (pk=1); the gift per tier is in ``BirthdayGift``."""

    is_enabled = models.BooleanField(_("give birthday rewards"), default=True)
    days_ahead = models.PositiveSmallIntegerField(
        _("days ahead"), default=0, validators=[MaxValueValidator(30)], help_text=_("0: on the birthday itself.")
    )
    send_hour = models.PositiveSmallIntegerField(
        _("hour (local time)"),
        default=9,
        validators=[MaxValueValidator(23)],
        help_text=_("Rewards and greetings go out from this hour of the customer's local day."),
    )
    gift_points = models.PositiveIntegerField(
        _("gift (points)"), default=100, help_text=_("For customers in a tier without a gift of its own. 0: none.")
    )
    gift_reward = models.ForeignKey(
        "loyalty.Reward",
        verbose_name=_("gift (voucher)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Optional: a voucher for this reward, for customers in a tier without a gift of its own."),
    )

    class Meta:
        verbose_name = _("birthday automation")
        verbose_name_plural = _("birthday automation")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="campaigns_birthday_singleton"),
            models.CheckConstraint(condition=Q(send_hour__lte=23), name="campaigns_birthday_send_hour"),
        ]

    def __str__(self) -> str:
        return str(_("Birthday automation"))


class BirthdayGift(models.Model):
    """The birthday gift of one tier: points, a voucher, or both. Customers in a tier without a
    row (or in no tier) get the default gift of ``BirthdaySettings``."""

    settings = models.ForeignKey(BirthdaySettings, on_delete=models.CASCADE, related_name="gifts")
    tier = models.OneToOneField(
        "loyalty.Tier", verbose_name=_("tier"), on_delete=models.CASCADE, related_name="birthday_gift"
    )
    points = models.PositiveIntegerField(_("points"), default=0)
    reward = models.ForeignKey(
        "loyalty.Reward",
        verbose_name=_("voucher for"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("birthday gift")
        verbose_name_plural = _("birthday gifts per tier")
        ordering = ["tier__rank"]

    def __str__(self) -> str:
        return str(self.tier)


class BirthdayReward(models.Model):
    """A birthday celebrated: one row per customer and year, written before anything is granted,
    so retries and parallel workers cannot reward a birthday twice."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="birthday_rewards"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    birthday = models.DateField(_("birthday celebrated"))
    points = models.PositiveIntegerField(_("points"), default=0)
    voucher = models.ForeignKey(
        "loyalty.Voucher", verbose_name=_("voucher"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.ForeignKey(
        "customers.Message",
        verbose_name=_("message"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("granted"), auto_now_add=True)

    class Meta:
        verbose_name = _("birthday reward")
        verbose_name_plural = _("birthday rewards")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["customer", "year"], name="campaigns_birthday_once_a_year")]

    def __str__(self) -> str:
        return f"{self.customer} ({self.year})"


class WinBackSettings(models.Model):
    """The win-back automation: a give-first offer to customers who stopped coming. One row (pk=1)."""

    is_enabled = models.BooleanField(_("send win-back offers"), default=True)
    inactive_days = models.PositiveSmallIntegerField(
        _("no purchase in (days)"), default=90, validators=[MinValueValidator(1)]
    )
    gift_points = models.PositiveIntegerField(_("gift (points)"), default=100, help_text=_("0: none."))
    gift_reward = models.ForeignKey(
        "loyalty.Reward",
        verbose_name=_("gift (voucher)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("win-back automation")
        verbose_name_plural = _("win-back automation")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="campaigns_win_back_singleton"),
            models.CheckConstraint(condition=Q(inactive_days__gte=1), name="campaigns_win_back_inactive_days"),
        ]

    def __str__(self) -> str:
        return str(_("Win-back automation"))


class WinBackOffer(models.Model):
    """A win-back offer made once per lapse: the lapse is named by the date of the last purchase
    before it, so a customer who comes back and lapses again gets a new one."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="win_back_offers"
    )
    lapse_started = models.DateField(_("last purchase before the lapse"))
    points = models.PositiveIntegerField(_("points"), default=0)
    voucher = models.ForeignKey(
        "loyalty.Voucher", verbose_name=_("voucher"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.ForeignKey(
        "customers.Message",
        verbose_name=_("message"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("offered"), auto_now_add=True)

    class Meta:
        verbose_name = _("win-back offer")
        verbose_name_plural = _("win-back offers")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "lapse_started"], name="campaigns_win_back_once_per_lapse")
        ]

    def __str__(self) -> str:
        return f"{self.customer} ({self.lapse_started})"


class GratitudeAction(models.TextChoices):
    CALL = "call", _("Call")
    HANDWRITTEN_NOTE = "handwritten_note", _("Handwritten note")
    GIFT_IN_PERSON = "gift_in_person", _("Small gift in person")


class GratitudeRuleQuerySet(models.QuerySet["GratitudeRule"]):
    def active(self) -> GratitudeRuleQuerySet:
        return self.filter(is_active=True)


class GratitudeRule(models.Model):
    """An event the business chose to answer with a personal gesture from a staff member."""

    class Event(models.TextChoices):
        FIRST_PURCHASE = "first_purchase", _("First purchase")
        NTH_PURCHASE = "nth_purchase", _("Nth purchase")
        BIG_ORDER = "big_order", _("Big order")
        REFERRAL = "referral", _("A friend referred")
        FEEDBACK = "feedback", _("Feedback given")

    name = models.CharField(_("name"), max_length=120)
    is_active = models.BooleanField(_("active"), default=True)
    event = models.CharField(_("event"), max_length=20, choices=Event.choices)
    purchase_number = models.PositiveIntegerField(
        _("purchase number"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("For the Nth purchase: which purchase, e.g. 10."),
    )
    min_amount = models.DecimalField(
        _("minimum amount"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("For a big order: purchases of at least this amount."),
    )
    action = models.CharField(_("action"), max_length=20, choices=GratitudeAction.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"is_staff": True},
        help_text=_("Empty: the tasks are unassigned."),
    )
    due_in_days = models.PositiveSmallIntegerField(_("due in (days)"), default=3)

    objects = GratitudeRuleQuerySet.as_manager()

    class Meta:
        verbose_name = _("gratitude rule")
        verbose_name_plural = _("gratitude rules")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(event="nth_purchase") | Q(purchase_number__gte=1),
                name="campaigns_gratitude_nth_has_number",
            ),
            models.CheckConstraint(
                condition=~Q(event="big_order") | Q(min_amount__gt=0),
                name="campaigns_gratitude_big_order_has_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.event == self.Event.NTH_PURCHASE and not self.purchase_number:
            raise ValidationError({"purchase_number": _("Say which purchase, e.g. 10.")})
        if self.event == self.Event.BIG_ORDER and not self.min_amount:
            raise ValidationError({"min_amount": _("Say from which amount an order is big.")})


class GratitudeTask(models.Model):
    """A personal thank-you for a staff member to do, made once per rule, customer and purchase."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        SKIPPED = "skipped", _("Skipped")

    rule = models.ForeignKey(GratitudeRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="tasks")
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="gratitude_tasks"
    )
    purchase = models.ForeignKey(
        "loyalty.Purchase",
        verbose_name=_("purchase"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="gratitude_tasks",
    )
    source_key = models.CharField(
        _("occasion"), max_length=64, blank=True, help_text=_("For events without a purchase, e.g. referral:12.")
    )
    action = models.CharField(_("action"), max_length=20, choices=GratitudeAction.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="gratitude_tasks",
        limit_choices_to={"is_staff": True},
    )
    due_on = models.DateField(_("due on"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    outcome_note = models.TextField(_("outcome"), blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    done_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("gratitude task")
        verbose_name_plural = _("gratitude tasks")
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "customer", "purchase"], name="campaigns_gratitude_task_once"),
            models.UniqueConstraint(
                fields=["rule", "customer", "source_key"],
                condition=Q(purchase__isnull=True),
                name="campaigns_gratitude_task_once_per_occasion",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_on"], name="campaigns_gratitude_open_due")]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.customer} ({self.due_on})"
