"""Shipping physical gifts and samples: the warehouse CSV, the allowed status moves, the all-or-nothing
CSV import, the partner API and the admin pages. Recipients are made directly (treated, given,
allocated), as the launch leaves them."""

from __future__ import annotations

import csv
import datetime
import io
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from django.template.loader import render_to_string
from django.test import Client
from django.urls import path, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import admin_shipments, shipments
from campaigns.admin_shipments import SHIPMENTS_ERRORS_SHOWN, ShipmentAdminMixin
from campaigns.models import Campaign, CampaignRecipient, GiftKind
from campaigns.shipments import (
    ShipmentTransitionInvalid,
    TrackingCodeInvalid,
    shipment_update,
    shipments_csv,
    shipments_import_csv,
)
from config import urls as config_urls
from customers.models import Customer, Scope, User
from tests.customers.factories import CustomerFactory

# The admin pages are tried on an admin site of their own, next to the project's URLs, so they work
# whether or not the project's CampaignAdmin includes ShipmentAdminMixin yet.
shipments_admin_site = admin.AdminSite(name="shipments_admin")


class CampaignShipmentsAdmin(ShipmentAdminMixin, admin.ModelAdmin):
    pass


shipments_admin_site.register(Campaign, CampaignShipmentsAdmin)

urlpatterns = [
    path("shipments-admin/", shipments_admin_site.urls),
    *config_urls.urlpatterns,
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

Shipment = CampaignRecipient.Shipment
ALLOCATED, SHIPPED, DELIVERED, RETURNED = Shipment.ALLOCATED, Shipment.SHIPPED, Shipment.DELIVERED, Shipment.RETURNED
HEADER = ["recipient_id", "customer_name", "email", "phone", "language", "gift_description", "status", "tracking_code"]


def campaign_make(**fields: Any) -> Campaign:
    defaults: dict[str, Any] = {
        "name": "Kahvinäyte",
        "kind": Campaign.Kind.SAMPLE,
        "gift_kind": GiftKind.SAMPLE,
        "gift_description": "Sample of the Juhla Mokka dark roast",
        "introduces_skus": ["JM-500", "JM-1000"],
        "cost_per_gift": Decimal("1.50"),
        "status": Campaign.Status.RUNNING,
    }
    defaults.update(fields)
    return Campaign.objects.create(**defaults)


def recipient_make(campaign: Campaign, customer: Customer | None = None, **fields: Any) -> CampaignRecipient:
    defaults: dict[str, Any] = {
        "group": CampaignRecipient.Group.TREATED,
        "status": CampaignRecipient.Status.GIVEN,
        "shipment": ALLOCATED,
        "shipment_updated_at": timezone.now(),
        "given_at": timezone.now(),
        "cost": Decimal("1.50"),
    }
    defaults.update(fields)
    return CampaignRecipient.objects.create(campaign=campaign, customer=customer or CustomerFactory(), **defaults)


def state(recipient: CampaignRecipient) -> tuple[str, str, Any]:
    recipient.refresh_from_db()
    return recipient.shipment, recipient.tracking_code, recipient.shipment_updated_at


def states(campaign: Campaign) -> dict[int, tuple[str, str, Any]]:
    return {
        row.pk: (row.shipment, row.tracking_code, row.shipment_updated_at)
        for row in CampaignRecipient.objects.filter(campaign=campaign)
    }


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def csv_text(*rows: list[Any], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


@pytest.fixture
def campaign() -> Campaign:
    return campaign_make()


@pytest.fixture
def aino(campaign: Campaign) -> CampaignRecipient:
    customer = CustomerFactory(
        email="aino.virtanen@example.fi", first_name="Aino", last_name="Virtanen", phone="+358401111111", language="fi"
    )
    return recipient_make(campaign, customer)


@pytest.fixture
def boris(campaign: Campaign) -> CampaignRecipient:
    customer = CustomerFactory(
        email="boris@example.ru", first_name="Борис", last_name="Петров", phone="", language="ru"
    )
    return recipient_make(campaign, customer, shipment=SHIPPED, tracking_code="JJFI123456789")


# --- the warehouse CSV ------------------------------------------------------------------------------


def test_the_warehouse_csv_lists_only_given_treated_recipients_with_something_to_ship(campaign, aino, boris):
    recipient_make(campaign, group=CampaignRecipient.Group.HOLDOUT, status="held_out", shipment="")
    recipient_make(campaign, status=CampaignRecipient.Status.PENDING, shipment="", given_at=None)
    recipient_make(campaign, status=CampaignRecipient.Status.OUT_OF_STOCK, shipment="", given_at=None)
    recipient_make(campaign, shipment="")  # given, but nothing to ship
    recipient_make(campaign_make(name="Other"))

    rows = parse(shipments_csv(campaign=campaign))

    assert rows == [
        HEADER,
        [
            str(aino.pk),
            "Aino Virtanen",
            "aino.virtanen@example.fi",
            "'+358401111111",
            "fi",
            "Sample of the Juhla Mokka dark roast",
            "allocated",
            "",
        ],
        [
            str(boris.pk),
            "Борис Петров",
            "boris@example.ru",
            "",
            "ru",
            "Sample of the Juhla Mokka dark roast",
            "shipped",
            "JJFI123456789",
        ],
    ]


def test_the_warehouse_csv_of_one_status(campaign, aino, boris):
    rows = parse(shipments_csv(campaign=campaign, status=SHIPPED))

    assert [row[0] for row in rows] == ["recipient_id", str(boris.pk)]


def test_the_warehouse_csv_of_a_campaign_without_shipments_is_the_header_only():
    assert parse(shipments_csv(campaign=campaign_make(gift_kind=GiftKind.POINTS))) == [HEADER]


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_every_cell_a_spreadsheet_would_run_as_a_formula_gets_a_quote_in_front(trigger):
    campaign = campaign_make(gift_description=f'{trigger}HYPERLINK("http://evil.example")')
    customer = CustomerFactory(first_name=f"{trigger}cmd|' /C calc'!A0", last_name="", email="x@example.fi")
    recipient = recipient_make(campaign, customer, tracking_code=f"{trigger}SUM(1+1)")

    row = parse(shipments_csv(campaign=campaign))[1]

    # the full name is stripped, so a tab or a carriage return cannot lead it
    name = "cmd|' /C calc'!A0" if trigger.isspace() else f"'{trigger}cmd|' /C calc'!A0"
    assert row == [
        str(recipient.pk),
        name,
        "x@example.fi",
        "",
        "fi",
        f'\'{trigger}HYPERLINK("http://evil.example")',
        "allocated",
        f"'{trigger}SUM(1+1)",
    ]


def test_commas_quotes_and_line_breaks_stay_inside_their_cell(campaign):
    campaign.gift_description = 'Mug "Kiitos", blue\nsecond line'
    campaign.save()
    recipient = recipient_make(campaign, CustomerFactory(first_name="Anna, Maria", last_name="O'Neil"))

    rows = parse(shipments_csv(campaign=campaign))

    assert len(rows) == 2
    assert rows[1][:2] == [str(recipient.pk), "Anna, Maria O'Neil"]
    assert rows[1][5] == 'Mug "Kiitos", blue\nsecond line'


def test_the_warehouse_csv_sent_back_unchanged_changes_nothing(campaign, aino, boris):
    Customer.objects.filter(pk=aino.customer_id).update(email="-aino@example.fi")
    CampaignRecipient.objects.filter(pk=aino.pk).update(tracking_code="-77")
    before = states(campaign)

    report = shipments_import_csv(campaign=campaign, data=shipments_csv(campaign=campaign))

    assert (report.is_valid, report.rows, report.updated, report.unchanged) == (True, 2, 0, 2)
    assert states(campaign) == before


# --- one update: the allowed moves ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"), [(ALLOCATED, SHIPPED), (SHIPPED, DELIVERED), (SHIPPED, RETURNED), (DELIVERED, RETURNED)]
)
def test_an_allowed_move_changes_the_status_and_stamps_it(campaign, current, target):
    earlier = timezone.now() - datetime.timedelta(days=2)
    recipient = recipient_make(campaign, shipment=current, tracking_code="OLD1", shipment_updated_at=earlier)

    returned = shipment_update(recipient=recipient, status=target, tracking_code="")

    assert returned is recipient
    assert recipient.shipment == target
    shipment, tracking_code, updated_at = state(recipient)
    assert (shipment, tracking_code) == (target, "OLD1")  # an empty code keeps the stored one
    assert updated_at > earlier


def test_shipping_records_the_tracking_code(campaign):
    recipient = recipient_make(campaign)

    shipment_update(recipient=recipient, status=SHIPPED, tracking_code="  JJFI000111  ")

    assert state(recipient)[:2] == (SHIPPED, "JJFI000111")


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (ALLOCATED, DELIVERED),
        (ALLOCATED, RETURNED),
        (SHIPPED, ALLOCATED),
        (DELIVERED, SHIPPED),
        (DELIVERED, ALLOCATED),
        (RETURNED, SHIPPED),
        (RETURNED, DELIVERED),
        (RETURNED, ALLOCATED),
        (ALLOCATED, ""),
        (SHIPPED, "lost"),
    ],
)
def test_any_other_move_is_refused_and_changes_nothing(campaign, current, target):
    recipient = recipient_make(campaign, shipment=current, tracking_code="T1")
    before = state(recipient)

    with pytest.raises(ShipmentTransitionInvalid) as error:
        shipment_update(recipient=recipient, status=target, tracking_code="T2")

    assert error.value.code == "shipment_transition_invalid"
    assert error.value.status == 409
    assert error.value.details == {"current": current, "target": target}
    assert state(recipient) == before


