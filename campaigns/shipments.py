"""Shipping the physical gifts and samples of a campaign: the warehouse's CSV, and the status updates
that come back (one at a time from the API or the admin, or a whole CSV at once).

A recipient has something to ship when it is treated, was given its gift and carries a shipment
status (the launch sets ``allocated``). From there a shipment moves only forward::

    allocated -> shipped -> delivered
                 shipped -> returned
                            delivered -> returned

Setting the status it already has changes nothing, so a warehouse may send the same update twice.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign, CampaignRecipient
from core.errors import Conflict, DomainError
from customers.models import Partner, User

logger = logging.getLogger(__name__)

Shipment = CampaignRecipient.Shipment

# The statuses a shipment may move to from each status; everything else is refused.
SHIPMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    Shipment.ALLOCATED: frozenset({Shipment.SHIPPED}),
    Shipment.SHIPPED: frozenset({Shipment.DELIVERED, Shipment.RETURNED}),
    Shipment.DELIVERED: frozenset({Shipment.RETURNED}),
    Shipment.RETURNED: frozenset(),
}
SHIPMENT_STATUSES: tuple[str, ...] = tuple(SHIPMENT_TRANSITIONS)
TRACKING_CODE_MAX_LENGTH = CampaignRecipient._meta.get_field("tracking_code").max_length or 64

# The warehouse file's columns. They are a data format read back by the import, not page text, so
# they stay the same in every language.
CSV_COLUMNS = (
    "recipient_id",
    "customer_name",
    "email",
    "phone",
    "language",
    "gift_description",
    "status",
    "tracking_code",
)
# A spreadsheet treats a cell starting with one of these as a formula (CSV injection, OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
IMPORT_MAX_ROWS = 10_000  # ids and e-mails go in one IN list: within SQLite's 32,766 parameters
EMAIL_MAX_LENGTH = 254
IMPORT_DELIMITERS = ",;\t"  # a spreadsheet in a Finnish or Russian locale saves with ";"


class ShipmentTransitionInvalid(Conflict):
    code = "shipment_transition_invalid"
    default_message = gettext_lazy("This shipment cannot move to that status.")


class TrackingCodeInvalid(DomainError):
    code = "tracking_code_invalid"
    default_message = gettext_lazy("The tracking code is too long or has control characters.")


def tracking_code_problem(code: str) -> str | None:
    """Why ``code`` cannot be stored as a tracking code, or None when it can."""
    if len(code) > TRACKING_CODE_MAX_LENGTH:
        return _("The tracking code is longer than %(max)d characters.") % {"max": TRACKING_CODE_MAX_LENGTH}
    if not code.isprintable():
        return _("The tracking code has control characters.")
    return None


def shipments_queryset(*, campaign: Campaign | int) -> QuerySet[CampaignRecipient]:
    """The campaign's recipients that have something to ship, with their customer, oldest first."""
    return (
        CampaignRecipient.objects.filter(
            campaign=campaign, group=CampaignRecipient.Group.TREATED, status=CampaignRecipient.Status.GIVEN
        )
        .exclude(shipment=Shipment.NONE)
        .select_related("customer")
        .order_by("pk")
    )


def shipment_transition_check(*, current: str, target: str) -> bool:
    """True when ``target`` is a move ``current`` may make, False when it is the same status (a
    no-op); raises ``ShipmentTransitionInvalid`` otherwise (nothing to ship, unknown status,
    going back)."""
    if current not in SHIPMENT_TRANSITIONS or target not in SHIPMENT_TRANSITIONS:
        raise ShipmentTransitionInvalid(current=current, target=target)
    if current == target:
        return False
    if target not in SHIPMENT_TRANSITIONS[current]:
        raise ShipmentTransitionInvalid(current=current, target=target)
    return True


# --- the warehouse's CSV ----------------------------------------------------------------------------


