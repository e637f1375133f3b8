"""Listening to customers: survey answers (feedback) and complaints.

Surveys: a message (the thank-you after a purchase) carries ``survey_url(...)``, a signed link
that names the customer, the survey (``source_key``) and its scale, so the answer needs no login.
``feedback_submit`` writes the answer once per customer and survey and emits ``feedback_given``
on commit; the campaigns app reacts by granting the reward for taking part (whatever the score)
and records it back with ``feedback_reward_record``.

Complaints: opened by the customer in the portal or by staff in the admin (``complaint_open``),
handled by staff through ``complaint_update``, which holds the rules: a resolved or rejected
complaint carries a resolution the customer can read, and only staff reopen a closed one.
"""

from __future__ import annotations

import datetime
import enum
import re
import uuid
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, DomainError
from core.events import emit_on_commit
from customers.errors import CustomerNotActive
from customers.models import FEEDBACK_SCORE_RANGE, Complaint, Customer, Feedback, FeedbackScale, Language, User
from customers.signals import feedback_given

SURVEY_SALT = "vastavuoro.feedback.survey"
# A survey link works this long after the message that carried it was written.
SURVEY_MAX_AGE = datetime.timedelta(days=60)
SOURCE_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*(:[A-Za-z0-9_.-]+)*$")
SOURCE_KEY_MAX_LENGTH = 100
COMMENT_MAX_LENGTH = 2000
SUBJECT_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 4000
RESOLUTION_MAX_LENGTH = 4000
# A customer with this many complaints still open must wait for an answer before adding more.
OPEN_COMPLAINTS_MAX = 10
# The same complaint sent again this soon (a double click, a reloaded form) is the same complaint.
COMPLAINT_REPEAT_WINDOW = datetime.timedelta(minutes=10)


# --- errors ----------------------------------------------------------------------------------------


class FeedbackInvalid(DomainError):
    """An answer that cannot be written (unknown scale, score off the scale, comment too long)."""

    code = "feedback_invalid"
    default_message = _("The answer is not valid.")


class FeedbackAlreadyGiven(Conflict):
    code = "feedback_already_given"
    default_message = _("You have already answered this survey. Thank you!")


class FeedbackRewardConflict(Conflict):
    code = "feedback_already_rewarded"
    default_message = _("The reward for this feedback was already recorded with another ledger entry.")


class ComplaintInvalid(DomainError):
    code = "complaint_invalid"
    default_message = _("The complaint is not valid.")


class ComplaintReopenForbidden(DomainError):
    code = "complaint_reopen_staff_only"
    status = 403
    default_message = _("Only staff can reopen a resolved or rejected complaint.")


class TooManyOpenComplaints(Conflict):
    code = "too_many_open_complaints"
    default_message = _("You have several complaints still open. We will answer them before you add more.")


# --- survey links ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyInvite:
    """What a valid survey link names: who answers, which survey, on which scale."""

    customer: Customer
    source_key: str
    scale: str


def _source_key_check(source_key: str) -> None:
    if len(source_key) > SOURCE_KEY_MAX_LENGTH or not SOURCE_KEY_PATTERN.match(source_key):
        raise FeedbackInvalid(
            _("The survey name is not valid."), code="source_key_invalid", field="source_key", value=source_key
        )


def _score_range(scale: str) -> tuple[int, int]:
    if scale not in FeedbackScale.values:
        raise FeedbackInvalid(_("Unknown scale."), code="scale_unknown", field="scale", value=scale)
    return FEEDBACK_SCORE_RANGE[FeedbackScale(scale)]


def survey_token_make(customer: Customer, source_key: str, scale: str) -> str:
    """A signed token naming the customer, the survey and its scale (checked by
    ``survey_token_check``). Raises ``FeedbackInvalid`` for a malformed key or an unknown scale."""
    _source_key_check(source_key)
    _score_range(scale)
    return signing.dumps({"c": str(customer.public_id), "k": source_key, "s": scale}, salt=SURVEY_SALT, compress=True)


