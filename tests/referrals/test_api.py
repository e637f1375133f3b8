"""The referral part of the partner API: attach a new customer to a code (201, a repeat 200 with
the same body, refusals as problem+json with a stable code and nothing written) and a customer's
referral summary."""

from __future__ import annotations

import datetime
import uuid

import pytest

from customers.models import Customer
from referrals import services
from referrals.models import Referral, ReferralCode
from tests.customers.factories import PartnerFactory
from tests.loyalty.factories import base_rate
from tests.referrals.factories import buy, member, program_set, refer

pytestmark = pytest.mark.django_db

URL = "/api/v1/referrals/"


def summary_url(customer: Customer) -> str:
    return f"/api/v1/customers/{customer.public_id}/referrals/"


@pytest.fixture
def api(make_api_client):
    program_set()
    return make_api_client(["referrals:write", "customers:read"])


@pytest.fixture
def aino(db):
    return member(email="aino@example.fi", first_name="Aino", last_name="Virtanen")


@pytest.fixture
def mikko(db):
    return member(email="mikko@example.fi", first_name="Mikko", last_name="Virtanen")


def test_attach_answers_201_then_200_with_the_same_body(api, aino, mikko):
    code = services.referral_code_for(aino).code
    body = {"code": f"{code[:4].lower()}-{code[4:]}", "customer": str(mikko.public_id), "network_address": "192.0.2.7"}

    first = api.post(URL, body, format="json")
    again = api.post(URL, body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    referral = Referral.objects.get()
    assert first.json() == {
        "id": str(referral.public_id),
        "code": code,
        "referrer": str(aino.public_id),
        "customer": str(mikko.public_id),
        "status": "pending",
        "qualify_by": first.json()["qualify_by"],
        "created_at": first.json()["created_at"],
    }
    assert (referral.source, referral.partner) == ("api", api.partner)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown code", 404, "unknown_referral_code"),
        ("own code", 422, "self_referral"),
        ("another code", 409, "already_referred"),
        ("not new", 422, "not_a_new_customer"),
        ("unknown customer", 404, "customer_not_found"),
        ("closed", 409, "referrals_closed"),
    ],
)
def test_attach_refusals_are_problem_json_with_a_clear_code_and_write_nothing(api, aino, mikko, case, status, code):
    referral_code = services.referral_code_for(aino).code
    customer = str(mikko.public_id)
    if case == "unknown code":
        referral_code = "NOPE2345"
    elif case == "own code":
        customer = str(aino.public_id)
    elif case == "another code":
        refer(member(), mikko)
    elif case == "not new":
        base_rate()
        buy(mikko, PartnerFactory(), "12.00")
    elif case == "unknown customer":
        customer = str(uuid.uuid4())
    elif case == "closed":
        program_set(is_enabled=False)
    before = Referral.objects.count()

    response = api.post(URL, {"code": referral_code, "customer": customer}, format="json")

    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert Referral.objects.count() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer": "x"}, "code"),
        ({"code": "ABCD2345"}, "customer"),
        ({"code": 12345678, "customer": "00000000-0000-0000-0000-000000000000"}, "code"),
        ({"code": "ABCD2345", "customer": 5}, "customer"),
        (
            {"code": "ABCD2345", "customer": "00000000-0000-0000-0000-000000000000", "network_address": "nope"},
            "network_address",
        ),
        ({"code": "ABCD2345", "customer": "00000000-0000-0000-0000-000000000000", "referrer": "me"}, "referrer"),
    ],
)
def test_attach_refuses_bad_input_with_400(api, body, field):
    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert Referral.objects.count() == 0


def test_attach_needs_the_referrals_scope(make_api_client, aino, mikko):
    client = make_api_client(["customers:read", "customers:write"])
    code = services.referral_code_for(aino).code

    response = client.post(URL, {"code": code, "customer": str(mikko.public_id)}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "missing_scope")
    assert Referral.objects.count() == 0


def test_the_summary_gives_code_link_counts_and_points(api, aino, settings):
    settings.PUBLIC_BASE_URL = "https://kahvila.example"
    base_rate()
    partner = PartnerFactory()
    rewarded = refer(aino)
    refer(aino)
    buy(rewarded.friend, partner, "30.00")
    services.referral_process(referral_id=rewarded.pk)
    code = services.referral_code_for(aino).code

    response = api.get(summary_url(aino))

    assert response.status_code == 200
    assert response.json() == {
        "code": code,
        "link": f"https://kahvila.example/r/{code}/",
        "counts": {"pending": 1, "review": 0, "qualified": 0, "rewarded": 1, "rejected": 0},
        "total": 2,
        "points_earned": 200,
        "vouchers_earned": 0,
    }


def test_the_summary_only_reads_a_member_without_a_code_has_an_empty_one(api, aino, django_assert_num_queries):
    """Key, customer, code (none), counts: and nothing written, the first time or the next."""
    api.get(summary_url(aino))
    with django_assert_num_queries(4):
        response = api.get(summary_url(aino))

    assert response.status_code == 200
    assert response.json() == {
        "code": "",
        "link": "",
        "counts": {"pending": 0, "review": 0, "qualified": 0, "rewarded": 0, "rejected": 0},
        "total": 0,
        "points_earned": 0,
        "vouchers_earned": 0,
    }
    assert ReferralCode.objects.count() == 0


def test_the_summary_of_an_unknown_customer_is_404(api):
    response = api.get(f"/api/v1/customers/{uuid.uuid4()}/referrals/")

    assert (response.status_code, response.json()["code"]) == (404, "customer_not_found")


def test_the_summary_uses_a_constant_number_of_queries(api, aino, django_assert_num_queries):
    """Key, customer, code, counts (the code exists: made by the first request)."""
    api.get(summary_url(aino))
    for _ in range(5):
        refer(aino)
    with django_assert_num_queries(4):
        response = api.get(summary_url(aino))
    assert response.json()["total"] == 5


def test_the_schema_documents_the_referral_endpoints(client):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]

    assert "post" in paths["/api/v1/referrals/"]
    assert "get" in paths["/api/v1/customers/{public_id}/referrals/"]


def test_a_customer_signed_up_just_now_through_the_api_can_be_attached(api, make_api_client, aino):
    writer = make_api_client(["customers:write"])
    created = writer.post("/api/v1/customers/", {"email": "new@example.fi", "first_name": "Uusi"}, format="json")
    code = services.referral_code_for(aino).code

    response = api.post(URL, {"code": code, "customer": created.json()["id"]}, format="json")

    assert response.status_code == 201
    assert Referral.objects.get().window_ends_at > Referral.objects.get().created_at + datetime.timedelta(days=29)
