"""Customer segments: a registry of conditions, rule validation, compilation and refresh.

Each app registers the conditions over its own data in ``AppConfig.ready()`` (customers here:
language, tags, consent, birthday month, ...; loyalty in ``loyalty.segment_conditions``), so
``customers`` never imports a higher app. A condition's ``build(value)`` returns a ``Q`` (or a
boolean expression such as ``Exists(...)``) over ``Customer``; a segment's rules combine them with
AND (match all) or OR (match any) into one filter, so a whole segment is one SQL query.

A rule is ``{"condition": key, "value": ...}``; the value's shape is the condition's
``value_type`` (see ``VALUE_TYPES``). Rules are validated against the registry when a segment is
saved (``Segment.clean``), and again when compiled, since a condition may disappear with an app.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import BaseExpression
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from customers.models import Customer, Language, Segment, SegmentMember, SignupSource

Build = Callable[[Any], Q | BaseExpression]

MAX_TEXT_LENGTH = 100


# --- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentCondition:
    """One kind of rule: its key (stored in ``Segment.rules``), label, value type and builder."""

    key: str
    label: str | Promise
    value_type: str
    build: Build
    choices: Sequence[tuple[Any, Any]] | Callable[[], Sequence[tuple[Any, Any]]] | None = None
    min_value: int | None = None
    max_value: int | None = None
    help_text: str | Promise = ""

    def choice_list(self) -> list[tuple[Any, Any]]:
        choices = self.choices() if callable(self.choices) else self.choices
        return list(choices or [])


_registry: dict[str, SegmentCondition] = {}


def segment_condition_register(
    key: str,
    *,
    label: str | Promise,
    value_type: str,
    build: Build,
    choices: Sequence[tuple[Any, Any]] | Callable[[], Sequence[tuple[Any, Any]]] | None = None,
    min_value: int | None = None,
    max_value: int | None = None,
    help_text: str | Promise = "",
) -> SegmentCondition:
    """Add a condition to the registry (call it from ``AppConfig.ready()``).

    Registering the same key again with the same builder replaces it (``ready()`` may run more
    than once in tests); another builder under a taken key is a configuration error.
    """
    if value_type not in VALUE_TYPES:
        raise ImproperlyConfigured(f"Segment condition {key!r}: unknown value type {value_type!r}.")
    existing = _registry.get(key)
    if existing is not None and (existing.build.__module__, existing.build.__qualname__) != (
        build.__module__,
        build.__qualname__,
    ):
        raise ImproperlyConfigured(f"Segment condition {key!r} is already registered by {existing.build.__module__}.")
    condition = SegmentCondition(
        key=key,
        label=label,
        value_type=value_type,
        build=build,
        choices=choices,
        min_value=min_value,
        max_value=max_value,
        help_text=help_text,
    )
    _registry[key] = condition
    return condition


def segment_conditions() -> list[SegmentCondition]:
    """Every registered condition, in registration order (customers first, then each app)."""
    return list(_registry.values())


def segment_condition_get(key: str) -> SegmentCondition | None:
    return _registry.get(key)


# --- value types -------------------------------------------------------------------------------


class _Invalid(Exception):
    def __init__(self, message: str | Promise, **params: Any) -> None:
        self.message = message
        self.params = params
        super().__init__(str(message))


def _integer(value: Any, condition: SegmentCondition) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(_("enter a whole number"))
    if condition.min_value is not None and value < condition.min_value:
        raise _Invalid(_("enter a whole number of at least %(min)s"), min=condition.min_value)
    if condition.max_value is not None and value > condition.max_value:
        raise _Invalid(_("enter a whole number of at most %(max)s"), max=condition.max_value)
    return value


def _boolean(value: Any, condition: SegmentCondition) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(_("enter true or false"))
    return value


def _choice(value: Any, condition: SegmentCondition) -> Any:
    allowed = [choice for choice, _label in condition.choice_list()]
    if value not in allowed:
        raise _Invalid(_("choose one of %(choices)s"), choices=", ".join(str(choice) for choice in allowed))
    return value


def _text(value: Any, condition: SegmentCondition) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(_("enter a text"))
    if len(value.strip()) > MAX_TEXT_LENGTH:
        raise _Invalid(_("enter at most %(max)s characters"), max=MAX_TEXT_LENGTH)
    return value.strip()


def _integer_or_text(value: Any, condition: SegmentCondition) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return _integer(value, condition)
    if isinstance(value, str):
        return _text(value, condition)
    raise _Invalid(_("enter a whole number or a name"))


def _positive_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid(_("enter an amount"))
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _Invalid(_("enter an amount")) from None
    if not amount.is_finite() or amount <= 0:
        raise _Invalid(_("enter an amount greater than 0"))
    return amount


def _positive_integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Invalid(_("%(name)s must be a whole number of at least 1"), name=name)
    return value


def _object(value: Any, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise _Invalid(_("enter an object with the keys %(keys)s"), keys=", ".join(sorted(keys)))
    return value


@dataclass(frozen=True)
class CountInDays:
    count: int
    days: int


@dataclass(frozen=True)
class AmountInDays:
    amount: Decimal
    days: int


def _count_in_days(value: Any, condition: SegmentCondition) -> CountInDays:
    value = _object(value, {"count", "days"})
    return CountInDays(count=_positive_integer(value["count"], "count"), days=_positive_integer(value["days"], "days"))


def _amount_in_days(value: Any, condition: SegmentCondition) -> AmountInDays:
    value = _object(value, {"amount", "days"})
    return AmountInDays(amount=_positive_decimal(value["amount"]), days=_positive_integer(value["days"], "days"))


VALUE_TYPES: dict[str, Callable[[Any, SegmentCondition], Any]] = {
    "integer": _integer,
    "boolean": _boolean,
    "choice": _choice,
    "text": _text,
    "integer_or_text": _integer_or_text,
    "count_in_days": _count_in_days,
    "amount_in_days": _amount_in_days,
}
"""How each ``value_type`` is written in a rule: ``integer`` 30, ``boolean`` true, ``choice`` "fi",
``text`` "coffee", ``integer_or_text`` 2 or "Gold", ``count_in_days`` {"count": 3, "days": 30},
``amount_in_days`` {"amount": "100.00", "days": 90}."""


# --- rules -------------------------------------------------------------------------------------


def segment_rules_clean(rules: Any) -> list[tuple[SegmentCondition, Any]]:
    """Each rule's condition with its cleaned value; a ``ValidationError`` listing every bad rule,
    each message naming the rule's number and its condition."""
    if not isinstance(rules, list):
        raise ValidationError(
            _('Write the rules as a list: [{"condition": "language", "value": "fi"}].'), code="rules_not_list"
        )
    cleaned: list[tuple[SegmentCondition, Any]] = []
    errors: list[ValidationError] = []
    for number, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict) or set(rule) != {"condition", "value"}:
            errors.append(
                ValidationError(
                    _('Rule %(number)s: write it as {"condition": ..., "value": ...}.'),
                    code="rule_shape",
                    params={"number": number},
                )
            )
            continue
        condition = segment_condition_get(str(rule["condition"]))
        if condition is None:
            errors.append(
                ValidationError(
                    _("Rule %(number)s: unknown condition “%(condition)s”. Known conditions: %(known)s."),
                    code="unknown_condition",
                    params={"number": number, "condition": rule["condition"], "known": ", ".join(sorted(_registry))},
                )
            )
            continue
        try:
            cleaned.append((condition, VALUE_TYPES[condition.value_type](rule["value"], condition)))
        except _Invalid as invalid:
            errors.append(
                ValidationError(
                    _("Rule %(number)s (%(condition)s): %(problem)s."),
                    code="invalid_value",
                    params={
                        "number": number,
                        "condition": condition.key,
                        "problem": str(invalid.message) % invalid.params if invalid.params else invalid.message,
                    },
                )
            )
    if errors:
        raise ValidationError(errors)
    return cleaned