def survey_token_check(token: str) -> SurveyInvite | None:
    """What the token was made for; None when it is forged, tampered with, older than
    ``SURVEY_MAX_AGE``, or names a customer who no longer exists or is not active."""
    try:
        data = signing.loads(token, salt=SURVEY_SALT, max_age=SURVEY_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is a BadSignature too
        return None
    if not isinstance(data, dict):
        return None
    source_key, scale = data.get("k"), data.get("s")
    if not isinstance(source_key, str) or not isinstance(scale, str):
        return None
    try:
        _source_key_check(source_key)
        _score_range(scale)
        public_id = uuid.UUID(str(data.get("c")))
    except (FeedbackInvalid, ValueError):
        return None
    customer = Customer.objects.filter(public_id=public_id, status=Customer.Status.ACTIVE).first()
    return None if customer is None else SurveyInvite(customer=customer, source_key=source_key, scale=scale)


def survey_url(customer: Customer, source_key: str, scale: str = FeedbackScale.RATING) -> str:
    """The absolute link to put in a message: ``PUBLIC_BASE_URL`` + /portal/feedback/<token>/."""
    path = reverse("portal:survey", args=[survey_token_make(customer, source_key, scale)])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def purchase_survey_key(purchase_id: int) -> str:
    """The survey a thank-you for purchase ``purchase_id`` asks: one answer per purchase."""
    return f"purchase:{purchase_id}"


# --- feedback --------------------------------------------------------------------------------------


@transaction.atomic
def feedback_submit(
    *,
    customer: Customer,
    source_key: str,
    scale: str,
    score: int,
    comment: str = "",
    language: str | None = None,
) -> Feedback:
    """Write one customer's answer to one survey.

    Refuses, writing nothing: an inactive customer (``CustomerNotActive``), an unknown scale, a
    score off the scale or a comment over 2000 characters (``FeedbackInvalid``), and a second
    answer to the same survey (``FeedbackAlreadyGiven``, also when two answers race: the unique
    (customer, source_key) decides). ``language`` defaults to the customer's. Emits
    ``feedback_given(feedback_id, customer_id)`` on commit.
    """
    if customer.status != Customer.Status.ACTIVE:
        raise CustomerNotActive()
    _source_key_check(source_key)
    low, high = _score_range(scale)
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise FeedbackInvalid(
            _("Choose a score from %(low)d to %(high)d.") % {"low": low, "high": high},
            code="score_out_of_range",
            field="score",
            low=low,
            high=high,
        )
    comment = comment.strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        raise FeedbackInvalid(
            _("The comment is longer than %(max)d characters.") % {"max": COMMENT_MAX_LENGTH},
            code="comment_too_long",
            field="comment",
        )
    language = language or customer.language
    if language not in Language.values:
        raise FeedbackInvalid(_("Unknown language."), code="language_unknown", field="language")
    if Feedback.objects.filter(customer=customer, source_key=source_key).exists():
        raise FeedbackAlreadyGiven()
    feedback = Feedback(
        customer=customer, source_key=source_key, scale=scale, score=score, comment=comment, language=language
    )
    try:
        with transaction.atomic():
            feedback.save()
    except IntegrityError:
        # Answered meanwhile by a concurrent request (the other transaction committed first).
        if Feedback.objects.filter(customer=customer, source_key=source_key).exists():
            raise FeedbackAlreadyGiven() from None
        raise  # pragma: no cover - the values were checked above
    emit_on_commit(feedback_given, sender=Feedback, feedback_id=feedback.pk, customer_id=customer.pk)
    return feedback


@transaction.atomic
def feedback_reward_record(*, feedback: Feedback, points: int, ledger_entry_id: int) -> Feedback:
    """Record on the answer the reward the campaigns app granted for it (after inserting the ledger
    entry, in the same transaction). Repeating it with the same entry changes nothing; another
    entry for an answer already rewarded raises ``FeedbackRewardConflict``."""
    if isinstance(points, bool) or points <= 0:
        raise FeedbackInvalid(_("A reward is a positive number of points."), code="reward_points_invalid")
    now = timezone.now()
    Feedback.objects.filter(pk=feedback.pk, reward_entry_id__isnull=True).update(
        reward_points=points, reward_entry_id=ledger_entry_id, rewarded_at=now, updated_at=now
    )
    fresh = Feedback.objects.get(pk=feedback.pk)
    if fresh.reward_entry_id != ledger_entry_id or fresh.reward_points != points:
        raise FeedbackRewardConflict(feedback_id=feedback.pk, ledger_entry_id=fresh.reward_entry_id)
    for field in ("reward_points", "reward_entry_id", "rewarded_at", "updated_at"):
        setattr(feedback, field, getattr(fresh, field))
    return feedback


# --- complaints ------------------------------------------------------------------------------------


class _Unchanged(enum.Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = _Unchanged.UNCHANGED


def _text_clean(value: str, *, field: str, max_length: int, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise ComplaintInvalid(_("This field is required."), code=f"{field}_required", field=field)
    if len(value) > max_length:
        raise ComplaintInvalid(
            _("Keep it under %(max)d characters.") % {"max": max_length}, code=f"{field}_too_long", field=field
        )
    return value


def _owner_check(owner: User | None) -> None:
    if owner is not None and not (owner.is_staff and owner.is_active):
        raise ComplaintInvalid(_("Only an active staff member can own a complaint."), code="owner_not_staff")


@transaction.atomic
def complaint_open(
    *,
    customer: Customer,
    subject: str,
    description: str,
    source: str = Complaint.Source.PORTAL,
    owner: User | None = None,
) -> Complaint:
    """Open a complaint for ``customer``. Holds the customer row while it checks and writes.

    Refuses, writing nothing: an inactive customer, an empty or too long subject or description
    (``ComplaintInvalid``), an owner who is not active staff, and from the portal an eleventh open
    complaint (``TooManyOpenComplaints``). The same subject and description sent again within ten
    minutes while still open returns the first complaint (a double-submitted form).
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status != Customer.Status.ACTIVE:
        raise CustomerNotActive()
    if source not in Complaint.Source.values:
        raise ComplaintInvalid(_("Unknown source."), code="source_unknown", field="source")
    subject = _text_clean(subject, field="subject", max_length=SUBJECT_MAX_LENGTH, required=True)
    description = _text_clean(description, field="description", max_length=DESCRIPTION_MAX_LENGTH, required=True)
    _owner_check(owner)
    open_ones = Complaint.objects.filter(
        customer=customer, status__in=[Complaint.Status.OPEN, Complaint.Status.IN_PROGRESS]
    )
    repeated = (
        open_ones.filter(
            subject=subject, description=description, created_at__gte=timezone.now() - COMPLAINT_REPEAT_WINDOW
        )
        .order_by("-created_at")
        .first()
    )
    if repeated is not None:
        return repeated
    if source == Complaint.Source.PORTAL and open_ones.count() >= OPEN_COMPLAINTS_MAX:
        raise TooManyOpenComplaints(open_count=OPEN_COMPLAINTS_MAX)
    return Complaint.objects.create(
        customer=customer, subject=subject, description=description, source=source, owner=owner
    )


def complaint_changes(
    *,
    complaint: Complaint,
    by: User,
    status: str | None = None,
    owner: User | _Unchanged | None = UNCHANGED,
    resolution: str | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """The fields ``complaint_update`` would change, checked against the rules; writes nothing.

    ``None`` (``UNCHANGED`` for the owner, where ``None`` unassigns) leaves a field as it is.
    Raises ``ComplaintInvalid`` (unknown status, owner not active staff, resolving or rejecting
    without a resolution, text too long) or ``ComplaintReopenForbidden`` (reopening, not staff).
    """
    changes: dict[str, Any] = {}
    new_status = complaint.status if status is None else status
    if new_status not in Complaint.Status.values:
        raise ComplaintInvalid(_("Unknown status."), code="status_unknown", field="status")
    new_resolution = complaint.resolution
    if resolution is not None:
        new_resolution = _text_clean(resolution, field="resolution", max_length=RESOLUTION_MAX_LENGTH, required=False)
    if not isinstance(owner, _Unchanged):
        _owner_check(owner)
        if owner != complaint.owner:
            changes["owner"] = owner
    closing = new_status in Complaint.CLOSED
    if closing and not new_resolution:
        raise ComplaintInvalid(
            _("Write the resolution the customer will read before resolving or rejecting."),
            code="resolution_required",
            field="resolution",
        )
    if complaint.is_closed and not closing and not by.is_staff:
        raise ComplaintReopenForbidden()
    if new_resolution != complaint.resolution:
        changes["resolution"] = new_resolution
    if new_status != complaint.status:
        changes["status"] = new_status
        changes["resolved_at"] = (now or timezone.now()) if closing else None
    return changes


@transaction.atomic
def complaint_update(
    *,
    complaint: Complaint,
    by: User,
    status: str | None = None,
    owner: User | _Unchanged | None = UNCHANGED,
    resolution: str | None = None,
) -> Complaint:
    """Change a complaint's status, owner or resolution, by ``by`` (staff, in the admin).

    Locks the row, re-checks the rules on it (``complaint_changes``) and saves only what changed;
    nothing changes when a rule refuses. Resolving or rejecting stamps ``resolved_at``; reopening
    (staff only) clears it and keeps the earlier resolution for the next one to edit. Repeating
    the same call writes nothing more. The passed ``complaint`` is brought up to date.
    """
    locked = Complaint.objects.select_for_update(of=("self",)).select_related("owner").get(pk=complaint.pk)
    changes = complaint_changes(complaint=locked, by=by, status=status, owner=owner, resolution=resolution)
    if changes:
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.save(update_fields=[*changes, "updated_at"])
    for field in ("status", "owner", "resolution", "resolved_at", "updated_at"):
        setattr(complaint, field, getattr(locked, field))
    return complaint


# --- selectors -------------------------------------------------------------------------------------


def feedback_for_customer(customer: Customer) -> QuerySet[Feedback]:
    """The customer's answers, newest first."""
    return Feedback.objects.filter(customer=customer).order_by("-created_at", "-id")


def complaints_for_customer(customer: Customer) -> QuerySet[Complaint]:
    """The customer's complaints, newest first (the owner is staff-only and not selected)."""
    return Complaint.objects.filter(customer=customer).order_by("-created_at", "-id")


@dataclass(frozen=True)
class FeedbackSummary:
    """Averages over a set of answers: the mean rating (1-5) and the Net Promoter Score, the share
    of promoters (9-10) minus the share of detractors (0-6), in percent (-100 to 100)."""

    rating_count: int
    rating_average: float | None
    nps_count: int
    nps: int | None


def feedback_summary(feedback: QuerySet[Feedback]) -> FeedbackSummary:
    """One query over ``feedback`` (any filters kept)."""
    totals = feedback.order_by().aggregate(
        rating_count=Count("pk", filter=Q(scale=FeedbackScale.RATING)),
        rating_average=Avg("score", filter=Q(scale=FeedbackScale.RATING)),
        nps_count=Count("pk", filter=Q(scale=FeedbackScale.NPS)),
        promoters=Count("pk", filter=Q(scale=FeedbackScale.NPS, score__gte=9)),
        detractors=Count("pk", filter=Q(scale=FeedbackScale.NPS, score__lte=6)),
    )
    nps_count = totals["nps_count"]
    nps = round(100 * (totals["promoters"] - totals["detractors"]) / nps_count) if nps_count else None
    average = totals["rating_average"]
    return FeedbackSummary(
        rating_count=totals["rating_count"],
        rating_average=None if average is None else round(float(average), 2),
        nps_count=nps_count,
        nps=nps,
    )
