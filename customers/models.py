"""The CRM core: customers, their consents, tags and notes, and the partner systems."""

from __future__ import annotations

import uuid
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from core.models import TimestampedModel


class User(AbstractUser):
    """A login: staff in the admin, or a customer in the portal (linked from ``Customer.user``)."""

    class Meta(AbstractUser.Meta):
        pass


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    FINNISH = "fi", _("Finnish")
    RUSSIAN = "ru", _("Russian")


class RewardKind(models.TextChoices):
    DISCOUNT = "discount", _("Discount")
    FREE_SHIPPING = "free_shipping", _("Free shipping")
    GIFT = "gift", _("Gift")
    BONUS_POINTS = "bonus_points", _("Bonus points")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")


class ConsentSource(models.TextChoices):
    API = "api", _("Partner API")
    PORTAL = "portal", _("Portal")
    ADMIN = "admin", _("Staff (admin)")
    IMPORT = "import", _("Import")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe link")
    ERASURE = "erasure", _("Account erasure")


class SignupSource(models.TextChoices):
    API = "api", _("Partner API")
    PORTAL = "portal", _("Portal sign-up")
    ADMIN = "admin", _("Staff (admin)")
    IMPORT = "import", _("Import")
    REFERRAL = "referral", _("Referral")
    DEMO = "demo", _("Demo data")


phone_validator = RegexValidator(
    r"^\+[1-9][0-9]{6,14}$", _("Enter the phone number in international format, e.g. +358401234567.")
)


def validate_time_zone(value: str) -> None:
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(value)s."), params={"value": value}, code="invalid_time_zone")


class Tag(models.Model):
    """A label or interest (``coffee``, ``vip-event``) that segments and campaigns can target."""

    name = models.CharField(_("name"), max_length=50)
    is_interest = models.BooleanField(
        _("an interest customers can choose"),
        default=False,
        help_text=_("Shown in the portal's profile, where customers tick their interests. Other tags stay staff-only."),
    )

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="customers_tag_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


class CustomerQuerySet(models.QuerySet["Customer"]):
    def active(self) -> CustomerQuerySet:
        return self.filter(status=Customer.Status.ACTIVE)