def csv_cell_escape(value: object) -> str:
    """The cell as text, with a ``'`` in front when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def csv_cell_unescape(text: str) -> str:
    """Undo ``csv_cell_escape``, so a file exported here and sent back reads as it was written."""
    text = text.strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


class _Line:
    """A file-like object whose ``write`` hands back what it is given: one CSV row as a string."""

    def write(self, value: str) -> str:
        return value


def shipments_csv_lines(*, campaign: Campaign, status: str | None = None) -> Iterator[str]:
    """The warehouse's CSV, line by line (header first), for a streamed download.

    One query, read in chunks: a large campaign is never held in memory. ``status`` keeps only the
    shipments in that status. Every cell is escaped against formula injection.
    """
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_COLUMNS)
    recipients = shipments_queryset(campaign=campaign)
    if status:
        recipients = recipients.filter(shipment=status)
    for recipient in recipients.iterator(chunk_size=2000):
        customer = recipient.customer
        yield writer.writerow(
            [
                csv_cell_escape(value)
                for value in (
                    recipient.pk,
                    customer.full_name,
                    customer.email,
                    customer.phone,
                    customer.language,
                    campaign.gift_description,
                    recipient.shipment,
                    recipient.tracking_code,
                )
            ]
        )


def shipments_csv(*, campaign: Campaign, status: str | None = None) -> str:
    """The warehouse's CSV as one string: header and one row per shipment (see ``shipments_csv_lines``)."""
    return "".join(shipments_csv_lines(campaign=campaign, status=status))


# --- one update -------------------------------------------------------------------------------------


@transaction.atomic
def shipment_update(
    *,
    recipient: CampaignRecipient,
    status: str,
    tracking_code: str = "",
    by: User | Partner | None = None,
) -> CampaignRecipient:
    """Move one shipment to ``status``, optionally recording its tracking code.

    Holds the recipient row (``select_for_update``) while it checks the move, so two updates of the
    same shipment are applied one after the other and a refused one changes nothing. Raises
    ``ShipmentTransitionInvalid`` for a recipient with nothing to ship (held out, not given, not a
    physical gift) and for any move not in ``SHIPMENT_TRANSITIONS``.

    Repeating the status the shipment already has is a no-op that returns the row, except that a
    different non-empty ``tracking_code`` replaces the one stored (a corrected code). An empty
    ``tracking_code`` keeps the stored one. ``recipient`` is refreshed in place and returned.
    """
    locked = (
        CampaignRecipient.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(pk=recipient.pk)
        .first()
    )
    if locked is None or not _is_shippable(locked):
        current = locked.shipment if locked is not None else ""
        raise ShipmentTransitionInvalid(
            _("This recipient has nothing to ship."), current=current, target=status, recipient=recipient.pk
        )
    tracking_code = tracking_code.strip()
    problem = tracking_code_problem(tracking_code)
    if problem is not None:
        raise TrackingCodeInvalid(problem)
    try:
        moves = shipment_transition_check(current=locked.shipment, target=status)
    except ShipmentTransitionInvalid as error:
        raise ShipmentTransitionInvalid(
            _("A shipment cannot move from %(current)s to %(target)s.")
            % {"current": locked.shipment, "target": status},
            **error.details,
        ) from None
    code_changes = bool(tracking_code) and tracking_code != locked.tracking_code
    if moves or code_changes:
        locked.shipment = status
        if tracking_code:
            locked.tracking_code = tracking_code
        locked.shipment_updated_at = timezone.now()
        locked.save(update_fields=["shipment", "tracking_code", "shipment_updated_at"])
        logger.info("shipment %s of campaign %s set to %s by %s", locked.pk, locked.campaign_id, status, _actor(by))
    _copy_shipment(locked, recipient)
    return recipient


def _is_shippable(recipient: CampaignRecipient) -> bool:
    return (
        recipient.group == CampaignRecipient.Group.TREATED
        and recipient.status == CampaignRecipient.Status.GIVEN
        and recipient.shipment in SHIPMENT_TRANSITIONS
    )


def _copy_shipment(source: CampaignRecipient, target: CampaignRecipient) -> None:
    for name in ("shipment", "tracking_code", "shipment_updated_at"):
        setattr(target, name, getattr(source, name))


def _actor(by: User | Partner | None) -> str:
    if by is None:
        return "-"
    return f"{type(by).__name__.lower()}:{by.pk}"


# --- a CSV of updates -------------------------------------------------------------------------------

# Accepted spellings of the import's columns (compared lower-case, with "-" and " " as "_").
_ID_COLUMNS = ("recipient_id", "recipient", "id")
_EMAIL_COLUMNS = ("email", "e_mail", "customer_email", "customer_e_mail")
_STATUS_COLUMNS = ("status", "shipment", "shipment_status")
_TRACKING_COLUMNS = ("tracking_code", "tracking", "tracking_number")


@dataclass(frozen=True)
class ShipmentImportError:
    """Why one row (``row``: its number in the file, the header being row 1) or, when ``row`` is
    None, the whole file was refused."""

    row: int | None
    message: str