@pytest.mark.parametrize("status", [ALLOCATED, SHIPPED, DELIVERED, RETURNED])
@pytest.mark.parametrize("tracking_code", ["", "T1"])
def test_repeating_the_status_is_a_no_op_that_returns_the_row(
    campaign, status, tracking_code, django_assert_num_queries
):
    recipient = recipient_make(campaign, shipment=status, tracking_code="T1")
    before = state(recipient)

    # savepoint, the row (held), release: no write
    with django_assert_num_queries(3):
        returned = shipment_update(recipient=recipient, status=status, tracking_code=tracking_code)

    assert returned is recipient
    assert state(recipient) == before


def test_the_same_status_with_another_tracking_code_corrects_the_code(campaign):
    recipient = recipient_make(campaign, shipment=SHIPPED, tracking_code="JJFI0001")
    before = state(recipient)

    shipment_update(recipient=recipient, status=SHIPPED, tracking_code="JJFI0002")

    shipment, tracking_code, updated_at = state(recipient)
    assert (shipment, tracking_code) == (SHIPPED, "JJFI0002")
    assert updated_at > before[2]


@pytest.mark.parametrize(
    "fields",
    [
        {"group": CampaignRecipient.Group.HOLDOUT, "status": CampaignRecipient.Status.HELD_OUT, "shipment": ""},
        {"status": CampaignRecipient.Status.PENDING, "shipment": ""},
        {"status": CampaignRecipient.Status.OUT_OF_STOCK, "shipment": ""},
        {"shipment": ""},
        # inconsistent on purpose: a shipment status on a row that was never given
        {"status": CampaignRecipient.Status.OVER_BUDGET, "shipment": ALLOCATED},
    ],
)
def test_a_recipient_with_nothing_to_ship_cannot_be_shipped(campaign, fields):
    recipient = recipient_make(campaign, **fields)
    before = state(recipient)

    with pytest.raises(ShipmentTransitionInvalid) as error:
        shipment_update(recipient=recipient, status=SHIPPED, tracking_code="T1")

    assert error.value.code == "shipment_transition_invalid"
    assert state(recipient) == before


