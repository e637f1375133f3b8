from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from customers.models import ConsentEvent, Customer, PartnerAPIKey, StaffNote, User
from customers.services import (
    customer_consent_set,
    customer_portal_login_ensure,
    customer_tags_set,
    partner_key_create,
    staff_note_add,
)
from tests.customers.factories import CustomerFactory

CHANGELIST_URL = reverse("admin:customers_customer_changelist")
KEY_CHANGELIST_URL = reverse("admin:customers_partnerapikey_changelist")
PORTAL_PASSWORD = "kahvi-ja-pulla-2024"


def change_url(customer: Customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="not-used-here")


@pytest.fixture
def admin(client, staff):
    client.force_login(staff)
    return client


def listed_emails(response) -> list[str]:
    return sorted(customer.email for customer in response.context["cl"].result_list)


def change_form_data(response) -> dict:
    """The change form of ``response`` as the browser would post it back unchanged."""
    data: dict = {}

    def add(form) -> None:
        for bound in form:
            value = bound.value()
            if value is None or value is False:
                continue
            if value is True:
                value = "on"
            data[bound.html_name] = [str(item) for item in value] if isinstance(value, list | tuple) else str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for form in formset.forms:
            add(form)
    return data


# --- Changelist ------------------------------------------------------------------------------------


@pytest.fixture
def three_customers(db: None) -> list[Customer]:
    return [
        CustomerFactory(
            email="aino.virtanen@example.fi", first_name="Aino", last_name="Virtanen", phone="+358401111111"
        ),
        CustomerFactory(
            email="bertta@example.fi",
            first_name="Bertta",
            last_name="Korhonen",
            phone="+358402222222",
            language="ru",
            status=Customer.Status.BLOCKED,
        ),
        CustomerFactory(
            email="ceslav@example.ru",
            first_name="Česlav",
            last_name="Virtanen",
            phone="+79001234567",
            language="ru",
        ),
    ]


@pytest.mark.django_db
def test_changelist_lists_every_customer(admin, three_customers):
    response = admin.get(CHANGELIST_URL)

    assert response.status_code == 200
    assert listed_emails(response) == ["aino.virtanen@example.fi", "bertta@example.fi", "ceslav@example.ru"]
    html = response.content.decode()
    for customer in three_customers:
        assert customer.email in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Aino", ["aino.virtanen@example.fi"]),
        ("virtanen", ["aino.virtanen@example.fi", "ceslav@example.ru"]),
        ("Česlav", ["ceslav@example.ru"]),  # exact case: SQLite folds the case of ASCII letters only
        ("BERTTA@EXAMPLE.FI", ["bertta@example.fi"]),
        ("example.ru", ["ceslav@example.ru"]),
        ("+358402222222", ["bertta@example.fi"]),
        ("+358", ["aino.virtanen@example.fi", "bertta@example.fi"]),
        ("Aino Virtanen", ["aino.virtanen@example.fi"]),
        ("nobody", []),
    ],
)
def test_changelist_search_by_name_email_and_phone(admin, three_customers, query, expected):
    response = admin.get(CHANGELIST_URL, {"q": query})

    assert response.status_code == 200
    assert listed_emails(response) == expected
    html = response.content.decode()
    for customer in three_customers:
        assert (customer.email in html) is (customer.email in expected), customer.email


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status__exact": "blocked"}, ["bertta@example.fi"]),
        ({"status__exact": "active"}, ["aino.virtanen@example.fi", "ceslav@example.ru"]),
        ({"language__exact": "ru"}, ["bertta@example.fi", "ceslav@example.ru"]),
        ({"language__exact": "fi"}, ["aino.virtanen@example.fi"]),
        ({"language__exact": "ru", "status__exact": "active"}, ["ceslav@example.ru"]),
        ({"language__exact": "en"}, []),
    ],
)
def test_changelist_filters_by_status_and_language(admin, three_customers, filters, expected):
    response = admin.get(CHANGELIST_URL, filters)

    assert response.status_code == 200
    assert listed_emails(response) == expected


@pytest.mark.django_db
def test_changelist_uses_a_constant_number_of_queries(admin, django_assert_num_queries):
    def add_customers(count: int) -> None:
        for _index in range(count):
            customer = CustomerFactory()
            customer_tags_set(customer=customer, names=["coffee", "tea"])
            customer_consent_set(customer=customer, channel="email", granted=True, source="api")
            staff_note_add(customer=customer, author=User.objects.get(username="boss"), text="Regular.")

    add_customers(3)
    # session, user, tags of the tag filter, count, page of customers, date hierarchy range and days
    with django_assert_num_queries(7):
        response = admin.get(CHANGELIST_URL)
    assert len(response.context["cl"].result_list) == 3

    add_customers(17)
    with django_assert_num_queries(7):
        response = admin.get(CHANGELIST_URL)
    assert len(response.context["cl"].result_list) == 20


