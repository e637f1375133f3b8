"""Complaints: opened by the customer in the portal (or by staff), handled by staff in the admin
through ``complaint_update``, whose rules hold whoever calls it; the portal shows each customer
their own complaints only, with status and resolution."""

from __future__ import annotations

import datetime
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import IntegrityError, connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.errors import CustomerNotActive
from customers.feedback import (
    OPEN_COMPLAINTS_MAX,
    ComplaintInvalid,
    ComplaintReopenForbidden,
    TooManyOpenComplaints,
    complaint_changes,
    complaint_open,
    complaint_update,
    complaints_for_customer,
)
from customers.models import Complaint, Customer, User
from customers.services import customer_portal_login_ensure
from tests.customers.factories import CustomerFactory

Status = Complaint.Status
FEEDBACK_URL = reverse("portal:feedback")
CHANGELIST_URL = reverse("admin:customers_complaint_changelist")
ADD_URL = reverse("admin:customers_complaint_add")


def complaint_url(complaint: Complaint) -> str:
    return reverse("portal:complaint", args=[complaint.pk])


def change_url(complaint: Complaint) -> str:
    return reverse("admin:customers_complaint_change", args=[complaint.pk])


def state(complaint: Complaint) -> tuple[Any, ...]:
    fresh = Complaint.objects.get(pk=complaint.pk)
    return (fresh.status, fresh.owner_id, fresh.resolution, fresh.resolved_at, fresh.updated_at)


@pytest.fixture
def aino(db: None) -> Customer:
    customer = CustomerFactory(email="aino@example.fi", first_name="Aino", language="en")
    customer_portal_login_ensure(customer=customer)
    customer.refresh_from_db()
    return customer


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user(username="tuki", email="tuki@vastavuoro.test", password="x", is_staff=True)


@pytest.fixture
def boss(db: None) -> User:
    return User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="x")


@pytest.fixture
def complaint(aino: Customer) -> Complaint:
    return complaint_open(customer=aino, subject="Broken mug", description="The mug arrived in pieces.")


# --- complaint_open --------------------------------------------------------------------------------


def test_a_complaint_opens_with_the_customers_words(aino):
    complaint = complaint_open(customer=aino, subject="  Broken mug ", description="\nIt arrived in pieces.\n")

    stored = Complaint.objects.get()
    assert stored.pk == complaint.pk
    assert (stored.customer_id, stored.subject, stored.description) == (aino.pk, "Broken mug", "It arrived in pieces.")
    assert (stored.status, stored.owner, stored.resolution, stored.resolved_at, stored.source) == (
        "open",
        None,
        "",
        None,
        "portal",
    )


@pytest.mark.parametrize(
    ("subject", "description", "code"),
    [
        ("", "Text", "subject_required"),
        ("   ", "Text", "subject_required"),
        ("Subject", " \n ", "description_required"),
        ("x" * 201, "Text", "subject_too_long"),
        ("Subject", "x" * 4001, "description_too_long"),
    ],
)
def test_a_complaint_without_subject_or_text_is_refused(aino, subject, description, code):
    with pytest.raises(ComplaintInvalid) as refused:
        complaint_open(customer=aino, subject=subject, description=description)

    assert refused.value.code == code
    assert Complaint.objects.count() == 0


def test_an_inactive_customer_cannot_complain(aino):
    Customer.objects.filter(pk=aino.pk).update(status=Customer.Status.BLOCKED)

    with pytest.raises(CustomerNotActive):
        complaint_open(customer=aino, subject="Subject", description="Text")
    assert Complaint.objects.count() == 0


def test_the_same_complaint_sent_twice_is_one_complaint(aino, complaint):
    again = complaint_open(customer=aino, subject="Broken mug", description="The mug arrived in pieces.")

    assert again.pk == complaint.pk
    assert Complaint.objects.count() == 1


def test_the_same_words_later_or_after_closing_are_a_new_complaint(aino, complaint, staff):
    Complaint.objects.filter(pk=complaint.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=11))
    later = complaint_open(customer=aino, subject="Broken mug", description="The mug arrived in pieces.")
    complaint_update(complaint=later, by=staff, status=Status.RESOLVED, resolution="Sent a new mug.")
    after_closing = complaint_open(customer=aino, subject="Broken mug", description="The mug arrived in pieces.")

    assert len({complaint.pk, later.pk, after_closing.pk}) == 3