class Customer(TimestampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        BLOCKED = "blocked", _("Blocked")
        ERASED = "erased", _("Erased")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("portal login"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customer",
    )
    email = models.EmailField(_("e-mail"), max_length=254)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=16, blank=True, validators=[phone_validator])
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    birth_date_changed_at = models.DateTimeField(
        _("birth date last set"),
        null=True,
        blank=True,
        help_text=_("Birthday rewards wait 30 days after a birth date is set or changed."),
    )
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.ENGLISH)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text=_("Empty means the programme's time zone."),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    signup_source = models.CharField(
        _("signup source"), max_length=10, choices=SignupSource.choices, default=SignupSource.API
    )
    signup_partner = models.ForeignKey(
        "customers.Partner",
        verbose_name=_("signed up through"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    preferred_reward_kind = models.CharField(
        _("preferred reward"), max_length=16, choices=RewardKind.choices, blank=True
    )
    email_consent = models.BooleanField(_("e-mail marketing consent"), default=False)
    email_consent_at = models.DateTimeField(_("e-mail consent changed"), null=True, blank=True)
    sms_consent = models.BooleanField(_("SMS marketing consent"), default=False)
    sms_consent_at = models.DateTimeField(_("SMS consent changed"), null=True, blank=True)
    email_verified_at = models.DateTimeField(
        _("e-mail verified"),
        null=True,
        blank=True,
        help_text=_(
            "When the customer proved the address is theirs (the verification link, a sign-in link or a "
            "password reset). Marketing e-mail waits for it after a portal sign-up."
        ),
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags and interests"), blank=True, related_name="customers")

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="customers_customer_email_ci_unique",
                violation_error_message=_("Another customer already uses this e-mail address."),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-id"], name="customers_status_id_idx"),
            models.Index(fields=["phone"], name="customers_phone_idx"),
            models.Index(fields=["last_name", "first_name"], name="customers_name_idx"),
            models.Index(fields=["updated_at"], name="customers_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def has_consent(self, channel: str) -> bool:
        return bool(self.email_consent if channel == Channel.EMAIL else self.sms_consent)


class ConsentEvent(models.Model):
    """One change of a customer's consent for a channel: append-only, the audit trail of consent."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consent_events")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    is_granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=12, choices=ConsentSource.choices)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    partner = models.ForeignKey("customers.Partner", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["customer", "-recorded_at"], name="customers_consent_cust_idx")]

    def __str__(self) -> str:
        state = _("granted") if self.is_granted else _("withdrawn")
        return f"{self.get_channel_display()}: {state}"


class StaffNote(TimestampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    text = models.TextField(_("note"), max_length=4000)

    class Meta:
        verbose_name = _("staff note")
        verbose_name_plural = _("staff notes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text[:60]


class Partner(TimestampedModel):
    """A partner system (point of sale, web shop) that uses the API with its own keys."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Scope(models.TextChoices):
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    PURCHASES_WRITE = "purchases:write"
    REWARDS_READ = "rewards:read"
    REDEMPTIONS_WRITE = "redemptions:write"
    VOUCHERS_READ = "vouchers:read"
    VOUCHERS_WRITE = "vouchers:write"
    REFERRALS_WRITE = "referrals:write"
    SEGMENTS_READ = "segments:read"
    CAMPAIGNS_READ = "campaigns:read"
    CAMPAIGNS_WRITE = "campaigns:write"
    WEBHOOKS_MANAGE = "webhooks:manage"


class PartnerAPIKey(AbstractAPIKey):
    """An API key of a partner: only its SHA-512 hash is stored; scopes limit what it may do."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys")
    scopes = models.JSONField(_("scopes"), default=list)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("partner API key")  # type: ignore[assignment]
        verbose_name_plural = _("partner API keys")  # type: ignore[assignment]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class MessagePurpose(models.TextChoices):
    THANK_YOU = "thank_you", _("Thank-you after a purchase")
    THANK_YOU_FIRST = "thank_you_first", _("Thank-you after the first purchase")
    VOUCHER_ISSUED = "voucher_issued", _("Voucher issued")
    BIRTHDAY = "birthday", _("Birthday reward")
    WIN_BACK = "win_back", _("Win-back offer")
    REFERRAL_THANKS = "referral_thanks", _("Thank-you for a referral")
    REFERRAL_WELCOME = "referral_welcome", _("Welcome for a referred friend")
    CAMPAIGN_GIFT = "campaign_gift", _("Campaign gift")
    SAMPLE = "sample", _("Sample on its way")
    GIFT_CHOICE = "gift_choice", _("Choose your gift")
    SPECIAL_DAY = "special_day", _("Special customer day")
    ANNOUNCEMENT = "announcement", _("Announcement")
    CONTEST_WINNER = "contest_winner", _("Contest winner")
    FEEDBACK_THANKS = "feedback_thanks", _("Thank-you for feedback")
    EMAIL_VERIFY = "email_verify", _("E-mail address verification")


class MessageTemplate(TimestampedModel):
    """The words of one message purpose, in one language, for one channel.

    Placeholders are written ``{first_name}``; only the names in ``customers.templating`` exist,
    and a template using another name, or any attribute or index, is refused when saved.
    """

    purpose = models.CharField(_("purpose"), max_length=32, choices=MessagePurpose.choices)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    subject = models.CharField(_("subject"), max_length=200, blank=True, help_text=_("E-mail only."))
    body = models.TextField(_("text"), max_length=5000)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["purpose", "channel", "language"]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "language", "channel"], name="customers_template_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} ({self.language}, {self.channel})"

    def clean(self) -> None:
        from customers.templating import template_errors

        errors = {}
        for field in ("subject", "body"):
            problems = template_errors(getattr(self, field))
            if problems:
                errors[field] = problems
        if errors:
            raise ValidationError(errors)


class Message(models.Model):
    """One message to one customer: a row first (the outbox), sent by a worker that claims it.

    ``idempotency_key`` makes each message exist once, whatever retries or sweeps happen.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SUPPRESSED = "suppressed", _("Not sent")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="messages")
    purpose = models.CharField(_("purpose"), max_length=32, choices=MessagePurpose.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    is_marketing = models.BooleanField(_("marketing"), default=True)
    idempotency_key = models.CharField(max_length=150, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    suppressed_reason = models.CharField(_("why not sent"), max_length=32, blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    to_address = models.CharField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body = models.TextField(_("text"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    send_after = models.DateTimeField(_("send after"))
    provider_id = models.CharField(_("provider id"), max_length=255, blank=True)
    error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="customers_message_customer"),
            models.Index(
                fields=["send_after"], name="customers_message_due", condition=Q(status__in=["pending", "sending"])
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} -> {self.to_address}"


class Segment(TimestampedModel):
    """A group of customers for campaigns and reports.

    Dynamic: ``rules`` (conditions from the registry in ``customers.segments``) combined with AND
    (match all) or OR (match any), compiled into one query; no rules selects every customer.
    Static: hand-picked or uploaded members. Either way membership is materialised in
    ``SegmentMember`` by ``segment_refresh`` and stamped with ``member_count`` and ``refreshed_at``.
    """

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic (rules)")
        STATIC = "static", _("Static (picked or uploaded)")

    class Match(models.TextChoices):
        ALL = "all", _("All rules")
        ANY = "any", _("Any rule")

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.DYNAMIC)
    match = models.CharField(_("customers must match"), max_length=3, choices=Match.choices, default=Match.ALL)
    rules = models.JSONField(
        _("rules"),
        default=list,
        blank=True,
        help_text=_('A list of {"condition": ..., "value": ...}. No rules: every customer. Static segments: none.'),
    )
    member_count = models.PositiveIntegerField(_("members"), default=0, editable=False)
    refreshed_at = models.DateTimeField(_("refreshed"), null=True, blank=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from customers.segments import segment_rules_clean

        if self.kind == self.Kind.STATIC:
            if self.rules:
                raise ValidationError(
                    {"rules": _("A static segment has no rules: pick or upload its members.")}, code="static_rules"
                )
            return
        try:
            segment_rules_clean(self.rules)
        except ValidationError as error:
            raise ValidationError({"rules": error.error_list}) from error


class SegmentMember(models.Model):
    """A customer in a segment, as of the segment's last refresh (or picked by staff)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    # Indexed below as (customer, segment): "which segments is this customer in".
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="segment_memberships", db_index=False)
    added_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [models.UniqueConstraint(fields=["segment", "customer"], name="customers_segment_member_unique")]
        indexes = [models.Index(fields=["customer", "segment"], name="customers_segmember_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"


# --- feedback and complaints (written through customers.feedback) ---------------------------------


class FeedbackScale(models.TextChoices):
    RATING = "rating", _("Rating (1 to 5)")
    NPS = "nps", _("Recommendation (0 to 10)")


# The scores each scale allows, lowest and highest (the CHECK below says the same to the database).
FEEDBACK_SCORE_RANGE = {FeedbackScale.RATING: (1, 5), FeedbackScale.NPS: (0, 10)}


class Feedback(TimestampedModel):
    """One answer to one survey: a score on its scale and an optional comment.

    ``source_key`` names the survey ("purchase:123" for the thank-you after purchase 123,
    "portal:2026-05" for the portal's own question that month); a customer answers each survey
    once. The reward for taking part does not depend on the answer: the campaigns app grants it
    and records here the points and the ledger entry that paid them.
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="feedback", db_index=False
    )  # indexed by the unique (customer, source_key)
    source_key = models.CharField(_("survey"), max_length=100)
    scale = models.CharField(_("scale"), max_length=8, choices=FeedbackScale.choices)
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), max_length=2000, blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    reward_points = models.PositiveIntegerField(_("reward points"), default=0)
    reward_entry_id = models.PositiveBigIntegerField(_("reward ledger entry"), null=True, blank=True)
    rewarded_at = models.DateTimeField(_("rewarded"), null=True, blank=True)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "source_key"],
                name="customers_feedback_once_per_survey",
                violation_error_message=_("This survey has already been answered."),
            ),
            models.CheckConstraint(
                condition=Q(scale=FeedbackScale.RATING, score__gte=1, score__lte=5)
                | Q(scale=FeedbackScale.NPS, score__gte=0, score__lte=10),
                name="customers_feedback_score_on_scale",
                violation_error_message=_("The score is outside its scale."),
            ),
            models.CheckConstraint(
                condition=Q(reward_entry_id__isnull=True, rewarded_at__isnull=True, reward_points=0)
                | Q(reward_entry_id__isnull=False, rewarded_at__isnull=False),
                name="customers_feedback_reward_recorded_whole",
            ),
        ]
        indexes = [models.Index(fields=["scale", "score", "-created_at"], name="customers_feedback_scale_idx")]

    def __str__(self) -> str:
        return f"{self.get_scale_display()}: {self.score}"


class Complaint(TimestampedModel):
    """A customer's complaint, handled by staff until it is resolved or rejected with a resolution.

    Written through ``customers.feedback`` (``complaint_open``, ``complaint_update``), which keep
    the rules: a closed complaint has a resolution and the time it was closed.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        RESOLVED = "resolved", _("Resolved")
        REJECTED = "rejected", _("Rejected")

    class Source(models.TextChoices):
        PORTAL = "portal", _("Portal")
        STAFF = "staff", _("Staff (admin)")

    CLOSED = (Status.RESOLVED, Status.REJECTED)

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="complaints", db_index=False)
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), max_length=4000)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="complaints_owned",
        limit_choices_to={"is_staff": True},
        db_index=False,
    )
    resolution = models.TextField(
        _("resolution"),
        max_length=4000,
        blank=True,
        help_text=_("What was done, in words the customer reads. Required to resolve or reject."),
    )
    resolved_at = models.DateTimeField(_("closed"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.PORTAL)

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "in_progress"], resolved_at__isnull=True)
                | (Q(status__in=["resolved", "rejected"], resolved_at__isnull=False) & ~Q(resolution="")),
                name="customers_complaint_closed_with_resolution",
                violation_error_message=_("A resolved or rejected complaint needs a resolution."),
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="customers_complaint_cust_idx"),
            models.Index(fields=["status", "-created_at"], name="customers_complaint_status_idx"),
            models.Index(fields=["owner", "status"], name="customers_complaint_owner_idx"),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED
