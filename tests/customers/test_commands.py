from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import Customer, Partner, PartnerAPIKey, User


@pytest.mark.django_db
def test_create_partner_prints_a_working_key_alone_on_the_last_line():
    out = StringIO()

    call_command("create_partner", "Helsinki POS", "--scopes", "customers:read,purchases:write", stdout=out)

    key = out.getvalue().strip().splitlines()[-1]
    api_key = PartnerAPIKey.objects.get()
    assert api_key.partner.name == "Helsinki POS"
    assert api_key.scopes == ["customers:read", "purchases:write"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/customers/").status_code == 200


@pytest.mark.django_db
def test_create_partner_twice_reuses_the_partner_and_adds_a_key():
    call_command("create_partner", "Webshop", "--scopes", "customers:read", stdout=StringIO())
    call_command("create_partner", "Webshop", "--scopes", "customers:write", stdout=StringIO())

    assert Partner.objects.count() == 1
    assert PartnerAPIKey.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Shop", "--scopes", "customers:read,everything"], r"Unknown scope\(s\): everything\."),
        (["Shop", "--scopes", " , "], "at least one scope"),
        (["   ", "--scopes", "customers:read"], "1 to 100 characters"),
    ],
)
def test_create_partner_refuses_bad_input_and_writes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_partner", *args, stdout=StringIO())

    assert Partner.objects.count() == 0
    assert PartnerAPIKey.objects.count() == 0


@pytest.mark.django_db
def test_load_demo_is_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = StringIO()
    call_command("load_demo", "--customers", "40", stdout=first)
    customers = Customer.objects.count()
    keys = PartnerAPIKey.objects.count()

    second = StringIO()
    call_command("load_demo", "--customers", "40", stdout=second)

    assert customers == 40
    assert Customer.objects.count() == 40
    assert PartnerAPIKey.objects.count() == keys == 1
    assert "0 customers added, 40 in all" in second.getvalue()
    assert User.objects.filter(is_staff=True, email=settings.DEMO_STAFF_EMAIL).count() == 1
    languages = set(Customer.objects.values_list("language", flat=True))
    assert languages == {"en", "fi", "ru"}
    demo_key = (tmp_path / "demo-api-key.txt").read_text().strip()
    assert demo_key in second.getvalue()


@pytest.mark.django_db
def test_load_demo_refuses_in_production(settings):
    settings.IS_PRODUCTION = True

    with pytest.raises(CommandError, match="not loaded in production"):
        call_command("load_demo", stdout=StringIO())
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_create_partner_with_an_expiry_issues_a_key_that_expires():
    out = StringIO()

    call_command("create_partner", "Pop-up", "--scopes", "customers:read", "--expires-days", "30", stdout=out)

    api_key = PartnerAPIKey.objects.get()
    assert api_key.expiry_date is not None
    assert 29 <= (api_key.expiry_date - api_key.created).days <= 30


@pytest.mark.django_db
def test_an_expired_key_is_401(make_api_client):
    api = make_api_client(["customers:read"])
    PartnerAPIKey.objects.update(expiry_date=timezone.now() - datetime.timedelta(seconds=1))

    response = api.get("/api/v1/customers/")

    assert response.status_code == 401
    assert response.json()["code"] == "expired_api_key"


@pytest.mark.django_db
def test_load_demo_replaces_a_key_file_from_another_database(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    (tmp_path / "demo-api-key.txt").write_text("AbCdEfGh.not-a-key-of-this-database\n")

    out = StringIO()
    call_command("load_demo", "--customers", "5", stdout=out)

    key = (tmp_path / "demo-api-key.txt").read_text().strip()
    assert key != "AbCdEfGh.not-a-key-of-this-database"
    assert PartnerAPIKey.objects.is_valid(key)