def test_the_portal_limits_the_complaints_open_at_once_staff_does_not(aino):
    for index in range(OPEN_COMPLAINTS_MAX):
        complaint_open(customer=aino, subject=f"Problem {index}", description="Text")

    with pytest.raises(TooManyOpenComplaints) as refused:
        complaint_open(customer=aino, subject="One more", description="Text")
    assert refused.value.code == "too_many_open_complaints"
    assert Complaint.objects.count() == OPEN_COMPLAINTS_MAX

    by_staff = complaint_open(customer=aino, subject="Phoned in", description="Text", source=Complaint.Source.STAFF)
    assert by_staff.source == "staff"
    assert Complaint.objects.count() == OPEN_COMPLAINTS_MAX + 1


def test_an_owner_must_be_active_staff(aino):
    customer_login = User.objects.create_user(username="someone", password="x")

    with pytest.raises(ComplaintInvalid) as refused:
        complaint_open(customer=aino, subject="Subject", description="Text", owner=customer_login)
    assert refused.value.code == "owner_not_staff"
    assert Complaint.objects.count() == 0


# --- complaint_update: the rules -------------------------------------------------------------------


@pytest.mark.parametrize("closed", [Status.RESOLVED, Status.REJECTED])
@pytest.mark.parametrize("resolution", [None, "", "   "])
def test_resolving_or_rejecting_needs_a_resolution(complaint, staff, closed, resolution):
    before = state(complaint)

    with pytest.raises(ComplaintInvalid) as refused:
        complaint_update(complaint=complaint, by=staff, status=closed, resolution=resolution)

    assert refused.value.code == "resolution_required"
    assert state(complaint) == before


@pytest.mark.parametrize("closed", [Status.RESOLVED, Status.REJECTED])
def test_resolving_or_rejecting_stamps_the_time(complaint, staff, closed):
    updated = complaint_update(complaint=complaint, by=staff, status=closed, resolution="  A new mug is on its way. ")

    status, _owner, resolution, resolved_at, _updated = state(complaint)
    assert (status, resolution) == (closed, "A new mug is on its way.")
    assert resolved_at is not None
    assert abs(resolved_at - timezone.now()) < datetime.timedelta(seconds=5)
    assert (updated.status, updated.resolved_at, updated.is_closed) == (closed, resolved_at, True)


def test_a_closed_complaint_is_reopened_only_by_staff(complaint, aino, staff):
    complaint_update(complaint=complaint, by=staff, status=Status.RESOLVED, resolution="Refunded.")
    before = state(complaint)

    with pytest.raises(ComplaintReopenForbidden) as refused:
        complaint_update(complaint=complaint, by=aino.user, status=Status.OPEN)
    assert (refused.value.code, refused.value.status) == ("complaint_reopen_staff_only", 403)
    assert state(complaint) == before

    complaint_update(complaint=complaint, by=staff, status=Status.IN_PROGRESS)
    status, _owner, resolution, resolved_at, _updated = state(complaint)
    assert (status, resolution, resolved_at) == ("in_progress", "Refunded.", None)


def test_an_open_complaint_moves_without_a_resolution(complaint, aino):
    complaint_update(complaint=complaint, by=aino.user, status=Status.IN_PROGRESS)

    assert state(complaint)[:4] == ("in_progress", None, "", None)


def test_owner_is_set_cleared_and_must_be_staff(complaint, staff):
    complaint_update(complaint=complaint, by=staff, owner=staff)
    assert state(complaint)[1] == staff.pk

    complaint_update(complaint=complaint, by=staff, status=Status.IN_PROGRESS)  # the owner stays
    assert state(complaint)[:2] == ("in_progress", staff.pk)

    retired = User.objects.create_user(username="retired", password="x", is_staff=True, is_active=False)
    with pytest.raises(ComplaintInvalid) as refused:
        complaint_update(complaint=complaint, by=staff, owner=retired)
    assert refused.value.code == "owner_not_staff"
    assert state(complaint)[1] == staff.pk

    complaint_update(complaint=complaint, by=staff, owner=None)
    assert state(complaint)[1] is None


def test_an_unknown_status_is_refused(complaint, staff):
    before = state(complaint)

    with pytest.raises(ComplaintInvalid) as refused:
        complaint_update(complaint=complaint, by=staff, status="lost")

    assert refused.value.code == "status_unknown"
    assert state(complaint) == before