@pytest.mark.parametrize("code", ["X" * 65, "JJ\x00FI", "JJ\nFI"])
def test_an_unusable_tracking_code_is_refused(campaign, code):
    recipient = recipient_make(campaign)
    before = state(recipient)

    with pytest.raises(TrackingCodeInvalid) as error:
        shipment_update(recipient=recipient, status=SHIPPED, tracking_code=code)

    assert error.value.code == "tracking_code_invalid"
    assert state(recipient) == before


def _wait_for_lock_wait(deadline_seconds: float = 10.0) -> None:
    """Poll until another session waits for a row lock (no fixed sleep), or fail at the deadline."""
    deadline = time.monotonic() + deadline_seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)  # a polling interval, not a wait for the outcome
    pytest.fail("the second update never waited for the row lock")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_update_waits_for_a_concurrent_one_and_is_checked_against_its_result():
    campaign = campaign_make()
    recipient = recipient_make(campaign, shipment=SHIPPED, tracking_code="T1")
    stale = CampaignRecipient.objects.get(pk=recipient.pk)  # still "shipped" in memory
    first_done, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                shipment_update(recipient=recipient, status=RETURNED)
                first_done.set()
                release.wait(timeout=10)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            shipment_update(recipient=stale, status=DELIVERED)
        except ShipmentTransitionInvalid as error:
            outcome["error"] = error
        finally:
            connections.close_all()

    one = threading.Thread(target=first)
    one.start()
    assert first_done.wait(timeout=10)
    two = threading.Thread(target=second)
    two.start()
    _wait_for_lock_wait()
    release.set()
    one.join(timeout=10)
    two.join(timeout=10)

    assert outcome["error"].details == {"current": RETURNED, "target": DELIVERED}
    assert state(recipient)[:2] == (RETURNED, "T1")


# --- a CSV of updates -------------------------------------------------------------------------------


def test_an_import_by_id_or_email_applies_every_row(campaign, aino, boris):
    carl = recipient_make(campaign, CustomerFactory(email="carl@example.fi"), shipment=DELIVERED)
    data = csv_text(
        ["recipient_id", "email", "status", "tracking_code"],
        [aino.pk, "", "shipped", "JJFI0001"],
        ["", "BORIS@Example.RU", "Delivered", ""],
        [carl.pk, "carl@example.fi", "delivered", ""],
        ["", "", "", ""],
    )

    report = shipments_import_csv(campaign=campaign, data=data)

    assert (report.is_valid, report.rows, report.updated, report.unchanged) == (True, 3, 2, 1)
    assert state(aino)[:2] == (SHIPPED, "JJFI0001")
    assert state(boris)[:2] == (DELIVERED, "JJFI123456789")
    assert state(carl)[:2] == (DELIVERED, "")


