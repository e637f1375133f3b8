from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.urls import reverse

from customers.api.throttling import PartnerKeyRateThrottle
from customers.models import ConsentEvent, Customer, PartnerAPIKey
from customers.services import customer_register, partner_key_revoke
from tests.customers.factories import CustomerFactory

LIST_URL = "/api/v1/customers/"


def detail_url(customer: Customer) -> str:
    return f"/api/v1/customers/{customer.public_id}/"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    return body


@pytest.mark.django_db
def test_create_customer_returns_201_with_location_and_body(api_client):
    response = api_client.post(
        LIST_URL,
        {
            "email": "Aino.Virtanen@Example.FI",
            "first_name": "Aino",
            "last_name": "Virtanen",
            "phone": "+358401234567",
            "birth_date": "1990-05-17",
            "language": "fi",
            "preferred_reward_kind": "gift",
            "email_consent": True,
            "tags": ["coffee", "Pastries"],
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    customer = Customer.objects.get()
    assert body["id"] == str(customer.public_id)
    assert response["Location"].endswith(f"/api/v1/customers/{customer.public_id}/")
    assert body["email"] == "Aino.Virtanen@example.fi"
    assert body["language"] == "fi"
    assert body["birth_date"] == "1990-05-17"
    assert body["tags"] == ["Pastries", "coffee"]
    assert body["consents"]["email"]["granted"] is True
    assert body["consents"]["sms"] == {"granted": False, "changed_at": None}
    assert customer.signup_partner == api_client.partner
    event = ConsentEvent.objects.get()
    assert (event.channel, event.is_granted, event.source, event.partner) == ("email", True, "api", api_client.partner)


@pytest.mark.django_db
def test_same_email_in_another_case_returns_the_first_customer_with_200(api_client):
    first = api_client.post(LIST_URL, {"email": "aino@example.fi", "first_name": "Aino"}, format="json")
    again = api_client.post(LIST_URL, {"email": "AINO@EXAMPLE.FI", "first_name": "Other"}, format="json")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["first_name"] == "Aino"  # the existing customer is returned unchanged
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_missing_key_is_401_problem(client):
    response = client.get(LIST_URL)

    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    ["Api-Key nonsense", "Api-Key abc.def", "Api-Key ", "Api-Key " + "x" * 500],
)
def test_invalid_key_is_401_problem(client, header):
    response = client.get(LIST_URL, HTTP_AUTHORIZATION=header)

    assert_problem(response, 401, "invalid_api_key")


@pytest.mark.django_db
def test_revoked_key_is_401(make_api_client):
    api = make_api_client(["customers:read"])
    partner_key_revoke(api_key=PartnerAPIKey.objects.get())

    assert_problem(api.get(LIST_URL), 401, "revoked_api_key")


@pytest.mark.django_db
def test_key_of_a_deactivated_partner_is_401(make_api_client):
    api = make_api_client(["customers:read"])
    api.partner.is_active = False
    api.partner.save()

    assert_problem(api.get(LIST_URL), 401, "inactive_partner")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scopes", "method", "url_kind"),
    [
        (["customers:write"], "get", "list"),
        (["customers:read"], "post", "list"),
        (["customers:write"], "get", "detail"),
        (["customers:read"], "patch", "detail"),
        (["purchases:write"], "get", "list"),
    ],
)
def test_key_without_the_scope_is_403_and_writes_nothing(make_api_client, scopes, method, url_kind):
    customer = CustomerFactory(email="kaisa@example.fi", first_name="Kaisa")
    api = make_api_client(scopes)
    url = LIST_URL if url_kind == "list" else detail_url(customer)

    response = getattr(api, method)(url, {"email": "new@example.fi", "first_name": "Changed"}, format="json")

    body = assert_problem(response, 403, "missing_scope")
    assert "customers:" in body["detail"]
    assert Customer.objects.count() == 1
    customer.refresh_from_db()
    assert customer.first_name == "Kaisa"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"email": "not-an-email"}, "email", "invalid"),
        ({}, "email", "required"),
        ({"email": "a@example.fi", "language": "de"}, "language", "invalid_choice"),
        ({"email": "a@example.fi", "birth_date": "17.05.1990"}, "birth_date", "invalid"),
        ({"email": "a@example.fi", "birth_date": "2999-01-01"}, "birth_date", "future_date"),
        ({"email": "a@example.fi", "birth_date": "1850-01-01"}, "birth_date", "date_too_old"),
        ({"email": "a@example.fi", "first_name": "x" * 101}, "first_name", "max_length"),
        ({"email": "a@example.fi", "first_name": 12}, "first_name", "invalid"),
        ({"email": "a@example.fi", "phone": "0401234567"}, "phone", "invalid"),
        ({"email": "a@example.fi", "time_zone": "Mars/Olympus"}, "time_zone", "invalid_time_zone"),
        ({"email": "a@example.fi", "email_consent": "maybe"}, "email_consent", "invalid"),
        ({"email": "a@example.fi", "tags": "coffee"}, "tags", "not_a_list"),
        ({"email": "a@example.fi", "favourite_colour": "blue"}, "favourite_colour", "unknown_field"),
        ({"email": "x" * 250 + "@example.fi"}, "email", "max_length"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_writes_nothing(api_client, payload, field, code):
    response = api_client.post(LIST_URL, payload, format="json")

    body = assert_problem(response, 400, "invalid")
    assert field in body["errors"], body
    assert code in [error["code"] for error in body["errors"][field]]
    assert field in body["detail"]
    assert Customer.objects.count() == 0
    assert ConsentEvent.objects.count() == 0


@pytest.mark.django_db
def test_several_bad_fields_are_all_named(api_client):
    response = api_client.post(LIST_URL, {"email": "nope", "language": "xx", "extra": 1}, format="json")

    body = assert_problem(response, 400, "invalid")
    assert set(body["errors"]) == {"email", "language", "extra"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "malformed_json"),
        ("email=a@example.fi", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("[1, 2]", "application/json", 400, "invalid"),
    ],
)
def test_malformed_bodies_are_problems(api_client, body, content_type, status, code):
    response = api_client.generic("POST", LIST_URL, body, content_type=content_type)

    assert_problem(response, status, code)
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_unknown_customer_and_bad_uuid_are_404_problems(api_client):
    assert_problem(api_client.get(f"/api/v1/customers/{uuid.uuid4()}/"), 404, "not_found")
    assert_problem(api_client.get("/api/v1/customers/not-a-uuid/"), 404, "not_found")