@dataclass(frozen=True)
class ShipmentImportReport:
    """What an import did: nothing at all when ``errors`` is not empty."""

    rows: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: tuple[ShipmentImportError, ...] = ()

    @property
    def is_valid(self) -> bool:
        return not self.errors


@dataclass
class _Row:
    number: int
    recipient_id: int | None
    email: str
    status: str
    tracking_code: str
    errors: list[str] = field(default_factory=list)


def _column(header: list[str], names: Iterable[str]) -> int | None:
    normalised = [name.strip().lower().replace("-", "_").replace(" ", "_") for name in header]
    for name in names:
        if name in normalised:
            return normalised.index(name)
    return None


def _cell(cells: list[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    return csv_cell_unescape(cells[index])


def _read_csv(data: str | bytes) -> tuple[list[list[str]], ShipmentImportError | None]:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return [], ShipmentImportError(None, _("The file is not UTF-8 text. Save it as CSV UTF-8."))
    data = data.removeprefix("\ufeff")
    first_line = data.split("\n", 1)[0]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(first_line, delimiters=IMPORT_DELIMITERS)
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(data, newline=""), delimiter=dialect.delimiter, strict=True))
    except csv.Error as error:
        return [], ShipmentImportError(None, _("The file is not valid CSV: %(error)s.") % {"error": error})
    return rows, None


def _parse_row(number: int, cells: list[str], columns: tuple[int | None, ...]) -> _Row:
    id_column, email_column, status_column, tracking_column = columns
    raw_id, email = _cell(cells, id_column), _cell(cells, email_column)
    row = _Row(
        number=number,
        recipient_id=None,
        email=email.lower(),
        status=_cell(cells, status_column).lower(),
        tracking_code=_cell(cells, tracking_column),
    )
    if raw_id:
        if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18:
            row.recipient_id = int(raw_id)
        else:
            row.errors.append(_("The recipient id %(value)s is not a number.") % {"value": raw_id[:40]})
    elif not email:
        row.errors.append(_("Give the recipient id or the customer's e-mail."))
    if email and (not email.isprintable() or len(email) > EMAIL_MAX_LENGTH):
        row.errors.append(_("The e-mail %(value)s is not valid.") % {"value": email[:EMAIL_MAX_LENGTH]})
    if not row.status:
        row.errors.append(_("The status is missing."))
    elif row.status not in SHIPMENT_STATUSES:
        row.errors.append(
            _("Unknown status %(value)s; use one of: %(statuses)s.")
            % {"value": row.status[:40], "statuses": ", ".join(SHIPMENT_STATUSES)}
        )
    problem = tracking_code_problem(row.tracking_code)
    if problem is not None:
        row.errors.append(problem)
    return row


def _parse_rows(rows: list[list[str]]) -> tuple[list[_Row], ShipmentImportError | None]:
    """The data rows (blank ones skipped), each with the errors visible without the database."""
    if not rows:
        return [], ShipmentImportError(None, _("The file is empty."))
    header = rows[0]
    id_column, email_column = _column(header, _ID_COLUMNS), _column(header, _EMAIL_COLUMNS)
    status_column, tracking_column = _column(header, _STATUS_COLUMNS), _column(header, _TRACKING_COLUMNS)
    if status_column is None or (id_column is None and email_column is None):
        return [], ShipmentImportError(
            None,
            _("The first row must name the columns: recipient_id or email, status, and optionally tracking_code."),
        )
    if len(rows) - 1 > IMPORT_MAX_ROWS:
        return [], ShipmentImportError(
            None, _("The file has more than %(max)d rows; split it.") % {"max": IMPORT_MAX_ROWS}
        )
    columns = (id_column, email_column, status_column, tracking_column)
    parsed = [
        _parse_row(number, cells, columns)
        for number, cells in enumerate(rows[1:], start=2)
        if any(cell.strip() for cell in cells)
    ]
    if not parsed:
        return [], ShipmentImportError(None, _("The file has no rows below the header."))
    return parsed, None


def _recipients_for(*, campaign: Campaign, rows: list[_Row]) -> list[CampaignRecipient]:
    """The campaign's recipients the rows name, by id or e-mail, held until the import commits."""
    ids = {row.recipient_id for row in rows if row.recipient_id is not None}
    emails = {row.email for row in rows if row.email}
    if not ids and not emails:
        return []
    return list(
        CampaignRecipient.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(campaign=campaign)
        .filter(Q(pk__in=ids) | Q(customer__email__lower__in=emails))
        .order_by("pk")
    )