def test_an_import_saved_by_a_spreadsheet_with_semicolons_and_a_byte_order_mark(campaign, aino):
    data = "\ufeff" + csv_text(["Recipient ID", "Status", "Tracking code"], [aino.pk, "shipped", "JJ-1"], delimiter=";")

    report = shipments_import_csv(campaign=campaign, data=data.encode("utf-8"))

    assert (report.is_valid, report.updated) == (True, 1)
    assert state(aino)[:2] == (SHIPPED, "JJ-1")


def test_importing_the_same_file_twice_changes_nothing_the_second_time(campaign, aino, boris):
    data = csv_text(
        ["recipient_id", "status", "tracking_code"], [aino.pk, "shipped", "T9"], [boris.pk, "delivered", ""]
    )
    shipments_import_csv(campaign=campaign, data=data)
    after_first = states(campaign)

    report = shipments_import_csv(campaign=campaign, data=data)

    assert (report.updated, report.unchanged) == (0, 2)
    assert states(campaign) == after_first


BAD_ROWS: dict[str, tuple[Callable[[dict[str, Any]], list[Any]], str]] = {
    "unknown id": (lambda r: [999_999, "", "shipped", ""], "No recipient 999999 in this campaign."),
    "another campaign's recipient": (
        lambda r: [r["other"].pk, "", "shipped", ""],
        "No recipient {other} in this campaign.",
    ),
    "held out": (lambda r: [r["holdout"].pk, "", "shipped", ""], "Recipient {holdout} has nothing to ship."),
    "unknown e-mail": (
        lambda r: ["", "nobody@example.fi", "shipped", ""],
        "No recipient with the e-mail nobody@example.fi in this campaign.",
    ),
    "id and e-mail of two people": (
        lambda r: [r["allocated"].pk, "boris@example.ru", "shipped", ""],
        "Recipient {allocated} is not the customer boris@example.ru.",
    ),
    "neither id nor e-mail": (lambda r: ["", "", "shipped", "T1"], "Give the recipient id or the customer's e-mail."),
    "id not a number": (lambda r: ["12a", "", "shipped", ""], "The recipient id 12a is not a number."),
    "status missing": (lambda r: [r["allocated"].pk, "", "", ""], "The status is missing."),
    "unknown status": (
        lambda r: [r["allocated"].pk, "", "lost", ""],
        "Unknown status lost; use one of: allocated, shipped, delivered, returned.",
    ),
    "a move back": (
        lambda r: [r["shipped"].pk, "", "allocated", ""],
        "Recipient {shipped} cannot move from shipped to allocated.",
    ),
    "a skipped step": (
        lambda r: [r["allocated"].pk, "", "delivered", ""],
        "Recipient {allocated} cannot move from allocated to delivered.",
    ),
    "tracking code too long": (
        lambda r: [r["allocated"].pk, "", "shipped", "X" * 65],
        "The tracking code is longer than 64 characters.",
    ),
    "NUL in the tracking code": (
        lambda r: [r["allocated"].pk, "", "shipped", "JJ\x00"],
        "The tracking code has control characters.",
    ),
    "NUL in the e-mail": (
        lambda r: ["", "a\x00@example.fi", "shipped", ""],
        "The e-mail a\x00@example.fi is not valid.",
    ),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_one_bad_row_stops_the_whole_import_and_is_reported_with_its_number(campaign, aino, boris, case):
    people = {
        "allocated": aino,
        "shipped": boris,
        "other": recipient_make(campaign_make(name="Other")),
        "holdout": recipient_make(
            campaign, group=CampaignRecipient.Group.HOLDOUT, status=CampaignRecipient.Status.HELD_OUT, shipment=""
        ),
    }
    good, also_good = recipient_make(campaign), recipient_make(campaign)
    make_row, message = BAD_ROWS[case]
    data = csv_text(
        ["recipient_id", "email", "status", "tracking_code"],
        [good.pk, "", "shipped", "GOOD1"],
        make_row(people),
        [],  # a blank line is skipped, but keeps its number
        [also_good.pk, "", "shipped", ""],
    )
    before = states(campaign), states(people["other"].campaign)

    report = shipments_import_csv(campaign=campaign, data=data)

    assert not report.is_valid
    expected = message.format(**{name: recipient.pk for name, recipient in people.items()})
    assert [(error.row, error.message) for error in report.errors] == [(3, expected)]
    assert (report.updated, report.unchanged) == (0, 0)
    assert (states(campaign), states(people["other"].campaign)) == before


def test_every_bad_row_is_reported_including_a_recipient_named_twice(campaign, aino, boris):
    before = states(campaign)
    data = csv_text(
        ["recipient_id", "email", "status"],
        [aino.pk, "", "shipped"],
        [boris.pk, "", "allocated"],
        ["", "AINO.virtanen@example.fi", "shipped"],
        ["x", "", "gone"],
    )

    report = shipments_import_csv(campaign=campaign, data=data)

    assert [(error.row, error.message) for error in report.errors] == [
        (3, f"Recipient {boris.pk} cannot move from shipped to allocated."),
        (4, f"Recipient {aino.pk} is already on row 2."),
        (5, "The recipient id x is not a number."),
        (5, "Unknown status gone; use one of: allocated, shipped, delivered, returned."),
    ]
    assert states(campaign) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "The file is empty."),
        (b"\xff\xfe\x00bad", "The file is not UTF-8 text. Save it as CSV UTF-8."),
        (
            "name,phone\nAino,+358\n",
            "The first row must name the columns: recipient_id or email, status, and optionally tracking_code.",
        ),
        ("recipient_id,status\n\n,\n", "The file has no rows below the header."),
        ('recipient_id,status\n1,"ship"ped\n', "The file is not valid CSV: ',' expected after '\"'."),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(campaign, aino, data, message):
    before = states(campaign)

    report = shipments_import_csv(campaign=campaign, data=data)

    assert [(error.row, error.message) for error in report.errors] == [(None, message)]
    assert states(campaign) == before