def segment_rules_filter(*, match: str, rules: Any) -> Q:
    """The rules compiled into one filter over ``Customer``. No rules: every customer."""
    parts = []
    for condition, value in segment_rules_clean(rules):
        built = condition.build(value)
        parts.append(built if isinstance(built, Q) else Q(built))
    combined = Q()
    for part in parts:
        combined = (combined | part) if match == Segment.Match.ANY and combined else (combined & part)
    return combined


def segment_rules_queryset(*, match: str, rules: Any) -> QuerySet[Customer]:
    """The customers the rules select (never erased customers), as one query. Raises
    ``ValidationError`` when a rule is invalid."""
    return Customer.objects.filter(segment_rules_filter(match=match, rules=rules)).exclude(
        status=Customer.Status.ERASED
    )


def segment_queryset(segment: Segment) -> QuerySet[Customer]:
    """The segment's customers as one query: a dynamic segment's compiled rules, a static
    segment's members. Erased customers are never in a segment."""
    if segment.kind == Segment.Kind.STATIC:
        members = SegmentMember.objects.filter(segment_id=segment.pk, customer=OuterRef("pk"))
        return Customer.objects.filter(Exists(members)).exclude(status=Customer.Status.ERASED)
    return segment_rules_queryset(match=segment.match, rules=segment.rules)


