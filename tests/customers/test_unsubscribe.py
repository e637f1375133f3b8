"""The unsubscribe link: no login, the signed token is the credential; GET asks, POST (the button or
a mail client's RFC 8058 one-click request) withdraws the consent of that one customer and channel."""

from __future__ import annotations

import uuid

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import translation

from customers.models import Channel, ConsentEvent, ConsentSource, Customer
from customers.outbox import UNSUBSCRIBE_SALT, unsubscribe_token_make
from customers.portal.tokens import magic_link_token_make
from customers.services import customer_consent_set, customer_portal_login_ensure
from tests.customers.factories import CustomerFactory

ONE_CLICK = "List-Unsubscribe=One-Click"


def customer_make(**fields) -> Customer:
    """A customer who gave both consents, as the app records them."""
    customer = CustomerFactory(**{"first_name": "Aino", "language": "fi", "phone": "+358401234567", **fields})
    for channel in (Channel.EMAIL, Channel.SMS):
        customer_consent_set(customer=customer, channel=channel, granted=True, source=ConsentSource.PORTAL)
    return customer


def url(token: str) -> str:
    return reverse("portal:unsubscribe", args=[token])


def consents(customer: Customer) -> tuple[bool, bool]:
    customer.refresh_from_db()
    return customer.email_consent, customer.sms_consent


def withdrawals(customer: Customer) -> list[tuple[str, bool, str]]:
    return list(
        ConsentEvent.objects.filter(customer=customer, is_granted=False).values_list("channel", "is_granted", "source")
    )


@pytest.fixture
def aino(db) -> Customer:
    return customer_make(email="aino@example.fi")


def test_get_shows_the_page_and_changes_nothing(client, aino):
    response = client.get(url(unsubscribe_token_make(aino)))

    assert response.status_code == 200
    assert response.templates[0].name == "portal/unsubscribe.html"
    html = response.content.decode()
    with translation.override("fi"):  # Aino reads Finnish
        expected = translation.gettext("%(first_name)s, stop our offers and news?") % {"first_name": "Aino"}
    assert expected in html
    with translation.override("fi"):
        email_text = translation.gettext(
            "You will no longer get offers and news by e-mail. Messages about your own purchases and vouchers still "
            "arrive."
        )
    assert email_text in html
    assert '<form method="post">' in html
    assert consents(aino) == (True, True)
    assert withdrawals(aino) == []


def test_post_withdraws_the_email_consent_and_records_it(client, aino):
    response = client.post(url(unsubscribe_token_make(aino)))

    assert response.status_code == 200
    assert response.templates[0].name == "portal/unsubscribe_done.html"
    assert consents(aino) == (False, True)
    assert withdrawals(aino) == [("email", False, "unsubscribe")]
    event = ConsentEvent.objects.get(customer=aino, is_granted=False)
    assert (event.recorded_by, event.partner) == (None, None)


def test_posting_twice_records_one_withdrawal(client, aino):
    client.post(url(unsubscribe_token_make(aino)))
    response = client.post(url(unsubscribe_token_make(aino)))

    assert response.status_code == 200
    assert withdrawals(aino) == [("email", False, "unsubscribe")]