def test_rows_that_all_fail_on_their_own_are_not_looked_up(campaign, aino, django_assert_num_queries):
    data = csv_text(["recipient_id", "status"], ["x1", "shipped"], [aino.pk, "lost"])

    # savepoint, release: no recipient is read
    with django_assert_num_queries(2):
        report = shipments_import_csv(campaign=campaign, data=data)

    assert [error.row for error in report.errors] == [2, 3]
    assert state(aino)[0] == ALLOCATED


def test_a_file_with_too_many_rows_is_refused(campaign, aino, monkeypatch):
    monkeypatch.setattr(shipments, "IMPORT_MAX_ROWS", 2)
    data = csv_text(["recipient_id", "status"], *[[aino.pk, "shipped"]] * 3)

    report = shipments_import_csv(campaign=campaign, data=data)

    assert [error.message for error in report.errors] == ["The file has more than 2 rows; split it."]
    assert state(aino)[0] == ALLOCATED


def test_an_import_takes_the_same_queries_for_three_rows_or_thirty(campaign, django_assert_num_queries):
    def run(count: int) -> None:
        rows = [recipient_make(campaign) for _index in range(count)]
        data = csv_text(
            ["recipient_id", "status", "tracking_code"], *[[row.pk, "shipped", f"T{row.pk}"] for row in rows]
        )
        # savepoint, the named recipients (held), the update of all of them, release
        with django_assert_num_queries(4):
            report = shipments_import_csv(campaign=campaign, data=data)
        assert report.updated == count

    run(3)
    run(30)
    assert set(CampaignRecipient.objects.values_list("shipment", flat=True)) == {SHIPPED}


# --- the partner API --------------------------------------------------------------------------------


def list_url(campaign: Campaign | int) -> str:
    return f"/api/v1/campaigns/{getattr(campaign, 'pk', campaign)}/shipments/"


def detail_url(campaign: Campaign | int, recipient: CampaignRecipient | int) -> str:
    return f"{list_url(campaign)}{getattr(recipient, 'pk', recipient)}/"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


@pytest.fixture
def writer(make_api_client: Callable[..., APIClient]) -> APIClient:
    return make_api_client([Scope.CAMPAIGNS_WRITE])


@pytest.fixture
def reader(make_api_client: Callable[..., APIClient]) -> APIClient:
    return make_api_client([Scope.CAMPAIGNS_READ])


def test_campaigns_write_is_a_known_scope():
    assert "campaigns:write" in Scope.values


def test_the_endpoints_are_part_of_the_partner_api():
    assert reverse("api:campaign-shipment-list", args=[7]) == "/api/v1/campaigns/7/shipments/"
    assert reverse("api:campaign-shipment-detail", args=[7, 9]) == "/api/v1/campaigns/7/shipments/9/"


def test_a_partner_reports_a_shipment_shipped(writer, campaign, aino):
    response = writer.patch(detail_url(campaign, aino), {"status": "shipped", "tracking_code": "JJFI42"}, format="json")

    assert response.status_code == 200, response.content
    aino.refresh_from_db()
    assert response.json() == {
        "id": aino.pk,
        "customer": str(aino.customer.public_id),
        "gift": "Sample of the Juhla Mokka dark roast",
        "status": "shipped",
        "tracking_code": "JJFI42",
        "updated_at": timezone.localtime(aino.shipment_updated_at).isoformat(),
        "given_at": timezone.localtime(aino.given_at).isoformat(),
    }
    assert (aino.shipment, aino.tracking_code) == (SHIPPED, "JJFI42")