# --- refresh and members -------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentRefreshResult:
    added: int
    removed: int
    member_count: int
    refreshed_at: datetime.datetime


def _insert_members_from(segment: Segment, customers: QuerySet[Customer], now: datetime.datetime) -> int:
    """INSERT ... SELECT the customers' ids as members: one statement, whatever the size."""
    ids = customers.order_by().annotate(member_customer_id=F("pk")).values("member_customer_id")
    select_sql, params = ids.query.sql_with_params()
    table = connection.ops.quote_name(SegmentMember._meta.db_table)
    # WHERE true: SQLite needs it to parse ON CONFLICT after INSERT ... SELECT.
    sql = (
        f"INSERT INTO {table} (segment_id, customer_id, added_at) "  # noqa: S608 - only quoted names are formatted
        f"SELECT %s, matching.member_customer_id, %s FROM ({select_sql}) matching WHERE true "
        "ON CONFLICT (segment_id, customer_id) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [segment.pk, SegmentMember._meta.get_field("added_at").get_db_prep_value(now, connection), *params]
        )
        return max(cursor.rowcount, 0)


@transaction.atomic
def segment_refresh(*, segment: Segment) -> SegmentRefreshResult:
    """Materialise the segment's membership and stamp it with its count and time.

    Holds the segment row (``select_for_update``) so two refreshes of one segment run one after
    the other. Dynamic: deletes the members that no longer match and inserts the new ones with one
    INSERT ... SELECT (set-based, whatever the size). Static: drops erased customers and recounts.
    Repeating it with unchanged data changes nothing but ``refreshed_at``. Raises
    ``ValidationError`` when the rules no longer validate (a condition was unregistered).
    """
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    now = timezone.now()
    matching = segment_queryset(segment)
    members = SegmentMember.objects.filter(segment=segment)
    removed, _deleted = members.exclude(customer__in=matching.order_by().values("pk")).delete()
    added = 0
    if segment.kind == Segment.Kind.DYNAMIC:
        already = SegmentMember.objects.filter(segment=segment, customer=OuterRef("pk"))
        added = _insert_members_from(segment, matching.exclude(Exists(already)), now)
    count = members.count()
    Segment.objects.filter(pk=segment.pk).update(member_count=count, refreshed_at=now, updated_at=now)
    return SegmentRefreshResult(added=added, removed=removed, member_count=count, refreshed_at=now)


class SegmentNotStatic(DomainError):
    code = "segment_not_static"
    status = 409
    default_message = _("Only a static segment's members can be picked or uploaded.")


@dataclass(frozen=True)
class SegmentMembersAdded:
    added: int
    already_members: int
    unknown_emails: list[str] = field(default_factory=list)


def segment_emails_parse(data: bytes | str) -> tuple[list[str], list[str]]:
    """The e-mail addresses in a CSV (any column; a header row is skipped), lower-cased and
    deduplicated in file order, and the cells that look like neither an address nor a header."""
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    emails: dict[str, None] = {}
    invalid: list[str] = []
    for row in csv.reader(io.StringIO(text), dialect):
        for cell in row:
            value = cell.strip()
            if not value or value.lower() in {"email", "e-mail", "sähköposti"}:
                continue
            try:
                validate_email(value)
            except ValidationError:
                if "@" in value:
                    invalid.append(value)
                continue
            emails.setdefault(value.lower(), None)
    return list(emails), invalid