def test_the_rfc_8058_one_click_post_works_without_csrf_token_or_session(aino):
    mail_client = Client(enforce_csrf_checks=True)

    response = mail_client.post(
        url(unsubscribe_token_make(aino)), data=ONE_CLICK, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert consents(aino) == (False, True)
    assert withdrawals(aino) == [("email", False, "unsubscribe")]
    assert "_auth_user_id" not in mail_client.session


def test_the_button_on_the_page_works_with_csrf_checks_on(aino):
    browser = Client(enforce_csrf_checks=True)
    page = url(unsubscribe_token_make(aino))

    assert browser.get(page).status_code == 200
    response = browser.post(page)

    assert response.status_code == 200
    assert consents(aino) == (False, True)


def test_an_sms_token_withdraws_the_sms_consent_only(client, aino):
    get = client.get(url(unsubscribe_token_make(aino, Channel.SMS)))
    response = client.post(url(unsubscribe_token_make(aino, Channel.SMS)))

    with translation.override("fi"):
        sms_text = translation.gettext(
            "You will no longer get offers and news by SMS. Messages about your own purchases and vouchers still "
            "arrive."
        )
    assert sms_text in get.content.decode()
    assert response.status_code == 200
    assert consents(aino) == (True, False)
    assert withdrawals(aino) == [("sms", False, "unsubscribe")]


def _tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda customer: _tampered(unsubscribe_token_make(customer)), id="tampered-signature"),
        pytest.param(
            lambda customer: signing.dumps({"c": str(customer.public_id), "ch": "email"}, salt="other"), id="other-salt"
        ),
        pytest.param(
            lambda customer: signing.dumps({"c": str(customer.public_id), "ch": "fax"}, salt=UNSUBSCRIBE_SALT),
            id="unknown-channel",
        ),
        pytest.param(lambda customer: signing.dumps([str(customer.public_id)], salt=UNSUBSCRIBE_SALT), id="not-a-dict"),
        pytest.param(
            lambda customer: signing.dumps({"c": "not-a-uuid", "ch": "email"}, salt=UNSUBSCRIBE_SALT), id="bad-id"
        ),
        pytest.param(
            lambda customer: magic_link_token_make(customer_portal_login_ensure(customer=customer)), id="magic-link"
        ),
        pytest.param(lambda customer: "garbage", id="garbage"),
        pytest.param(lambda customer: "a:b:c", id="colons"),
    ],
)
def test_a_bad_token_answers_400_and_changes_nothing(client, aino, method, make_token):
    token = make_token(aino)

    response = getattr(client, method)(url(token))

    assert response.status_code == 400
    assert response.templates[0].name == "portal/unsubscribe_invalid.html"
    assert consents(aino) == (True, True)
    assert withdrawals(aino) == []


def test_a_token_of_a_customer_who_does_not_exist_is_refused(client, aino):
    token = signing.dumps({"c": str(uuid.uuid4()), "ch": "email"}, salt=UNSUBSCRIBE_SALT, compress=True)

    assert client.post(url(token)).status_code == 400
    assert consents(aino) == (True, True)
    assert ConsentEvent.objects.filter(is_granted=False).count() == 0


def test_a_token_for_one_customer_never_changes_another(client, aino):
    bertta = customer_make(email="bertta@example.fi", first_name="Bertta")
    customer_portal_login_ensure(customer=bertta, password="kahvi-ja-pulla-2024")
    client.force_login(bertta.user)  # signed in as Bertta, following Aino's link

    response = client.post(url(unsubscribe_token_make(aino)))

    assert response.status_code == 200
    assert consents(aino) == (False, True)
    assert consents(bertta) == (True, True)
    assert withdrawals(bertta) == []


@pytest.mark.parametrize("method", ["get", "post"])
def test_no_login_is_needed(client, aino, method):
    response = getattr(client, method)(url(unsubscribe_token_make(aino)))

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_refused(client, aino, method):
    response = getattr(client, method)(url(unsubscribe_token_make(aino)))

    assert response.status_code == 405
    assert consents(aino) == (True, True)


def test_the_page_speaks_the_customers_language(client, db):
    customer = customer_make(email="boris@example.fi", first_name="Boris", language="ru")

    response = client.get(url(unsubscribe_token_make(customer)), HTTP_ACCEPT_LANGUAGE="fi")

    assert response.status_code == 200
    assert response["Content-Language"] == "ru"
    assert '<html lang="ru">' in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_page_has_a_constant_number_of_queries(client, aino, django_assert_num_queries, method):
    with django_assert_num_queries(1 if method == "get" else 5):
        getattr(client, method)(url(unsubscribe_token_make(aino)))