def test_a_repeated_report_answers_the_same_body_and_changes_nothing(writer, campaign, boris):
    body = {"status": "shipped", "tracking_code": "JJFI123456789"}
    before = state(boris)

    first = writer.patch(detail_url(campaign, boris), body, format="json")
    second = writer.patch(detail_url(campaign, boris), body, format="json")

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert state(boris) == before


def test_a_move_not_allowed_is_a_409_problem_and_changes_nothing(writer, campaign, boris):
    before = state(boris)

    response = writer.patch(detail_url(campaign, boris), {"status": "allocated"}, format="json")

    body = assert_problem(response, 409, "shipment_transition_invalid")
    assert (body["current"], body["target"]) == ("shipped", "allocated")
    assert state(boris) == before


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "status", "required"),
        ({"status": "lost"}, "status", "invalid_choice"),
        ({"status": ["shipped"]}, "status", "invalid_choice"),
        ({"status": "shipped", "tracking_code": 123}, "tracking_code", "invalid"),
        ({"status": "shipped", "tracking_code": "X" * 65}, "tracking_code", "max_length"),
        ({"status": "shipped", "tracking_code": "JJ\u0000"}, "tracking_code", "null_characters_not_allowed"),
        ({"status": "shipped", "tracking_code": "JJ\u0007"}, "tracking_code", "invalid_characters"),
        ({"status": "shipped", "carrier": "Posti"}, "carrier", "unknown_field"),
    ],
)
def test_invalid_input_is_a_400_problem_and_changes_nothing(writer, campaign, aino, body, field, code):
    before = state(aino)

    response = writer.patch(detail_url(campaign, aino), body, format="json")

    problem = assert_problem(response, 400, "invalid")
    assert [error["code"] for error in problem["errors"][field]] == [code]
    assert state(aino) == before


@pytest.mark.parametrize(
    "target",
    ["unknown campaign", "unknown recipient", "other campaign's recipient", "held out", "not given", "huge ids"],
)
def test_a_shipment_not_in_the_campaign_is_a_404_and_changes_nothing(writer, campaign, aino, target):
    other_campaign = campaign_make(name="Other")
    other = recipient_make(other_campaign)
    holdout = recipient_make(
        campaign, group=CampaignRecipient.Group.HOLDOUT, status=CampaignRecipient.Status.HELD_OUT, shipment=""
    )
    pending = recipient_make(campaign, status=CampaignRecipient.Status.PENDING, shipment="", given_at=None)
    url, code = {
        "unknown campaign": (detail_url(999_999, aino), "campaign_not_found"),
        "unknown recipient": (detail_url(campaign, 999_999), "shipment_not_found"),
        "other campaign's recipient": (detail_url(campaign, other), "shipment_not_found"),
        "held out": (detail_url(campaign, holdout), "shipment_not_found"),
        "not given": (detail_url(campaign, pending), "shipment_not_found"),
        "huge ids": (detail_url(10**30, 10**30), "campaign_not_found"),
    }[target]
    before = states(campaign), states(other_campaign)

    response = writer.patch(url, {"status": "shipped", "tracking_code": "T1"}, format="json")

    assert_problem(response, 404, code)
    assert (states(campaign), states(other_campaign)) == before


def test_another_campaigns_recipient_is_updated_through_its_own_campaign_only(writer, campaign, aino):
    response = writer.patch(detail_url(campaign_make(name="Other"), aino), {"status": "shipped"}, format="json")

    assert_problem(response, 404, "shipment_not_found")
    assert state(aino)[0] == ALLOCATED


def test_without_a_key_both_endpoints_are_401(campaign, aino):
    client = APIClient()
    before = state(aino)

    assert_problem(client.get(list_url(campaign)), 401, "not_authenticated")
    assert_problem(
        client.patch(detail_url(campaign, aino), {"status": "shipped"}, format="json"), 401, "not_authenticated"
    )
    assert state(aino) == before


def test_reporting_needs_campaigns_write(make_api_client, campaign, aino):
    client = make_api_client([scope for scope in Scope.values if scope != Scope.CAMPAIGNS_WRITE])
    before = state(aino)

    response = client.patch(detail_url(campaign, aino), {"status": "shipped"}, format="json")

    body = assert_problem(response, 403, "missing_scope")
    assert "campaigns:write" in body["detail"]
    assert state(aino) == before


def test_listing_needs_campaigns_read(make_api_client, campaign, aino):
    client = make_api_client([scope for scope in Scope.values if scope != Scope.CAMPAIGNS_READ])

    body = assert_problem(client.get(list_url(campaign)), 403, "missing_scope")
    assert "campaigns:read" in body["detail"]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_other_methods_are_not_allowed(make_api_client, campaign, aino, method):
    client = make_api_client(list(Scope.values))

    response = getattr(client, method)(detail_url(campaign, aino), {"status": "shipped"}, format="json")

    assert_problem(response, 405, "method_not_allowed")
    assert state(aino)[0] == ALLOCATED