def test_repeating_an_update_writes_nothing_more(complaint, staff):
    complaint_update(complaint=complaint, by=staff, status=Status.RESOLVED, resolution="Refunded.", owner=staff)
    before = state(complaint)

    complaint_update(complaint=complaint, by=staff, status=Status.RESOLVED, resolution="Refunded.", owner=staff)

    assert state(complaint) == before


def test_the_rules_are_checked_without_writing(complaint, staff):
    changes = complaint_changes(complaint=complaint, by=staff, status=Status.REJECTED, resolution="Not our product.")

    assert set(changes) == {"status", "resolution", "resolved_at"}
    assert state(complaint)[0] == "open"


def test_the_database_refuses_a_closed_complaint_without_resolution(complaint):
    for fields in (
        {"status": Status.RESOLVED, "resolved_at": timezone.now()},
        {"status": Status.REJECTED, "resolution": "No.", "resolved_at": None},
        {"status": Status.OPEN, "resolved_at": timezone.now()},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Complaint.objects.filter(pk=complaint.pk).update(**fields)
    assert state(complaint)[0] == "open"


def test_complaints_for_customer_are_their_own_newest_first(aino, complaint):
    other = CustomerFactory()
    complaint_open(customer=other, subject="Theirs", description="Text")
    newer = complaint_open(customer=aino, subject="Second", description="Text")

    assert list(complaints_for_customer(aino)) == [newer, complaint]


# --- The portal ------------------------------------------------------------------------------------


@pytest.fixture
def portal(client: Client, aino: Customer) -> Client:
    client.force_login(aino.user)
    return client


def test_the_page_needs_a_signed_in_customer(client):
    response = client.get(FEEDBACK_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_the_page_lists_my_complaints_with_status_and_resolution_not_others(portal, aino, staff):
    resolved = complaint_open(customer=aino, subject="Late delivery", description="Two weeks late.")
    complaint_update(complaint=resolved, by=staff, status=Status.RESOLVED, resolution="We refunded the shipping.")
    waiting = complaint_open(customer=aino, subject="Wrong size", description="Ordered M, got L.")
    complaint_open(customer=CustomerFactory(), subject="Someone else's", description="Private.")

    response = portal.get(FEEDBACK_URL)

    assert response.status_code == 200
    assert response.templates[0].name == "portal/feedback/overview.html"
    assert [complaint.pk for complaint in response.context["complaints"]] == [waiting.pk, resolved.pk]
    html = response.content.decode()
    assert "We refunded the shipping." in html
    assert "Resolved" in html
    assert "Open" in html
    assert "Someone else" not in html
    assert 'aria-current="page">Feedback</a>' in html


def test_a_customer_opens_a_complaint_from_the_page(portal, aino):
    response = portal.post(FEEDBACK_URL, {"subject": "Broken mug", "description": "It arrived in pieces."})

    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == complaint_url(complaint)
    assert (complaint.customer_id, complaint.subject, complaint.status, complaint.source) == (
        aino.pk,
        "Broken mug",
        "open",
        "portal",
    )
    page = portal.get(response["Location"])
    html = page.content.decode()
    assert "Thank you for telling us." in html
    assert "It arrived in pieces." in html
    assert "We have received it and will answer here soon." in html


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({}, ["subject", "description"]),
        ({"subject": "  ", "description": "Text"}, ["subject"]),
        ({"subject": "Subject", "description": "x" * 4001}, ["description"]),
        ({"subject": "x" * 201, "description": "Text"}, ["subject"]),
    ],
)
def test_a_bad_complaint_form_shows_errors_and_writes_nothing(portal, data, fields):
    response = portal.post(FEEDBACK_URL, data)

    assert response.status_code == 200
    assert sorted(response.context["form"].errors) == sorted(fields)
    assert 'role="alert"' in response.content.decode()
    assert Complaint.objects.count() == 0


def test_too_many_open_complaints_is_a_form_error(portal, aino):
    for index in range(OPEN_COMPLAINTS_MAX):
        complaint_open(customer=aino, subject=f"Problem {index}", description="Text")

    response = portal.post(FEEDBACK_URL, {"subject": "One more", "description": "Text"})

    assert response.status_code == 200
    assert [error.code for error in response.context["form"].non_field_errors().as_data()] == [
        "too_many_open_complaints"
    ]
    assert Complaint.objects.count() == OPEN_COMPLAINTS_MAX