@pytest.mark.django_db
def test_method_not_allowed_is_a_problem(api_client):
    customer = CustomerFactory()

    assert_problem(api_client.delete(detail_url(customer)), 405, "method_not_allowed")


@pytest.mark.django_db
def test_read_one_customer(api_client):
    customer = CustomerFactory(email="eero@example.fi", first_name="Eero")

    response = api_client.get(detail_url(customer))

    assert response.status_code == 200
    assert response.json()["email"] == "eero@example.fi"
    assert response.json()["first_name"] == "Eero"


@pytest.mark.django_db
def test_patch_updates_only_given_fields_and_records_consent(api_client):
    customer = CustomerFactory(email="helmi@example.fi", first_name="Helmi", last_name="Laine", language="fi")

    response = api_client.patch(
        detail_url(customer), {"language": "ru", "sms_consent": True, "tags": ["tea"]}, format="json"
    )

    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.language) == ("Helmi", "Laine", "ru")
    assert customer.sms_consent is True
    assert response.json()["tags"] == ["tea"]
    assert ConsentEvent.objects.filter(customer=customer, channel="sms", is_granted=True).count() == 1


@pytest.mark.django_db
def test_patch_to_an_email_of_another_customer_is_409_and_changes_nothing(api_client):
    CustomerFactory(email="taken@example.fi")
    customer = CustomerFactory(email="mine@example.fi", first_name="Mine")

    response = api_client.patch(detail_url(customer), {"email": "TAKEN@example.fi", "first_name": "X"}, format="json")

    assert_problem(response, 409, "email_taken")
    customer.refresh_from_db()
    assert (customer.email, customer.first_name) == ("mine@example.fi", "Mine")


@pytest.mark.django_db
def test_patch_with_bad_input_is_400_and_changes_nothing(api_client):
    customer = CustomerFactory(first_name="Ville", language="fi")

    response = api_client.patch(detail_url(customer), {"first_name": "V", "language": "sv"}, format="json")

    assert_problem(response, 400, "invalid")
    customer.refresh_from_db()
    assert (customer.first_name, customer.language) == ("Ville", "fi")