def _match(
    row: _Row, by_id: dict[int, CampaignRecipient], by_email: dict[str, CampaignRecipient]
) -> CampaignRecipient | None:
    if row.recipient_id is not None:
        recipient = by_id.get(row.recipient_id)
        if recipient is None:
            row.errors.append(_("No recipient %(id)s in this campaign.") % {"id": row.recipient_id})
            return None
        if row.email and recipient.customer.email.lower() != row.email:
            row.errors.append(
                _("Recipient %(id)s is not the customer %(email)s.") % {"id": row.recipient_id, "email": row.email}
            )
            return None
        return recipient
    recipient = by_email.get(row.email)
    if recipient is None:
        row.errors.append(_("No recipient with the e-mail %(email)s in this campaign.") % {"email": row.email})
    return recipient


def _check(row: _Row, recipient: CampaignRecipient, seen: dict[int, int]) -> bool:
    """Whether the row's move is allowed for its recipient, named by no earlier row."""
    if recipient.pk in seen:
        row.errors.append(
            _("Recipient %(id)s is already on row %(row)d.") % {"id": recipient.pk, "row": seen[recipient.pk]}
        )
        return False
    seen[recipient.pk] = row.number
    if not _is_shippable(recipient):
        row.errors.append(_("Recipient %(id)s has nothing to ship.") % {"id": recipient.pk})
        return False
    try:
        shipment_transition_check(current=recipient.shipment, target=row.status)
    except ShipmentTransitionInvalid:
        row.errors.append(
            _("Recipient %(id)s cannot move from %(current)s to %(target)s.")
            % {"id": recipient.pk, "current": recipient.shipment, "target": row.status}
        )
        return False
    return True


@transaction.atomic
def shipments_import_csv(*, campaign: Campaign, data: str | bytes, by: User | None = None) -> ShipmentImportReport:
    """Apply a CSV of shipment updates to ``campaign``: all of them, or none.

    Columns (named on the first row, in any order, others ignored): ``recipient_id`` or ``email``,
    ``status``, optionally ``tracking_code``; the warehouse CSV itself can be sent back. The
    delimiter may be ``,``, ``;`` or a tab.

    Every row is checked first, against the recipients held with ``select_for_update`` for the rest
    of the transaction: an unknown recipient or status, a recipient with nothing to ship, a move not
    allowed, a recipient named twice. If any row fails, nothing is written and the report lists
    every failing row with its reason. Otherwise the changed rows are written together
    (``bulk_update``, a statement per thousand rows); rows already in their status with the same or
    no tracking code are counted as unchanged. Importing the same file again changes nothing.
    """
    table, file_error = _read_csv(data)
    if file_error is not None:
        return ShipmentImportReport(errors=(file_error,))
    rows, file_error = _parse_rows(table)
    if file_error is not None:
        return ShipmentImportReport(errors=(file_error,))

    recipients = _recipients_for(campaign=campaign, rows=[row for row in rows if not row.errors])
    by_id = {recipient.pk: recipient for recipient in recipients}
    by_email = {recipient.customer.email.lower(): recipient for recipient in recipients}
    seen: dict[int, int] = {}
    changes: list[tuple[CampaignRecipient, _Row]] = []
    unchanged = 0
    for row in rows:
        recipient = None if row.errors else _match(row, by_id, by_email)
        if recipient is None or not _check(row, recipient, seen):
            continue
        if row.status != recipient.shipment or (row.tracking_code and row.tracking_code != recipient.tracking_code):
            changes.append((recipient, row))
        else:
            unchanged += 1

    errors = tuple(ShipmentImportError(row.number, message) for row in rows for message in row.errors)
    if errors:
        return ShipmentImportReport(rows=len(rows), errors=errors)

    now = timezone.now()
    for recipient, row in changes:
        recipient.shipment = row.status
        if row.tracking_code:
            recipient.tracking_code = row.tracking_code
        recipient.shipment_updated_at = now
    CampaignRecipient.objects.bulk_update(
        [recipient for recipient, _row in changes],
        ["shipment", "tracking_code", "shipment_updated_at"],
        batch_size=1000,
    )
    logger.info(
        "shipments of campaign %s imported by %s: %d updated, %d unchanged",
        campaign.pk,
        _actor(by),
        len(changes),
        unchanged,
    )
    return ShipmentImportReport(rows=len(rows), updated=len(changes), unchanged=unchanged)
