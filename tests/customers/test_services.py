from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from customers.errors import CustomerNotActive, EmailTaken, UnknownScope
from customers.models import ConsentEvent, Customer, PartnerAPIKey, Tag
from customers.services import (
    customer_consent_set,
    customer_portal_login_ensure,
    customer_register,
    customer_tags_set,
    customer_update,
    partner_key_create,
    scopes_parse,
)
from tests.customers.factories import CustomerFactory, PartnerFactory


@pytest.mark.django_db
def test_register_normalises_the_domain_but_keeps_the_local_part():
    registration = customer_register(email="  Aino.Virtanen@EXAMPLE.Fi ")

    assert registration.created is True
    assert registration.customer.email == "Aino.Virtanen@example.fi"


@pytest.mark.django_db
def test_register_returns_the_existing_customer_unchanged():
    first = customer_register(email="aino@example.fi", first_name="Aino").customer

    again = customer_register(email="AINO@example.fi", first_name="Someone", email_consent=True)

    assert again.created is False
    assert again.customer.pk == first.pk
    assert Customer.objects.get().first_name == "Aino"
    assert ConsentEvent.objects.count() == 0


@pytest.mark.django_db
def test_register_refuses_invalid_profile_and_writes_nothing():
    with pytest.raises(ValidationError) as error:
        customer_register(email="a@example.fi", phone="12345", time_zone="Nowhere/City")

    assert set(error.value.message_dict) == {"phone", "time_zone"}
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_register_rejects_unknown_profile_fields():
    with pytest.raises(TypeError):
        customer_register(email="a@example.fi", status="blocked")
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_consent_change_is_recorded_once_per_change():
    customer = CustomerFactory()

    assert customer_consent_set(customer=customer, channel="email", granted=True, source="portal") is True
    assert customer_consent_set(customer=customer, channel="email", granted=True, source="portal") is False
    assert customer_consent_set(customer=customer, channel="email", granted=False, source="unsubscribe") is True

    customer.refresh_from_db()
    assert customer.email_consent is False
    assert customer.email_consent_at is not None
    events = list(ConsentEvent.objects.order_by("id").values_list("channel", "is_granted", "source"))
    assert events == [("email", True, "portal"), ("email", False, "unsubscribe")]


@pytest.mark.django_db
def test_update_refuses_an_erased_customer():
    customer = CustomerFactory(status=Customer.Status.ERASED, first_name="Gone")

    with pytest.raises(CustomerNotActive):
        customer_update(customer=customer, source="api", first_name="Back")
    customer.refresh_from_db()
    assert customer.first_name == "Gone"


@pytest.mark.django_db
def test_update_email_to_a_taken_one_raises_and_changes_nothing():
    CustomerFactory(email="taken@example.fi")
    customer = CustomerFactory(email="mine@example.fi")

    with pytest.raises(EmailTaken):
        customer_update(customer=customer, source="api", email="Taken@Example.fi", first_name="X")
    customer.refresh_from_db()
    assert customer.email == "mine@example.fi"


@pytest.mark.django_db
def test_update_email_moves_the_portal_login_too():
    customer = CustomerFactory(email="old@example.fi")
    user = customer_portal_login_ensure(customer=customer, password="correct horse battery")

    customer_update(customer=customer, source="portal", email="New@example.fi")

    user.refresh_from_db()
    assert user.email == "New@example.fi"
    assert user.username == f"customer-{customer.public_id}"  # stable whatever the e-mail


@pytest.mark.django_db
def test_tags_are_matched_case_insensitively_and_replaced():
    customer = CustomerFactory()
    Tag.objects.create(name="Coffee")

    customer_tags_set(customer=customer, names=["coffee", "TEA", " tea "])
    assert sorted(customer.tags.values_list("name", flat=True)) == ["Coffee", "TEA"]
    assert Tag.objects.count() == 2

    customer_tags_set(customer=customer, names=[])
    assert customer.tags.count() == 0


@pytest.mark.django_db
def test_portal_login_is_refused_for_a_blocked_customer():
    customer = CustomerFactory(status=Customer.Status.BLOCKED)

    with pytest.raises(CustomerNotActive):
        customer_portal_login_ensure(customer=customer)
    assert customer.user is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("customers:read, customers:write", ["customers:read", "customers:write"]),
        (["purchases:write", "purchases:write"], ["purchases:write"]),
        ("", []),
    ],
)
def test_scopes_parse(given, expected):
    assert scopes_parse(given) == expected


def test_scopes_parse_names_unknown_scopes():
    with pytest.raises(UnknownScope) as error:
        scopes_parse("customers:read,customers:delete")
    assert error.value.details["unknown"] == ["customers:delete"]


@pytest.mark.django_db
def test_partner_keys_are_stored_hashed():
    partner = PartnerFactory()

    api_key, key = partner_key_create(partner=partner, scopes=["customers:read"])

    stored = PartnerAPIKey.objects.get()
    assert key.startswith(stored.prefix + ".")
    assert key not in stored.hashed_key
    assert key.split(".")[1] not in stored.id
    assert stored.hashed_key.startswith("sha512$$")
    assert stored.is_valid(key) is True
    assert stored.is_valid(key + "x") is False
    assert api_key.scopes == ["customers:read"]


@pytest.mark.django_db
def test_setting_or_changing_the_birth_date_is_stamped():
    import datetime

    customer = customer_register(email="b@example.fi").customer
    assert customer.birth_date_changed_at is None

    customer_update(customer=customer, source="portal", birth_date=datetime.date(1990, 5, 17))
    customer.refresh_from_db()
    first = customer.birth_date_changed_at
    assert first is not None

    customer_update(customer=customer, source="portal", first_name="B")
    customer.refresh_from_db()
    assert customer.birth_date_changed_at == first


@pytest.mark.django_db
def test_a_new_e_mail_address_is_no_longer_confirmed_but_a_change_of_case_keeps_it():
    from django.utils import timezone

    from customers.services import customer_update

    customer = CustomerFactory(email="aino@example.fi", email_verified_at=timezone.now())
    customer_update(customer=customer, source="portal", email="AINO@example.fi")
    customer.refresh_from_db()
    assert customer.email_verified_at is not None
    customer_update(customer=customer, source="portal", email="aino.virtanen@example.fi")
    customer.refresh_from_db()
    assert (customer.email, customer.email_verified_at) == ("aino.virtanen@example.fi", None)