@transaction.atomic
def segment_members_add(*, segment: Segment, emails: Iterable[str]) -> SegmentMembersAdded:
    """Add the customers with these e-mails (any case) to a static segment and recount it.

    Unknown (or erased) addresses are reported back, not created. Repeating it adds nothing:
    members are unique per segment and inserted with ``ignore_conflicts``.
    """
    if segment.kind != Segment.Kind.STATIC:
        raise SegmentNotStatic()
    wanted = list(dict.fromkeys(email.strip().lower() for email in emails if email.strip()))
    found = dict(
        Customer.objects.filter(email__lower__in=wanted)
        .exclude(status=Customer.Status.ERASED)
        .annotate(email_lower=Lower("email"))
        .values_list("email_lower", "pk")
    )
    customer_ids = list(found.values())
    existing = set(
        SegmentMember.objects.filter(segment=segment, customer_id__in=customer_ids).values_list(
            "customer_id", flat=True
        )
    )
    SegmentMember.objects.bulk_create(
        [SegmentMember(segment=segment, customer_id=pk) for pk in customer_ids if pk not in existing],
        ignore_conflicts=True,
        batch_size=1000,
    )
    segment_refresh(segment=segment)
    return SegmentMembersAdded(
        added=len(customer_ids) - len(existing),
        already_members=len(existing),
        unknown_emails=[email for email in wanted if email not in found],
    )


@transaction.atomic
def segment_static_create(*, name: str, customers: QuerySet[Customer], description: str = "") -> Segment:
    """A new static segment holding exactly ``customers`` (one INSERT ... SELECT, whatever the
    size), stamped with its count. Used to freeze an audience, e.g. a campaign's treated group."""
    segment = Segment(name=name[:100], kind=Segment.Kind.STATIC, description=description)
    segment.full_clean()
    segment.save()
    now = timezone.now()
    _insert_members_from(segment, customers, now)
    count = SegmentMember.objects.filter(segment=segment).count()
    Segment.objects.filter(pk=segment.pk).update(member_count=count, refreshed_at=now)
    segment.member_count, segment.refreshed_at = count, now
    return segment


# --- the conditions over customers' own data ------------------------------------------------------


def _tag(name: str) -> Exists:
    tagged = Customer.tags.through.objects.filter(customer_id=OuterRef("pk"), tag__name__lower=name.lower())
    return Exists(tagged)


def _created_within_days(days: int) -> Q:
    return Q(created_at__gte=timezone.now() - datetime.timedelta(days=days))


def segment_conditions_register_customers() -> None:
    """The built-in conditions; called from ``CustomersConfig.ready()``."""
    segment_condition_register(
        "language",
        label=_("Language"),
        value_type="choice",
        choices=Language.choices,
        build=lambda value: Q(language=value),
    )
    segment_condition_register(
        "tag",
        label=_("Has the tag"),
        value_type="text",
        build=_tag,
        help_text=_("A tag name, any case."),
    )
    segment_condition_register(
        "email_consent",
        label=_("E-mail marketing consent"),
        value_type="boolean",
        build=lambda value: Q(email_consent=value),
    )
    segment_condition_register(
        "sms_consent",
        label=_("SMS marketing consent"),
        value_type="boolean",
        build=lambda value: Q(sms_consent=value),
    )
    segment_condition_register(
        "birthday_month",
        label=_("Birthday month"),
        value_type="integer",
        min_value=1,
        max_value=12,
        build=lambda value: Q(birth_date__month=value),
        help_text=_("1 (January) to 12 (December)."),
    )
    segment_condition_register(
        "signup_source",
        label=_("Signed up through"),
        value_type="choice",
        choices=SignupSource.choices,
        build=lambda value: Q(signup_source=value),
    )
    segment_condition_register(
        "status",
        label=_("Status"),
        value_type="choice",
        choices=Customer.Status.choices,
        build=lambda value: Q(status=value),
    )
    segment_condition_register(
        "created_within_days",
        label=_("Joined in the last N days"),
        value_type="integer",
        min_value=1,
        build=_created_within_days,
    )