def test_my_complaint_shows_its_resolution_once_closed(portal, complaint, staff):
    open_page = portal.get(complaint_url(complaint)).content.decode()
    complaint_update(complaint=complaint, by=staff, status=Status.REJECTED, resolution="The mug was not from us.")
    closed_page = portal.get(complaint_url(complaint)).content.decode()
    complaint_update(complaint=complaint, by=staff, status=Status.IN_PROGRESS)
    reopened_page = portal.get(complaint_url(complaint)).content.decode()

    assert "The mug was not from us." not in open_page
    assert "The mug was not from us." in closed_page
    assert "Rejected" in closed_page
    assert "The mug was not from us." not in reopened_page  # kept for staff, not shown until closed again
    assert "We are working on it." in reopened_page


def test_another_customers_complaint_is_a_404(portal):
    theirs = complaint_open(customer=CustomerFactory(), subject="Theirs", description="Private.")

    assert portal.get(complaint_url(theirs)).status_code == 404
    assert portal.get(reverse("portal:complaint", args=[theirs.pk + 1000])).status_code == 404


@pytest.mark.parametrize("page", ["overview", "complaint"])
def test_the_portal_pages_use_a_constant_number_of_queries(portal, aino, staff, django_assert_num_queries, page):
    from customers.feedback import feedback_submit

    first = complaint_open(customer=aino, subject="First", description="Text")
    url = FEEDBACK_URL if page == "overview" else complaint_url(first)
    # session, user, customer, then the feedback and the complaints (overview) or the complaint
    queries = 5 if page == "overview" else 4

    with django_assert_num_queries(queries):
        assert portal.get(url).status_code == 200

    for index in range(6):
        more = complaint_open(customer=aino, subject=f"More {index}", description="Text")
        complaint_update(complaint=more, by=staff, owner=staff, status=Status.RESOLVED, resolution="Done.")
        feedback_submit(customer=aino, source_key=f"purchase:{index}", scale="rating", score=4)

    with django_assert_num_queries(queries):
        response = portal.get(url)
    assert response.status_code == 200
    if page == "overview":
        assert (len(response.context["complaints"]), len(response.context["feedback_list"])) == (7, 6)


# --- The admin -------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client: Client, boss: User) -> Client:
    client.force_login(boss)
    return client


def listed(response) -> list[str]:
    return sorted(complaint.subject for complaint in response.context["cl"].result_list)


@pytest.fixture
def three(aino: Customer, staff: User) -> list[Complaint]:
    first = complaint_open(customer=aino, subject="Broken mug", description="In pieces.", owner=staff)
    second = complaint_open(customer=CustomerFactory(email="bertta@example.fi"), subject="Late", description="Late.")
    complaint_update(complaint=second, by=staff, status=Status.RESOLVED, resolution="Sorry.")
    third = complaint_open(customer=aino, subject="Rude staff", description="At the till.")
    complaint_update(complaint=third, by=staff, status=Status.IN_PROGRESS)
    return [first, second, third]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["Broken mug", "Late", "Rude staff"]),
        ({"status__exact": "resolved"}, ["Late"]),
        ({"status__exact": "in_progress"}, ["Rude staff"]),
        ({"owner__id__exact": "STAFF"}, ["Broken mug"]),
        ({"owner__isnull": "True"}, ["Late", "Rude staff"]),
        ({"q": "bertta@example.fi"}, ["Late"]),
        ({"q": "till"}, ["Rude staff"]),
    ],
)
def test_the_changelist_filters_by_status_and_owner_and_searches(admin_client, three, staff, filters, expected):
    filters = {key: str(staff.pk) if value == "STAFF" else value for key, value in filters.items()}

    response = admin_client.get(CHANGELIST_URL, filters)

    assert response.status_code == 200
    assert listed(response) == expected


def test_the_changelist_uses_a_constant_number_of_queries(admin_client, aino, staff, django_assert_num_queries):
    complaint_open(customer=aino, subject="First", description="Text", owner=staff)
    # session, user, the owners for the owner filter, count, page of complaints with customer and owner
    with django_assert_num_queries(5):
        response = admin_client.get(CHANGELIST_URL)
    assert len(response.context["cl"].result_list) == 1

    for index in range(12):
        complaint_open(customer=CustomerFactory(), subject=f"More {index}", description="Text", owner=staff)
    with django_assert_num_queries(5):
        response = admin_client.get(CHANGELIST_URL)
    assert len(response.context["cl"].result_list) == 13


def handling(status: str, owner: User | None = None, resolution: str = "") -> dict[str, str]:
    return {"status": status, "owner": str(owner.pk) if owner else "", "resolution": resolution}