@pytest.mark.django_db
def test_list_filters_and_cursor_pagination(api_client):
    for index in range(5):
        customer_register(email=f"fi{index}@example.fi", language="fi", tags=["coffee"] if index % 2 else [])
    customer_register(email="ru@example.ru", language="ru")

    first_page = api_client.get(LIST_URL, {"language": "fi", "page_size": 2})
    assert first_page.status_code == 200
    body = first_page.json()
    assert [row["email"] for row in body["results"]] == ["fi4@example.fi", "fi3@example.fi"]
    second_page = api_client.get(body["next"])
    assert [row["email"] for row in second_page.json()["results"]] == ["fi2@example.fi", "fi1@example.fi"]

    by_tag = api_client.get(LIST_URL, {"tag": "COFFEE"}).json()["results"]
    assert sorted(row["email"] for row in by_tag) == ["fi1@example.fi", "fi3@example.fi"]
    by_email = api_client.get(LIST_URL, {"email": "RU@example.RU"}).json()["results"]
    assert [row["email"] for row in by_email] == ["ru@example.ru"]


@pytest.mark.django_db
def test_bad_filter_value_is_400_naming_it(api_client):
    response = api_client.get(LIST_URL, {"created_after": "yesterday", "language": "xx"})

    body = assert_problem(response, 400, "invalid")
    assert set(body["errors"]) == {"created_after", "language"}


@pytest.mark.django_db
def test_list_uses_a_constant_number_of_queries(api_client, django_assert_num_queries):
    for index in range(3):
        customer_register(email=f"c{index}@example.fi", tags=["coffee", "tea"])
    api_client.get(LIST_URL)  # the key's last-used stamp is written on first use only

    # key look-up, page of customers, their tags
    with django_assert_num_queries(3):
        response = api_client.get(LIST_URL)
    assert len(response.json()["results"]) == 3

    for index in range(3, 10):
        customer_register(email=f"c{index}@example.fi", tags=["coffee"])
    with django_assert_num_queries(3):
        response = api_client.get(LIST_URL)
    assert len(response.json()["results"]) == 10


@pytest.mark.django_db
def test_unknown_api_path_is_a_problem(api_client):
    assert_problem(api_client.get("/api/v1/nothing-here/"), 404, "not_found")


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/customers/" in paths
    assert "/api/v1/customers/{public_id}/" in paths

    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn.jsdelivr" not in html
    assert "unpkg.com" not in html


@pytest.mark.django_db
def test_over_the_rate_limit_is_429_problem_with_retry_after(api_client, settings):
    cache.clear()
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    original = PartnerKeyRateThrottle.THROTTLE_RATES
    PartnerKeyRateThrottle.THROTTLE_RATES = {**rates, "partner": "2/min"}
    try:
        statuses = [api_client.get(LIST_URL).status_code for _ in range(3)]
        response = api_client.get(LIST_URL)
    finally:
        PartnerKeyRateThrottle.THROTTLE_RATES = original
        cache.clear()

    assert statuses == [200, 200, 429]
    assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_paths_are_problems_even_in_debug(api_client, settings, debug):
    settings.DEBUG = debug

    assert_problem(api_client.get("/api/v1/customers/not-a-uuid/"), 404, "not_found")
    assert_problem(api_client.get("/api/v2/anything"), 404, "not_found")


@pytest.mark.django_db
def test_a_damaged_cursor_is_400_naming_it(api_client):
    body = assert_problem(api_client.get(LIST_URL, {"cursor": "garbage!"}), 400, "invalid")

    assert list(body["errors"]) == ["cursor"]


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "expected"), [("true", ["yes@example.fi"]), ("false", ["no@example.fi"])])
def test_consent_filter(api_client, value, expected):
    customer_register(email="yes@example.fi", email_consent=True)
    customer_register(email="no@example.fi")

    rows = api_client.get(LIST_URL, {"email_consent": value}).json()["results"]

    assert [row["email"] for row in rows] == expected


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["1", "yes", "maybe"])
def test_a_bad_boolean_filter_is_400(api_client, value):
    body = assert_problem(api_client.get(LIST_URL, {"email_consent": value}), 400, "invalid")

    assert list(body["errors"]) == ["email_consent"]


@pytest.mark.django_db
def test_created_body_shows_the_stored_update_time(api_client):
    response = api_client.post(
        LIST_URL, {"email": "a@example.fi", "email_consent": True, "tags": ["tea"]}, format="json"
    )

    stored = api_client.get(detail_url(Customer.objects.get())).json()
    assert response.json()["updated_at"] == stored["updated_at"]


@pytest.mark.django_db
def test_an_erased_customer_cannot_be_changed(api_client):
    customer = CustomerFactory(status=Customer.Status.ERASED, first_name="")

    response = api_client.patch(detail_url(customer), {"first_name": "Back"}, format="json")

    assert_problem(response, 409, "customer_erased")
    customer.refresh_from_db()
    assert customer.first_name == ""