def test_the_list_shows_the_campaigns_shipments_newest_first_with_constant_queries(
    reader, campaign, aino, boris, django_assert_num_queries
):
    recipient_make(campaign, group=CampaignRecipient.Group.HOLDOUT, status="held_out", shipment="")
    recipient_make(campaign_make(name="Other"))
    reader.get(list_url(campaign))  # the key's last-used stamp is written on first use only

    # key look-up, the campaign, one page of shipments
    with django_assert_num_queries(3):
        response = reader.get(list_url(campaign))

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(row["id"], row["status"], row["tracking_code"]) for row in results] == [
        (boris.pk, "shipped", "JJFI123456789"),
        (aino.pk, "allocated", ""),
    ]
    assert results[0]["customer"] == str(boris.customer.public_id)
    assert "email" not in results[0]  # contact details stay behind customers:read

    for _index in range(20):
        recipient_make(campaign)
    with django_assert_num_queries(3):
        response = reader.get(list_url(campaign))
    assert len(response.json()["results"]) == 22


def test_the_list_filters_by_status_and_pages_with_a_cursor(reader, campaign, aino, boris):
    third = recipient_make(campaign)

    shipped = reader.get(list_url(campaign), {"status": "shipped"}).json()
    first_page = reader.get(list_url(campaign), {"status": "allocated", "page_size": 1}).json()
    second_page = reader.get(first_page["next"]).json()

    assert [row["id"] for row in shipped["results"]] == [boris.pk]
    assert [row["id"] for row in first_page["results"]] == [third.pk]
    assert [row["id"] for row in second_page["results"]] == [aino.pk]
    assert second_page["next"] is None


def test_an_unknown_status_filter_is_a_400_problem(reader, campaign):
    body = assert_problem(reader.get(list_url(campaign), {"status": "lost"}), 400, "invalid")
    assert "status" in body["errors"]


@pytest.mark.parametrize("campaign_id", [999_999, 10**30])
def test_the_list_of_an_unknown_campaign_is_a_404(reader, campaign_id):
    assert_problem(reader.get(list_url(campaign_id)), 404, "campaign_not_found")


# --- the admin pages --------------------------------------------------------------------------------


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="not-used-here")


@pytest.fixture
def admin_client(client: Client, staff: User) -> Client:
    client.force_login(staff)
    return client


def csv_url(campaign: Campaign | int, **query: str) -> str:
    url = reverse("shipments_admin:campaigns_campaign_shipments_csv", args=[getattr(campaign, "pk", campaign)])
    return url + (f"?status={query['status']}" if query else "")


def upload_url(campaign: Campaign | int) -> str:
    return reverse("shipments_admin:campaigns_campaign_shipments_upload", args=[getattr(campaign, "pk", campaign)])


def change_url(campaign: Campaign) -> str:
    return reverse("shipments_admin:campaigns_campaign_change", args=[campaign.pk])


def downloaded(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def upload(client: Client, campaign: Campaign, text: str | bytes):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return client.post(upload_url(campaign), {"file": SimpleUploadedFile("updates.csv", data, "text/csv")})


def test_the_admin_downloads_the_warehouse_csv_in_constant_queries(
    admin_client, campaign, aino, boris, django_assert_num_queries
):
    # session, user, the campaign, the shipments with their customers
    with django_assert_num_queries(4):
        response = admin_client.get(csv_url(campaign))
        content = downloaded(response)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="campaign-{campaign.pk}-shipments.csv"'
    assert content.startswith("\ufeff")
    assert content.removeprefix("\ufeff") == shipments_csv(campaign=campaign)

    for _index in range(20):
        recipient_make(campaign)
    with django_assert_num_queries(4):
        assert len(parse(downloaded(admin_client.get(csv_url(campaign))).removeprefix("\ufeff"))) == 23


def test_the_admin_downloads_one_status_only(admin_client, campaign, aino, boris):
    response = admin_client.get(csv_url(campaign, status="shipped"))

    assert response["Content-Disposition"] == f'attachment; filename="campaign-{campaign.pk}-shipments-shipped.csv"'
    assert [row[0] for row in parse(downloaded(response).removeprefix("\ufeff"))] == ["recipient_id", str(boris.pk)]


def test_the_upload_page_in_constant_queries(admin_client, campaign, django_assert_num_queries):
    # session, user, the campaign
    with django_assert_num_queries(3):
        response = admin_client.get(upload_url(campaign))

    assert response.status_code == 200
    assert response.context["campaign"] == campaign
    assert csv_url(campaign).encode() in response.content


def test_a_good_upload_is_applied_and_goes_back_to_the_campaign(admin_client, campaign, aino, boris):
    data = csv_text(["recipient_id", "status", "tracking_code"], [aino.pk, "shipped", "JJ1"], [boris.pk, "shipped", ""])

    response = upload(admin_client, campaign, data)

    assert response.status_code == 302
    assert response["Location"] == change_url(campaign)
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "1 shipments updated, 1 already up to date."
    ]
    assert state(aino)[:2] == (SHIPPED, "JJ1")