def test_staff_resolve_a_complaint_in_the_change_form(admin_client, complaint, staff):
    response = admin_client.post(change_url(complaint), handling("resolved", staff, "A new mug is on its way."))

    assert response.status_code == 302
    status, owner, resolution, resolved_at, _updated = state(complaint)
    assert (status, owner, resolution) == ("resolved", staff.pk, "A new mug is on its way.")
    assert resolved_at is not None


def test_resolving_without_a_resolution_is_a_form_error_and_changes_nothing(admin_client, complaint):
    before = state(complaint)

    response = admin_client.post(change_url(complaint), handling("resolved"))

    assert response.status_code == 200
    assert [error.code for error in response.context["adminform"].form.errors.as_data()["resolution"]] == [
        "resolution_required"
    ]
    assert state(complaint) == before


def test_the_customers_words_cannot_be_changed_in_the_admin(admin_client, complaint):
    admin_client.post(change_url(complaint), {**handling("in_progress"), "subject": "Edited", "description": "Edited"})

    stored = Complaint.objects.get(pk=complaint.pk)
    assert (stored.subject, stored.description, stored.status) == (
        "Broken mug",
        "The mug arrived in pieces.",
        "in_progress",
    )


def test_staff_reopen_a_closed_complaint_in_the_change_form(admin_client, complaint, staff):
    complaint_update(complaint=complaint, by=staff, status=Status.RESOLVED, resolution="Refunded.")

    response = admin_client.post(change_url(complaint), handling("open", None, "Refunded."))

    assert response.status_code == 302
    assert state(complaint)[:4] == ("open", None, "Refunded.", None)


def test_a_non_staff_owner_is_not_offered(admin_client, complaint, aino):
    response = admin_client.post(change_url(complaint), handling("open", aino.user))

    assert response.status_code == 200
    assert "owner" in response.context["adminform"].form.errors
    assert state(complaint)[1] is None


def test_staff_open_a_complaint_for_a_customer(admin_client, aino, staff):
    page = admin_client.get(ADD_URL, {"customer": aino.pk})
    assert page.status_code == 200

    response = admin_client.post(
        ADD_URL,
        {
            "customer": str(aino.pk),
            "subject": "Phoned in",
            "description": "Called about a refund.",
            **handling("open", staff),
        },
    )

    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert (complaint.customer_id, complaint.source, complaint.status, complaint.owner_id) == (
        aino.pk,
        "staff",
        "open",
        staff.pk,
    )


def test_staff_can_record_a_complaint_already_resolved(admin_client, aino):
    admin_client.post(
        ADD_URL,
        {
            "customer": str(aino.pk),
            "subject": "At the till",
            "description": "Wrong change.",
            **handling("resolved", None, "Paid back 2 EUR."),
        },
    )
    refused = admin_client.post(
        ADD_URL,
        {"customer": str(aino.pk), "subject": "Other", "description": "Text.", **handling("rejected")},
    )

    assert refused.status_code == 200
    assert list(Complaint.objects.values_list("subject", "status", "resolution", "source")) == [
        ("At the till", "resolved", "Paid back 2 EUR.", "staff")
    ]
    assert Complaint.objects.get().resolved_at is not None


def test_assign_to_me(admin_client, three, boss):
    response = admin_client.post(
        CHANGELIST_URL, {"action": "assign_to_me", "_selected_action": [str(three[1].pk), str(three[2].pk)]}
    )

    assert response.status_code == 302
    assert sorted(Complaint.objects.filter(owner=boss).values_list("subject", flat=True)) == ["Late", "Rude staff"]
    assert Complaint.objects.get(pk=three[0].pk).owner_id != boss.pk


def test_complaints_are_not_deleted(admin_client, complaint):
    response = admin_client.post(reverse("admin:customers_complaint_delete", args=[complaint.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Complaint.objects.filter(pk=complaint.pk).exists()


# --- Opened twice at once (PostgreSQL) -------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_complaint_sent_from_two_tabs_at_once_is_one_complaint():
    aino = CustomerFactory()
    barrier = threading.Barrier(2)

    def send(index: int) -> int:
        try:
            barrier.wait(timeout=10)
            return complaint_open(customer=aino, subject="Broken mug", description="In pieces.").pk
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(send, range(2)))

    assert Complaint.objects.count() == 1
    assert results == [Complaint.objects.get().pk] * 2
