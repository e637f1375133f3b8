from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
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