def test_a_bad_upload_shows_every_bad_row_as_a_form_error_and_changes_nothing(admin_client, campaign, aino, boris):
    before = states(campaign)
    data = csv_text(["recipient_id", "status"], [aino.pk, "shipped"], [boris.pk, "allocated"], [999_999, "shipped"])

    response = upload(admin_client, campaign, data)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Nothing was changed.",
        f"Row 3: Recipient {boris.pk} cannot move from shipped to allocated.",
        "Row 4: No recipient 999999 in this campaign.",
    ]
    assert states(campaign) == before


def test_a_long_list_of_bad_rows_is_cut_short(admin_client, campaign, aino):
    rows = [[999_000 + index, "shipped"] for index in range(SHIPMENTS_ERRORS_SHOWN + 5)]

    response = upload(admin_client, campaign, csv_text(["recipient_id", "status"], *rows))

    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1 + SHIPMENTS_ERRORS_SHOWN + 1
    assert errors[-1] == "... and 5 more errors."


def test_an_unreadable_upload_is_a_form_error(admin_client, campaign, aino):
    response = upload(admin_client, campaign, b"\xff\xfe\x00")

    assert response.context["form"].non_field_errors() == [
        "Nothing was changed.",
        "The file is not UTF-8 text. Save it as CSV UTF-8.",
    ]
    assert state(aino)[0] == ALLOCATED


def test_an_upload_over_the_size_limit_is_a_form_error(admin_client, campaign, aino, monkeypatch):
    monkeypatch.setattr(admin_shipments, "SHIPMENTS_UPLOAD_MAX_BYTES", 10)

    response = upload(admin_client, campaign, csv_text(["recipient_id", "status"], [aino.pk, "shipped"]))

    assert response.status_code == 200
    assert response.context["form"].errors["file"] == ["The file is larger than 10\xa0bytes."]
    assert state(aino)[0] == ALLOCATED


def test_an_upload_without_a_file_is_a_form_error(admin_client, campaign):
    response = admin_client.post(upload_url(campaign), {})

    assert response.status_code == 200
    assert response.context["form"].errors["file"] == ["This field is required."]


def test_an_upload_takes_the_same_queries_for_three_rows_or_thirty(admin_client, campaign, django_assert_num_queries):
    def run(count: int) -> None:
        rows = [recipient_make(campaign) for _index in range(count)]
        data = csv_text(["recipient_id", "status"], *[[row.pk, "shipped"] for row in rows])
        # session, user, the campaign, savepoint, the named recipients (held), their update, release
        # (the success message goes in a cookie)
        with django_assert_num_queries(7):
            response = upload(admin_client, campaign, data)
        assert response.status_code == 302

    run(3)
    run(30)
    assert set(CampaignRecipient.objects.values_list("shipment", flat=True)) == {SHIPPED}


def test_an_unknown_campaign_goes_back_to_the_admin_home(admin_client):
    for url in (csv_url(999_999), upload_url(999_999)):
        response = admin_client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("shipments_admin:index")


def test_staff_without_permission_on_campaigns_are_refused(client, campaign, aino):
    clerk = User.objects.create_user(username="clerk", password="x", is_staff=True)
    client.force_login(clerk)
    data = csv_text(["recipient_id", "status"], [aino.pk, "shipped"])

    assert client.get(csv_url(campaign)).status_code == 403
    assert upload(client, campaign, data).status_code == 403
    assert state(aino)[0] == ALLOCATED

    clerk.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    clerk = User.objects.get(pk=clerk.pk)  # a fresh permission cache
    client.force_login(clerk)
    assert client.get(csv_url(campaign)).status_code == 200
    assert upload(client, campaign, data).status_code == 403  # uploading changes: change permission
    assert state(aino)[0] == ALLOCATED


def test_a_visitor_who_is_not_staff_is_sent_to_the_login(client, campaign, aino):
    response = client.get(csv_url(campaign))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize(
    ("gift_kind", "shown"),
    [(GiftKind.PHYSICAL, True), (GiftKind.SAMPLE, True), (GiftKind.POINTS, False), (GiftKind.VOUCHER, False)],
)
def test_the_object_tools_link_both_pages_for_a_campaign_that_ships(rf, staff, gift_kind, shown):
    campaign = campaign_make(gift_kind=gift_kind)
    request = rf.get("/")
    request.current_app = "shipments_admin"

    html = render_to_string(
        "admin/campaigns/campaign/shipment_tools.html",
        {"original": campaign, "opts": Campaign._meta},
        request=request,
    )

    assert (csv_url(campaign) in html, upload_url(campaign) in html) == (shown, shown)