# --- Change page -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_change_page_shows_consent_history_and_staff_notes(admin, staff, partner):
    customer = CustomerFactory(email="aino@example.fi")
    customer_consent_set(customer=customer, channel="email", granted=True, source="api", partner=partner)
    customer_consent_set(customer=customer, channel="sms", granted=True, source="admin", by=staff)
    colleague = User.objects.create_user(username="colleague", email="colleague@vastavuoro.test", is_staff=True)
    staff_note_add(customer=customer, author=colleague, text="Prefers oat milk.")
    staff_note_add(customer=customer, author=staff, text="Asked about the birthday gift.")

    response = admin.get(change_url(customer))

    assert response.status_code == 200
    inlines = {inline.formset.prefix: inline for inline in response.context["inline_admin_formsets"]}
    assert {"notes", "consent_events"} <= set(inlines)  # later apps (loyalty) add their own inlines
    consent_rows = [form.instance for form in inlines["consent_events"].formset.initial_forms]
    assert [(row.channel, row.is_granted, row.source) for row in consent_rows] == [
        ("sms", True, "admin"),
        ("email", True, "api"),
    ]
    note_rows = [form.instance for form in inlines["notes"].formset.initial_forms]
    assert [(note.text, note.author) for note in note_rows] == [
        ("Asked about the birthday gift.", staff),
        ("Prefers oat milk.", colleague),
    ]
    html = response.content.decode()
    for text in ("Prefers oat milk.", "Asked about the birthday gift.", "colleague", "boss", "Kahvila POS"):
        assert text in html, text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("before", "change", "expected_event"),
    [
        (False, "on", ("email", True)),
        (True, None, ("email", False)),
    ],
)
def test_consent_change_in_the_admin_is_recorded_through_the_service(admin, staff, before, change, expected_event):
    customer = CustomerFactory(email="aino@example.fi", first_name="Aino", language="ru")
    customer_tags_set(customer=customer, names=["coffee"])
    if before:
        customer_consent_set(customer=customer, channel="email", granted=True, source="api")
    existing = set(ConsentEvent.objects.values_list("pk", flat=True))
    data = change_form_data(admin.get(change_url(customer)))
    if change is None:
        data.pop("email_consent")
    else:
        data["email_consent"] = change

    response = admin.post(change_url(customer), data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert response["Location"] == CHANGELIST_URL
    event = ConsentEvent.objects.exclude(pk__in=existing).get()
    assert (event.customer_id, event.channel, event.is_granted, event.source, event.recorded_by) == (
        customer.pk,
        *expected_event,
        "admin",
        staff,
    )
    customer.refresh_from_db()
    assert customer.email_consent is expected_event[1]
    assert customer.email_consent_at is not None
    assert (customer.email, customer.first_name, customer.language, customer.sms_consent) == (
        "aino@example.fi",
        "Aino",
        "ru",
        False,
    )
    assert [tag.name for tag in customer.tags.all()] == ["coffee"]


@pytest.mark.django_db
def test_saving_the_admin_form_without_a_consent_change_records_nothing(admin):
    customer = CustomerFactory(email="aino@example.fi", first_name="Aino")
    customer_consent_set(customer=customer, channel="email", granted=True, source="api")
    data = change_form_data(admin.get(change_url(customer)))
    data["first_name"] = "Aino-Maria"

    response = admin.post(change_url(customer), data)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.first_name == "Aino-Maria"
    assert (customer.email_consent, customer.sms_consent) == (True, False)
    assert ConsentEvent.objects.count() == 1
    assert StaffNote.objects.count() == 0


@pytest.mark.django_db
def test_adding_a_customer_in_the_admin_records_its_consent(admin, staff):
    add_url = reverse("admin:customers_customer_add")
    data = change_form_data(admin.get(add_url))
    data.update({"email": "new@example.fi", "first_name": "Uusi", "sms_consent": "on"})

    response = admin.post(add_url, data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    customer = Customer.objects.get()
    assert (customer.email, customer.signup_source, customer.email_consent, customer.sms_consent) == (
        "new@example.fi",
        "admin",
        False,
        True,
    )
    event = ConsentEvent.objects.get()
    assert (event.customer, event.channel, event.is_granted, event.source, event.recorded_by) == (
        customer,
        "sms",
        True,
        "admin",
        staff,
    )


@pytest.mark.django_db
def test_staff_note_added_in_the_admin_is_signed_by_the_staff_user(admin, staff):
    customer = CustomerFactory(email="aino@example.fi")
    colleague = User.objects.create_user(username="colleague", email="colleague@vastavuoro.test", is_staff=True)
    old_note = staff_note_add(customer=customer, author=colleague, text="Prefers oat milk.")
    response = admin.get(change_url(customer))
    data = change_form_data(response)
    notes = next(
        inline.formset for inline in response.context["inline_admin_formsets"] if inline.formset.prefix == "notes"
    )
    assert len(notes.forms) == 2  # the existing note and one empty form
    data[notes.forms[1].add_prefix("text")] = "Called about the lost card."

    saved = admin.post(change_url(customer), data)

    assert saved.status_code == 302
    new_note = StaffNote.objects.exclude(pk=old_note.pk).get()
    assert (new_note.customer, new_note.author, new_note.text) == (customer, staff, "Called about the lost card.")
    old_note.refresh_from_db()
    assert (old_note.author, old_note.text) == (colleague, "Prefers oat milk.")
    assert ConsentEvent.objects.count() == 0


# --- Partner API keys ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_partner_api_keys_cannot_be_added_in_the_admin(admin, partner):
    partner_key_create(partner=partner, scopes=["customers:read"])

    add_page = admin.get(reverse("admin:customers_partnerapikey_add"))
    changelist = admin.get(KEY_CHANGELIST_URL)

    assert add_page.status_code == 403
    assert changelist.status_code == 200
    assert changelist.context["has_add_permission"] is False
    assert reverse("admin:customers_partnerapikey_add") not in changelist.content.decode()
    assert PartnerAPIKey.objects.count() == 1


@pytest.mark.django_db
def test_revoke_action_revokes_the_selected_keys_only(admin, partner):
    keys = {
        name: partner_key_create(partner=partner, scopes=["customers:read"], name=name)
        for name in ("till-1", "till-2", "web-shop")
    }
    selected = [keys["till-1"][0].pk, keys["till-2"][0].pk]

    response = admin.post(
        KEY_CHANGELIST_URL, {"action": "revoke_keys", "_selected_action": selected, "index": 0}, follow=True
    )

    assert response.status_code == 200
    with translation.override("en"):
        assert [str(message) for message in get_messages(response.wsgi_request)] == ["2 keys revoked."]
    assert dict(PartnerAPIKey.objects.values_list("name", "revoked")) == {
        "till-1": True,
        "till-2": True,
        "web-shop": False,
    }
    for name, expected_status in (("till-1", 401), ("till-2", 401), ("web-shop", 200)):
        api = APIClient()
        api_response = api.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Api-Key {keys[name][1]}")
        assert api_response.status_code == expected_status, name
        if expected_status == 401:
            assert api_response.json()["code"] == "revoked_api_key"


@pytest.mark.django_db
def test_revoking_an_already_revoked_key_counts_only_the_live_ones(admin, partner):
    revoked, _key = partner_key_create(partner=partner, scopes=["customers:read"], name="old")
    live, _key = partner_key_create(partner=partner, scopes=["customers:read"], name="new")
    admin.post(KEY_CHANGELIST_URL, {"action": "revoke_keys", "_selected_action": [revoked.pk], "index": 0}, follow=True)

    response = admin.post(
        KEY_CHANGELIST_URL,
        {"action": "revoke_keys", "_selected_action": [revoked.pk, live.pk], "index": 0},
        follow=True,
    )

    with translation.override("en"):
        assert [str(message) for message in get_messages(response.wsgi_request)] == ["1 key revoked."]
    assert set(PartnerAPIKey.objects.values_list("revoked", flat=True)) == {True}


@pytest.mark.django_db
def test_email_change_in_the_admin_moves_the_portal_login_too(admin, client):
    customer = CustomerFactory(email="aino@example.fi")
    customer_portal_login_ensure(customer=customer, password=PORTAL_PASSWORD)
    data = change_form_data(admin.get(change_url(customer)))
    data["email"] = "aino.uusi@example.fi"

    response = admin.post(change_url(customer), data)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.email == "aino.uusi@example.fi"
    assert customer.user.email == "aino.uusi@example.fi"
    portal = Client()
    login = portal.post("/portal/login/", {"username": "aino.uusi@example.fi", "password": PORTAL_PASSWORD})
    assert login.status_code == 302
    assert portal.session["_auth_user_id"] == str(customer.user_id)


@pytest.mark.django_db
def test_email_of_another_customer_in_any_case_is_refused_in_the_admin(admin):
    CustomerFactory(email="taken@example.fi")
    customer = CustomerFactory(email="aino@example.fi", first_name="Aino")
    customer_portal_login_ensure(customer=customer)
    data = change_form_data(admin.get(change_url(customer)))
    data.update({"email": "TAKEN@example.fi", "first_name": "Changed"})

    response = admin.post(change_url(customer), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert len(errors) == 1
    assert errors[0] == "Another customer already uses this e-mail address."
    customer.refresh_from_db()
    assert (customer.email, customer.first_name, customer.user.email) == ("aino@example.fi", "Aino", "aino@example.fi")


@pytest.mark.django_db
@pytest.mark.parametrize("login", ["Boss", "BOSS@vastavuoro.test"])
def test_staff_sign_in_to_the_admin_by_username_or_email(client, login):
    User.objects.create_user(username="boss", email="boss@vastavuoro.test", password="s3cret-staff-pw", is_staff=True)

    response = client.post("/admin/login/", {"username": login, "password": "s3cret-staff-pw", "next": "/admin/"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


@pytest.mark.django_db
def test_a_customer_login_cannot_sign_in_to_the_admin(client):
    customer = CustomerFactory(email="aino@example.fi")
    customer_portal_login_ensure(customer=customer, password="customer-pw-123")

    response = client.post("/admin/login/", {"username": "aino@example.fi", "password": "customer-pw-123"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
