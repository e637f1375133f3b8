"""Sign-in hardening: the brute-force lockout (django-axes) of portal and admin logins, the limits
on the e-mails a visitor can have the portal send, e-mail verification after a portal sign-up,
and the password reset by e-mail."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.tokens import default_token_generator
from django.core import mail, signing
from django.core.cache import cache
from django.db import connections
from django.test import Client, RequestFactory
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext

from core.addresses import client_address
from customers.default_templates import default_templates_load
from customers.models import Customer, Message, MessagePurpose, MessageTemplate, SignupSource, User
from customers.outbox import message_deliver, message_queue
from customers.services import (
    EMAIL_VERIFY_SALT,
    customer_consent_set,
    customer_email_verify,
    customer_portal_login_ensure,
    customer_update,
    email_verification_send,
    email_verification_token_make,
)
from tests.customers.factories import CustomerFactory

ROOT = Path(__file__).resolve().parents[2]
HOME_URL = "/portal/"
LOGIN_URL = "/portal/login/"
LOGOUT_URL = "/portal/logout/"
MAGIC_LINK_URL = "/portal/login/link/"
RESET_URL = "/portal/password/reset/"
RESEND_URL = "/portal/verify/resend/"
JOIN_URL = "/portal/join/"
ADMIN_LOGIN_URL = "/admin/login/?next=/admin/"
PASSWORD = "kahvi-ja-pulla-2024"
NEW_PASSWORD = "mustikkapiirakka-77"
STAFF_PASSWORD = "takahuone-ja-kassa-99"
LIMIT = settings.LOGIN_FAILURE_LIMIT
COOLOFF = datetime.timedelta(minutes=settings.LOGIN_COOLOFF_MINUTES)
ADDRESS = "84.248.10.9"
OTHER_ADDRESS = "84.248.77.1"
VERIFY_LINK = re.compile(r"http://testserver/portal/verify/([^/\s]+)/")
RESET_LINK = re.compile(r"http://testserver(/portal/password/reset/[^/\s]+/[^/\s]+/)")
MAGIC_LINK = re.compile(r"http://testserver(/portal/login/link/[^/\s]+/)")
# Each mail form, with the page that says "sent" and the link pattern of its e-mail.
MAIL_FORMS = [
    pytest.param(MAGIC_LINK_URL, "portal/magic_link_sent.html", id="magic-link"),
    pytest.param(RESET_URL, "portal/password_reset_sent.html", id="password-reset"),
]


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """The e-mail limits count in the cache: every test starts and ends with none counted."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def templates(db: None) -> None:
    """The default message templates (a transactional test elsewhere may have flushed them)."""
    default_templates_load(MessageTemplate)


def make_customer(*, password: str | None = PASSWORD, **fields) -> Customer:
    customer = CustomerFactory(**fields)
    customer_portal_login_ensure(customer=customer, password=password)
    customer.refresh_from_db()
    return customer


def make_staff() -> User:
    return User.objects.create_user(
        username="boss", email="boss@vastavuoro.test", password=STAFF_PASSWORD, is_staff=True, is_superuser=True
    )


def portal_login(client: Client, email: str, password: str, address: str = ADDRESS, **extra):
    return client.post(LOGIN_URL, {"username": email, "password": password}, REMOTE_ADDR=address, **extra)


def admin_login(client: Client, username: str, password: str, address: str = ADDRESS):
    return client.post(
        ADMIN_LOGIN_URL, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def template_names(response) -> list[str]:
    return [template.name for template in response.templates]


def without_csrf_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value=""', html)


def lock_out_login(client: Client, email: str) -> None:
    """LIMIT wrong passwords for ``email``, each from another address: only the login is locked."""
    statuses = [
        portal_login(client, email, "wrong-password", address=f"84.248.20.{n}").status_code for n in range(LIMIT)
    ]
    assert statuses == [200] * (LIMIT - 1) + [429]


# --- Lockout: per login, per address, cool-off -------------------------------------------------------


@pytest.mark.django_db
def test_wrong_passwords_for_one_login_lock_it_from_every_address(client):
    aino = make_customer(email="aino@example.fi")
    bertta = make_customer(email="bertta@example.fi")

    lock_out_login(client, "aino@example.fi")
    refused = portal_login(client, "AINO@example.fi ", PASSWORD, address=OTHER_ADDRESS)

    assert refused.status_code == 429
    assert "portal/locked_out.html" in template_names(refused)
    assert logged_in_user_id(client) is None
    assert User.objects.get(pk=aino.user_id).last_login is None
    # The addresses the failures came from are not locked: another login from one of them works.
    other = portal_login(client, "bertta@example.fi", PASSWORD, address="84.248.20.0")
    assert other.status_code == 302
    assert logged_in_user_id(client) == str(bertta.user_id)


@pytest.mark.django_db
def test_wrong_passwords_from_one_address_lock_it_for_every_login(client):
    bertta = make_customer(email="bertta@example.fi")
    make_customer(email="aino@example.fi")
    typed = ["aino@example.fi", *(f"guess{n}@example.fi" for n in range(LIMIT - 1))]  # known and unknown

    statuses = [portal_login(client, email, "wrong-password").status_code for email in typed]
    refused = portal_login(client, "bertta@example.fi", PASSWORD)

    assert statuses == [200] * (LIMIT - 1) + [429]
    assert refused.status_code == 429
    assert logged_in_user_id(client) is None
    elsewhere = portal_login(client, "bertta@example.fi", PASSWORD, address=OTHER_ADDRESS)
    assert elsewhere.status_code == 302
    assert logged_in_user_id(client) == str(bertta.user_id)


@pytest.mark.django_db
def test_fewer_wrong_passwords_than_the_limit_do_not_lock(client):
    aino = make_customer(email="aino@example.fi")

    statuses = [portal_login(client, "aino@example.fi", "wrong-password").status_code for _ in range(LIMIT - 1)]
    response = portal_login(client, "aino@example.fi", PASSWORD)

    assert statuses == [200] * (LIMIT - 1)
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(aino.user_id)


@pytest.mark.django_db
def test_a_private_address_is_not_locked_as_a_whole_only_the_logins(client):
    """Behind a proxy whose header is not configured every visitor has the proxy's address: locking
    it would lock everyone out."""
    bertta = make_customer(email="bertta@example.fi")

    statuses = [
        portal_login(client, f"guess{n}@example.fi", "wrong-password", address="10.0.0.2").status_code
        for n in range(LIMIT + 2)
    ]
    response = portal_login(client, "bertta@example.fi", PASSWORD, address="10.0.0.2")

    assert statuses == [200] * (LIMIT + 2)
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(bertta.user_id)


@pytest.mark.django_db
def test_the_address_comes_from_the_proxy_header_when_configured(client, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    bertta = make_customer(email="bertta@example.fi")
    proxy = {"address": "10.0.0.2"}

    for n in range(LIMIT):
        portal_login(client, f"guess{n}@example.fi", "wrong-password", HTTP_X_REAL_IP=ADDRESS, **proxy)
    refused = portal_login(client, "bertta@example.fi", PASSWORD, HTTP_X_REAL_IP=ADDRESS, **proxy)
    accepted = portal_login(client, "bertta@example.fi", PASSWORD, HTTP_X_REAL_IP=OTHER_ADDRESS, **proxy)

    assert (refused.status_code, accepted.status_code) == (429, 302)
    assert logged_in_user_id(client) == str(bertta.user_id)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ADDRESS}


@pytest.mark.django_db
def test_without_the_setting_a_header_the_client_sent_is_ignored(client):
    make_customer(email="bertta@example.fi")

    for n in range(LIMIT):
        portal_login(client, f"guess{n}@example.fi", "wrong-password", HTTP_X_REAL_IP=f"84.248.30.{n}")
    refused = portal_login(client, "bertta@example.fi", PASSWORD, HTTP_X_REAL_IP=OTHER_ADDRESS)

    assert refused.status_code == 429  # still the connection's address, ADDRESS, which is locked


@pytest.mark.parametrize(
    ("meta", "header", "expected"),
    [
        ({"REMOTE_ADDR": "84.248.10.9"}, "", "84.248.10.9"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "84.248.10.9"}, "", "10.0.0.2"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": " 84.248.10.9, 10.0.0.3"}, "HTTP_X_REAL_IP", "84.248.10.9"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "garbage"}, "HTTP_X_REAL_IP", "10.0.0.2"),
        ({}, "", ""),
    ],
)
def test_client_address_reads_the_configured_header_or_the_connection(settings, meta, header, expected):
    settings.CLIENT_IP_HEADER = header
    request = RequestFactory().get("/")
    request.META.pop("REMOTE_ADDR", None)
    request.META.update(meta)

    assert client_address(request) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("elapsed", "status"), [(COOLOFF - datetime.timedelta(minutes=1), 429), (COOLOFF, 302)])
def test_the_lock_lifts_after_the_cool_off(client, elapsed, status):
    aino = make_customer(email="aino@example.fi")
    lock_out_login(client, "aino@example.fi")
    later = timezone.now() + elapsed + datetime.timedelta(seconds=1)

    with mock.patch("axes.handlers.proxy.now", return_value=later):  # the clock axes reads
        response = portal_login(client, "aino@example.fi", PASSWORD)

    assert response.status_code == status
    assert (logged_in_user_id(client) == str(aino.user_id)) is (status == 302)


@pytest.mark.django_db
def test_the_locked_out_page_is_translated_says_how_long_and_is_the_same_for_unknown_logins(client):
    make_customer(email="aino@example.fi")
    lock_out_login(client, "aino@example.fi")
    lock_out_login(client, "nobody@example.fi")

    known = portal_login(client, "aino@example.fi", PASSWORD, HTTP_ACCEPT_LANGUAGE="fi")
    unknown = portal_login(client, "nobody@example.fi", PASSWORD, HTTP_ACCEPT_LANGUAGE="fi")

    for response in (known, unknown):
        assert response.status_code == 429
        assert response["Retry-After"] == str(settings.LOGIN_COOLOFF_MINUTES * 60)
        assert response["Content-Language"] == "fi"
        assert response.context["minutes"] == settings.LOGIN_COOLOFF_MINUTES
        html = response.content.decode()
        assert '<html lang="fi">' in html
        assert 'href="/portal/login/link/"' in html  # a sign-in link still works
        assert 'href="/portal/password/reset/"' in html
    assert without_csrf_tokens(known.content.decode()) == without_csrf_tokens(unknown.content.decode())
    with translation.override("en"):
        english = portal_login(client, "aino@example.fi", PASSWORD).content.decode()
    assert "Too many sign-in attempts" in english


@pytest.mark.django_db
def test_the_admin_login_is_locked_too(client):
    make_staff()

    statuses = [
        admin_login(client, "boss", "wrong-password", address=f"84.248.40.{n}").status_code for n in range(LIMIT)
    ]
    refused = admin_login(client, "BOSS", STAFF_PASSWORD, address=OTHER_ADDRESS)

    assert statuses == [200] * (LIMIT - 1) + [429]
    assert refused.status_code == 429
    assert "portal/locked_out.html" in template_names(refused)
    assert refused.context["is_admin"] is True
    html = refused.content.decode()
    assert 'href="/admin/login/"' in html
    assert "/portal/login/link/" not in html  # staff get no customer sign-in link
    assert logged_in_user_id(client) is None
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_the_admin_login_works_under_the_limit(client):
    staff = make_staff()

    for _ in range(LIMIT - 1):
        admin_login(client, "boss", "wrong-password")
    response = admin_login(client, "boss", STAFF_PASSWORD)

    assert response.status_code == 302
    assert logged_in_user_id(client) == str(staff.pk)


@pytest.mark.django_db
def test_test_client_logins_and_authenticate_with_a_request_still_work(client):
    """django-axes needs the request; every caller passes it (the portal form, the admin form,
    the test client), and force_login skips the check."""
    aino = make_customer(email="aino@example.fi")
    staff = make_staff()

    assert client.login(email="aino@example.fi", password="wrong-password") is False
    assert client.login(email="aino@example.fi", password=PASSWORD) is True
    assert logged_in_user_id(client) == str(aino.user_id)
    assert client.login(username="boss", password=STAFF_PASSWORD) is True
    assert logged_in_user_id(client) == str(staff.pk)
    client.force_login(aino.user)
    assert client.get(HOME_URL).status_code == 200
    request = RequestFactory().post(LOGIN_URL, REMOTE_ADDR=ADDRESS)
    assert authenticate(request, email="aino@example.fi", password=PASSWORD) == aino.user
    assert authenticate(request, username="boss", password=STAFF_PASSWORD) == staff
    assert authenticate(request, email="aino@example.fi", password="wrong-password") is None
    assert AccessAttempt.objects.get().username == "aino@example.fi"


@pytest.mark.django_db
def test_a_locked_out_customer_can_still_sign_in_by_e_mail_link(client, mailoutbox):
    aino = make_customer(email="aino@example.fi")
    lock_out_login(client, "aino@example.fi")

    client.post(MAGIC_LINK_URL, {"email": "aino@example.fi"}, REMOTE_ADDR=ADDRESS)
    (path,) = MAGIC_LINK.findall(mailoutbox[0].body)
    response = client.post(path, REMOTE_ADDR=ADDRESS)

    assert response.status_code == 302
    assert logged_in_user_id(client) == str(aino.user_id)


# --- Limits on the e-mails a visitor can have sent --------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "sent_template"), MAIL_FORMS)
def test_one_mailbox_gets_a_few_links_per_window_and_the_visitor_cannot_tell(client, mailoutbox, url, sent_template):
    CustomerFactory(email="aino@example.fi")
    asks = settings.PORTAL_MAIL_LIMIT_PER_ACCOUNT + 2

    known = [client.post(url, {"email": "aino@example.fi"}, REMOTE_ADDR=f"84.248.50.{n}") for n in range(asks)]
    unknown = client.post(url, {"email": "nobody@example.fi"}, REMOTE_ADDR="84.248.50.99")

    assert [response.status_code for response in known] == [200] * asks
    assert all(sent_template in template_names(response) for response in known)
    assert len(mailoutbox) == settings.PORTAL_MAIL_LIMIT_PER_ACCOUNT  # from any number of addresses
    over_the_limit = without_csrf_tokens(known[-1].content.decode())
    assert over_the_limit == without_csrf_tokens(unknown.content.decode().replace("nobody@", "aino@"))


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "sent_template"), MAIL_FORMS)
def test_one_address_can_ask_a_few_times_per_window_for_known_and_unknown_e_mails_alike(
    client, mailoutbox, settings, url, sent_template
):
    settings.PORTAL_MAIL_LIMIT_PER_CLIENT = 4
    for name in ("aino", "bertta", "cecilia"):
        CustomerFactory(email=f"{name}@example.fi")
    typed = ["aino@example.fi", "nobody@example.fi", "bertta@example.fi", "noone@example.fi"]

    allowed = [client.post(url, {"email": email}, REMOTE_ADDR=ADDRESS) for email in typed]
    refused_known = client.post(url, {"email": "cecilia@example.fi"}, REMOTE_ADDR=ADDRESS)
    refused_unknown = client.post(url, {"email": "nemo@example.fi"}, REMOTE_ADDR=ADDRESS)

    assert [response.status_code for response in allowed] == [200] * 4
    assert [message.to for message in mailoutbox] == [["aino@example.fi"], ["bertta@example.fi"]]
    for refused in (refused_known, refused_unknown):
        assert refused.status_code == 429
        assert "portal/too_many_requests.html" in template_names(refused)
        assert refused["Retry-After"] == str(settings.PORTAL_MAIL_LIMIT_WINDOW)
    assert without_csrf_tokens(refused_known.content.decode()) == without_csrf_tokens(refused_unknown.content.decode())
    elsewhere = client.post(url, {"email": "cecilia@example.fi"}, REMOTE_ADDR=OTHER_ADDRESS)
    assert elsewhere.status_code == 200
    assert [message.to for message in mailoutbox][-1] == ["cecilia@example.fi"]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "sent_template"), MAIL_FORMS)
def test_a_private_address_is_not_limited_as_a_whole(client, settings, url, sent_template):
    settings.PORTAL_MAIL_LIMIT_PER_CLIENT = 2

    responses = [client.post(url, {"email": f"guess{n}@example.fi"}, REMOTE_ADDR="10.0.0.2") for n in range(5)]

    assert [response.status_code for response in responses] == [200] * 5


@pytest.mark.django_db
def test_the_limits_count_each_kind_of_e_mail_apart(client, mailoutbox):
    CustomerFactory(email="aino@example.fi")
    for _ in range(settings.PORTAL_MAIL_LIMIT_PER_ACCOUNT):
        client.post(MAGIC_LINK_URL, {"email": "aino@example.fi"}, REMOTE_ADDR=ADDRESS)
    mailoutbox.clear()

    client.post(RESET_URL, {"email": "aino@example.fi"}, REMOTE_ADDR=ADDRESS)

    assert len(mailoutbox) == 1
    assert RESET_LINK.findall(mailoutbox[0].body)


@pytest.mark.django_db
def test_the_limit_window_ends(client, mailoutbox, settings):
    """A window of one second: poll until a new request is allowed again."""
    settings.PORTAL_MAIL_LIMIT_PER_ACCOUNT = 1
    settings.PORTAL_MAIL_LIMIT_WINDOW = 1
    CustomerFactory(email="aino@example.fi")
    client.post(MAGIC_LINK_URL, {"email": "aino@example.fi"})
    client.post(MAGIC_LINK_URL, {"email": "aino@example.fi"})
    assert len(mailoutbox) == 1

    deadline = time.monotonic() + 5
    while len(mailoutbox) < 2 and time.monotonic() < deadline:
        client.post(MAGIC_LINK_URL, {"email": "aino@example.fi"})

    assert len(mailoutbox) == 2


# --- E-mail verification ----------------------------------------------------------------------------


def sent_message(purpose: str = MessagePurpose.EMAIL_VERIFY) -> Message:
    """The one queued message of ``purpose``, sent through the outbox to the locmem mailbox."""
    message = Message.objects.get(purpose=purpose)
    sent = message_deliver(message.pk)
    assert sent is not None
    assert sent.status == Message.Status.SENT
    return sent


@pytest.mark.django_db
def test_a_portal_sign_up_gets_a_link_that_verifies_the_address(client, templates):
    joined = client.post(
        JOIN_URL,
        {
            "first_name": "Mikko",
            "last_name": "Virtanen",
            "email": "mikko@example.fi",
            "password": PASSWORD,
            "language": "en",
            "code": "",
        },
    )
    assert joined.status_code == 302
    mikko = Customer.objects.get(email="mikko@example.fi")
    assert mikko.email_verified_at is None

    message = sent_message()
    assert (message.is_marketing, message.customer_id, message.to_address) == (False, mikko.pk, "mikko@example.fi")
    assert [email.to for email in mail.outbox] == [["mikko@example.fi"]]
    (token,) = VERIFY_LINK.findall(mail.outbox[0].body)
    assert "Please confirm your e-mail address" in mail.outbox[0].subject
    banner = client.get(HOME_URL).content.decode()
    assert 'action="/portal/verify/resend/"' in banner

    client.post(LOGOUT_URL)  # the link works without a session
    first = client.get(f"/portal/verify/{token}/")
    mikko.refresh_from_db()
    verified_at = mikko.email_verified_at
    again = client.get(f"/portal/verify/{token}/")

    assert (first.status_code, again.status_code) == (200, 200)
    assert "portal/email_verified.html" in template_names(first)
    assert verified_at is not None
    mikko.refresh_from_db()
    assert mikko.email_verified_at == verified_at  # opening it again changes nothing
    client.force_login(mikko.user)
    assert 'action="/portal/verify/resend/"' not in client.get(HOME_URL).content.decode()


def _tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda customer: _tampered(email_verification_token_make(customer)), id="signature-changed"),
        pytest.param(lambda customer: "not-a-token", id="garbage"),
        pytest.param(
            lambda customer: signing.dumps({"c": str(customer.public_id), "e": customer.email}, salt="other.salt"),
            id="other-salt",
        ),
        pytest.param(
            lambda customer: signing.dumps([str(customer.public_id)], salt=EMAIL_VERIFY_SALT), id="not-a-dict"
        ),
        pytest.param(
            lambda customer: signing.dumps({"c": "not-a-uuid", "e": customer.email}, salt=EMAIL_VERIFY_SALT),
            id="bad-id",
        ),
        pytest.param(
            lambda customer: signing.dumps(
                {"c": "00000000-0000-4000-8000-000000000000", "e": customer.email}, salt=EMAIL_VERIFY_SALT
            ),
            id="unknown-customer",
        ),
    ],
)
def test_a_forged_or_tampered_verification_link_shows_a_friendly_page_and_verifies_nothing(client, forge):
    customer = make_customer(email="aino@example.fi")

    response = client.get(f"/portal/verify/{forge(customer)}/")

    assert response.status_code == 400
    assert "portal/email_verify_invalid.html" in template_names(response)
    assert 'href="/portal/login/"' in response.content.decode()  # signed out: sign in to ask again
    customer.refresh_from_db()
    assert customer.email_verified_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(("age", "status"), [(-60, 200), (1, 400)])
def test_a_verification_link_expires(client, age, status):
    customer = make_customer(email="aino@example.fi")
    issued_at = time.time() - settings.EMAIL_VERIFY_MAX_AGE - age
    with mock.patch("django.core.signing.time.time", return_value=issued_at):
        token = email_verification_token_make(customer)

    response = client.get(f"/portal/verify/{token}/")

    assert response.status_code == status
    customer.refresh_from_db()
    assert (customer.email_verified_at is not None) is (status == 200)


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["email", "blocked"])
def test_a_link_for_an_old_address_or_a_blocked_customer_verifies_nothing(client, change):
    customer = make_customer(email="aino@example.fi")
    token = email_verification_token_make(customer)
    if change == "email":
        customer_update(customer=customer, source="api", email="aino.virtanen@example.fi")
    else:
        Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.BLOCKED)

    response = client.get(f"/portal/verify/{token}/")

    assert response.status_code == 400
    customer.refresh_from_db()
    assert customer.email_verified_at is None


@pytest.mark.django_db
def test_a_signed_in_customer_on_an_invalid_link_page_can_ask_for_a_new_one(client):
    customer = make_customer(email="aino@example.fi")
    client.force_login(customer.user)

    response = client.get("/portal/verify/not-a-token/")

    assert response.status_code == 400
    assert 'action="/portal/verify/resend/"' in response.content.decode()


@pytest.mark.django_db
def test_resending_the_link_is_limited_per_customer(client, templates):
    customer = make_customer(email="aino@example.fi")
    client.force_login(customer.user)
    allowed = settings.PORTAL_MAIL_LIMIT_PER_ACCOUNT

    responses = [client.post(RESEND_URL) for _ in range(allowed + 1)]

    assert [response.status_code for response in responses] == [302] * (allowed + 1)
    assert {response["Location"] for response in responses} == {HOME_URL}
    messages = Message.objects.filter(customer=customer, purpose=MessagePurpose.EMAIL_VERIFY)
    assert messages.count() == allowed
    assert all(VERIFY_LINK.search(message.body) for message in messages)
    home = client.get(HOME_URL).content.decode()
    assert "We have sent you several links already" in home


@pytest.mark.django_db
def test_resending_for_a_verified_address_sends_nothing(client, templates):
    customer = make_customer(email="aino@example.fi")
    customer_email_verify(customer=customer)
    client.force_login(customer.user)

    response = client.post(RESEND_URL, follow=True)

    assert response.status_code == 200
    assert "already confirmed" in response.content.decode()
    assert Message.objects.count() == 0
    assert email_verification_send(customer=customer, request_base_url="http://testserver/") is None


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_resend_needs_a_signed_in_customer_and_a_post(client, templates, method):
    customer = make_customer(email="aino@example.fi")

    anonymous = getattr(client, method)(RESEND_URL)
    client.force_login(customer.user)
    signed_in = getattr(client, method)(RESEND_URL)

    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"{LOGIN_URL}?next={RESEND_URL}"
    assert signed_in.status_code == (405 if method == "get" else 302)
    assert Message.objects.count() == (1 if method == "post" else 0)


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["magic-link", "password-reset"])
def test_a_link_mailed_to_the_address_verifies_it_too(client, mailoutbox, how):
    customer = make_customer(email="aino@example.fi")
    if how == "magic-link":
        client.post(MAGIC_LINK_URL, {"email": "aino@example.fi"})
        (path,) = MAGIC_LINK.findall(mailoutbox[0].body)
        client.post(path)
    else:
        reset_password(client, mailoutbox, "aino@example.fi", NEW_PASSWORD)

    customer.refresh_from_db()
    assert customer.email_verified_at is not None


@pytest.mark.django_db
def test_verifying_twice_records_the_first_moment_only(db):
    customer = CustomerFactory()

    first = customer_email_verify(customer=customer)
    at = Customer.objects.get(pk=customer.pk).email_verified_at
    second = customer_email_verify(customer=Customer.objects.get(pk=customer.pk))

    assert (first, second) == (True, False)
    assert Customer.objects.get(pk=customer.pk).email_verified_at == at


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("source", "verified", "is_marketing", "status", "reason"),
    [
        (SignupSource.PORTAL, False, True, "suppressed", "email_not_verified"),
        (SignupSource.REFERRAL, False, True, "suppressed", "email_not_verified"),
        (SignupSource.PORTAL, True, True, "pending", ""),
        (SignupSource.PORTAL, False, False, "pending", ""),  # transactional mail is not held back
        (SignupSource.API, False, True, "pending", ""),  # the partner vouches for the address
        (SignupSource.ADMIN, False, True, "pending", ""),
        (SignupSource.IMPORT, False, True, "pending", ""),
    ],
)
def test_marketing_e_mail_waits_for_the_address_of_a_portal_sign_up_only(
    templates, source, verified, is_marketing, status, reason
):
    customer = CustomerFactory(
        signup_source=source, email_verified_at=timezone.now() if verified else None, language="en"
    )
    customer_consent_set(customer=customer, channel="email", granted=True, source="api")

    message = message_queue(
        customer=customer,
        purpose=MessagePurpose.ANNOUNCEMENT,
        idempotency_key=f"announcement:{customer.pk}",
        context={"details": "Double points all weekend."},
        is_marketing=is_marketing,
    )

    assert (message.status, message.suppressed_reason) == (status, reason)


@pytest.mark.django_db
def test_a_customer_a_partner_created_is_not_marked_verified_but_gets_marketing(api_client, templates):
    response = api_client.post(
        "/api/v1/customers/", {"email": "partner.made@example.fi", "email_consent": True}, format="json"
    )
    assert response.status_code == 201
    customer = Customer.objects.get(email="partner.made@example.fi")

    message = message_queue(
        customer=customer,
        purpose=MessagePurpose.ANNOUNCEMENT,
        idempotency_key="announcement:partner",
        context={"details": "Double points all weekend."},
        is_marketing=True,
    )

    assert customer.email_verified_at is None
    assert (message.status, message.suppressed_reason) == ("pending", "")


# --- Password reset -----------------------------------------------------------------------------------


def reset_password(client: Client, mailoutbox, email: str, password: str):
    """Ask for the link, open it, choose ``password``; returns the last response."""
    client.post(RESET_URL, {"email": email})
    (path,) = RESET_LINK.findall(mailoutbox[-1].body)
    opened = client.get(path)
    assert opened.status_code == 302  # Django moves the token out of the address bar
    return client.post(opened["Location"], {"new_password1": password, "new_password2": password})


@pytest.mark.django_db
def test_password_reset_end_to_end(client, mailoutbox):
    customer = make_customer(email="aino@example.fi", first_name="Aino", language="fi")
    assert 'href="/portal/password/reset/"' in client.get(LOGIN_URL).content.decode()

    asked = client.post(RESET_URL, {"email": "AINO@example.FI"})

    assert asked.status_code == 200
    assert "portal/password_reset_sent.html" in template_names(asked)
    (email,) = mailoutbox
    assert email.to == ["aino@example.fi"]
    with translation.override("fi"):
        assert email.subject == gettext("Set a new password for Vastavuoro")
    assert "Aino" in email.body
    (path,) = RESET_LINK.findall(email.body)
    opened = client.get(path)
    assert opened.status_code == 302
    form_page = client.get(opened["Location"])
    assert form_page.status_code == 200
    assert form_page.context["validlink"] is True

    done = client.post(opened["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert done.status_code == 302
    assert done["Location"] == LOGIN_URL
    assert logged_in_user_id(client) is None  # then sign in, with the new password
    assert "Your new password is set" in client.get(LOGIN_URL).content.decode()
    assert portal_login(client, "aino@example.fi", PASSWORD).status_code == 200
    assert portal_login(client, "aino@example.fi", NEW_PASSWORD).status_code == 302
    assert logged_in_user_id(client) == str(customer.user_id)
    client.post(LOGOUT_URL)
    reused = client.get(path)
    assert reused.status_code == 200
    assert reused.context["validlink"] is False
    assert "portal/password_reset_confirm.html" in template_names(reused)


@pytest.mark.django_db
def test_password_reset_gives_a_login_to_a_customer_who_had_none(client, mailoutbox):
    customer = CustomerFactory(email="aino@example.fi")

    reset_password(client, mailoutbox, "aino@example.fi", NEW_PASSWORD)

    customer.refresh_from_db()
    assert customer.user is not None
    assert customer.user.check_password(NEW_PASSWORD)
    assert customer.user.username == f"customer-{customer.public_id}"


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["unknown", "blocked", "staff-only"])
def test_password_reset_for_unknown_inactive_or_staff_e_mail_answers_the_same_and_sends_nothing(
    client, mailoutbox, case
):
    CustomerFactory(email="known@example.fi")
    typed = {"unknown": "other@example.fi", "blocked": "other@example.fi", "staff-only": "boss@vastavuoro.test"}[case]
    if case == "blocked":
        customer = make_customer(email="other@example.fi")
        Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.BLOCKED)
    if case == "staff-only":
        make_staff()
    known = client.post(RESET_URL, {"email": "known@example.fi"})
    mailoutbox.clear()

    response = client.post(RESET_URL, {"email": typed})

    assert response.status_code == known.status_code == 200
    assert without_csrf_tokens(response.content.decode()) == without_csrf_tokens(
        known.content.decode().replace("known@example.fi", typed)
    )
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_staff_login_cannot_be_reset_through_the_portal(client):
    staff = make_staff()
    uid = urlsafe_base64_encode(force_bytes(staff.pk))
    token = default_token_generator.make_token(staff)

    response = client.get(f"/portal/password/reset/{uid}/{token}/", follow=True)

    assert response.status_code == 200
    assert response.context["validlink"] is False
    staff.refresh_from_db()
    assert staff.check_password(STAFF_PASSWORD)


@pytest.mark.django_db
def test_a_bad_new_password_shows_the_error_and_changes_nothing(client, mailoutbox):
    customer = make_customer(email="aino@example.fi")

    response = reset_password(client, mailoutbox, "aino@example.fi", "12345678901")

    assert response.status_code == 200
    assert "password_entirely_numeric" in [
        error.code for error in response.context["form"].errors.as_data()["new_password2"]
    ]
    assert User.objects.get(pk=customer.user_id).check_password(PASSWORD)


@pytest.mark.django_db
def test_a_new_password_by_e_mail_lifts_the_lock_on_the_login(client, mailoutbox):
    customer = make_customer(email="aino@example.fi")
    lock_out_login(client, "aino@example.fi")

    reset_password(client, mailoutbox, "aino@example.fi", NEW_PASSWORD)
    response = portal_login(client, "aino@example.fi", NEW_PASSWORD, address=OTHER_ADDRESS)

    assert response.status_code == 302
    assert logged_in_user_id(client) == str(customer.user_id)


# --- CSRF on every new form ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "sent_template"), MAIL_FORMS)
def test_mail_forms_refuse_a_post_without_the_csrf_token(mailoutbox, url, sent_template):
    CustomerFactory(email="aino@example.fi")
    client = Client(enforce_csrf_checks=True)

    refused = client.post(url, {"email": "aino@example.fi"})

    assert refused.status_code == 403
    assert mailoutbox == []
    client.get(url)
    accepted = client.post(url, {"email": "aino@example.fi", "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert accepted.status_code == 200
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_the_new_password_form_refuses_a_post_without_the_csrf_token(mailoutbox):
    customer = make_customer(email="aino@example.fi")
    client = Client(enforce_csrf_checks=True)
    client.get(RESET_URL)
    client.post(RESET_URL, {"email": "aino@example.fi", "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    (path,) = RESET_LINK.findall(mailoutbox[0].body)
    form_url = client.get(path)["Location"]
    data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}

    refused = client.post(form_url, data)

    assert refused.status_code == 403
    assert User.objects.get(pk=customer.user_id).check_password(PASSWORD)
    client.get(form_url)
    accepted = client.post(form_url, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert accepted.status_code == 302
    assert User.objects.get(pk=customer.user_id).check_password(NEW_PASSWORD)


@pytest.mark.django_db
def test_resend_refuses_a_post_without_the_csrf_token(templates):
    customer = make_customer(email="aino@example.fi")
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer.user)

    refused = client.post(RESEND_URL)

    assert refused.status_code == 403
    assert Message.objects.count() == 0
    client.get(HOME_URL)
    accepted = client.post(RESEND_URL, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert accepted.status_code == 302
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_the_admin_login_refuses_a_post_without_the_csrf_token():
    make_staff()
    client = Client(enforce_csrf_checks=True)
    data = {"username": "boss", "password": STAFF_PASSWORD, "next": "/admin/"}

    refused = client.post(ADMIN_LOGIN_URL, data)

    assert refused.status_code == 403
    assert logged_in_user_id(client) is None
    client.get(ADMIN_LOGIN_URL)
    accepted = client.post(ADMIN_LOGIN_URL, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert accepted.status_code == 302


# --- Query counts -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("verified", [False, True])
def test_the_home_page_with_or_without_the_banner_uses_the_same_queries(
    client, django_assert_num_queries, monkeypatch, verified
):
    monkeypatch.setattr("customers.portal.panels._panels", {})
    customer = make_customer(email="aino@example.fi")
    if verified:
        customer_email_verify(customer=customer)
    client.force_login(customer.user)

    # session, user, customer
    with django_assert_num_queries(3):
        response = client.get(HOME_URL)

    assert response.status_code == 200
    assert ('action="/portal/verify/resend/"' in response.content.decode()) is not verified


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "status"),
    [(LOGIN_URL, 200), (MAGIC_LINK_URL, 200), (RESET_URL, 200), (ADMIN_LOGIN_URL, 200), ("/portal/verify/x/", 400)],
)
def test_the_sign_in_pages_make_no_query(client, django_assert_num_queries, url, status):
    with django_assert_num_queries(0):
        response = client.get(url)

    assert response.status_code == status


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "sent_template"), MAIL_FORMS)
@pytest.mark.parametrize("known", [False, True])
def test_asking_for_a_link_uses_a_constant_number_of_queries(
    client, mailoutbox, django_assert_num_queries, url, sent_template, known
):
    customer = make_customer(email="aino@example.fi")
    for index in range(3):
        make_customer(email=f"other{index}@example.fi")
    typed = customer.email if known else "nobody@example.fi"

    # the customer by e-mail; for a member, their login (savepoint, select, release)
    with django_assert_num_queries(4 if known else 1):
        response = client.post(url, {"email": typed}, REMOTE_ADDR=ADDRESS)

    assert response.status_code == 200
    assert len(mailoutbox) == int(known)


@pytest.mark.django_db
def test_a_failed_and_a_locked_out_sign_in_use_a_constant_number_of_queries(client, django_assert_num_queries):
    make_customer(email="aino@example.fi")
    for index in range(3):
        make_customer(email=f"other{index}@example.fi")

    # axes: failures per login and per address (not locked); the customer; axes again: expired
    # attempts to delete, the attempt found or made (savepoint, select for update, savepoint,
    # insert, release, release), failures per login and per address
    with django_assert_num_queries(12):
        failed = portal_login(client, "aino@example.fi", "wrong-password", address="84.248.60.1")
    for n in range(2, LIMIT + 1):
        portal_login(client, "aino@example.fi", "wrong-password", address=f"84.248.60.{n}")
    # axes: failures per login and per address (locked: no customer, no password check); then
    # the refused attempt is counted like any failure (the last nine queries above)
    with django_assert_num_queries(11):
        locked = portal_login(client, "aino@example.fi", PASSWORD, address="84.248.60.99")

    assert (failed.status_code, locked.status_code) == (200, 429)


@pytest.mark.django_db
def test_the_verification_link_and_the_resend_use_a_constant_number_of_queries(
    client, templates, django_assert_num_queries
):
    customer = make_customer(email="aino@example.fi")
    token = email_verification_token_make(customer)

    # the customer; the update (savepoint, update, release)
    with django_assert_num_queries(4):
        response = client.get(f"/portal/verify/{token}/")
    assert response.status_code == 200

    other = make_customer(email="bertta@example.fi")
    client.force_login(other.user)
    # session, user, customer; the send (savepoint, the customer fresh, savepoint), the outbox row
    # (look up, lock the customer, look up again, the template, savepoint, insert, release) and
    # the two releases
    with django_assert_num_queries(15):
        response = client.post(RESEND_URL)
    assert response.status_code == 302
    assert Message.objects.filter(customer=other).count() == 1


@pytest.mark.django_db
def test_the_new_password_pages_use_a_constant_number_of_queries(client, mailoutbox, django_assert_num_queries):
    customer = make_customer(email="aino@example.fi")
    client.post(RESET_URL, {"email": customer.email})
    (path,) = RESET_LINK.findall(mailoutbox[0].body)

    # the user, their customer; the session is saved with the token (exists, savepoint, insert,
    # release)
    with django_assert_num_queries(6):
        opened = client.get(path)
    with django_assert_num_queries(3):
        form_page = client.get(opened["Location"])
    # the user, their customer, the session; the password; the customer, verified (savepoint,
    # update, release); the login's failures cleared; the session saved (savepoint, update, release)
    with django_assert_num_queries(12):
        done = client.post(opened["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert (opened.status_code, form_page.status_code, done.status_code) == (302, 200, 302)


# --- Concurrency ------------------------------------------------------------------------------------


def _parallel(call, count: int = 8) -> list:
    barrier = threading.Barrier(count)

    def run(index: int):
        try:
            barrier.wait(timeout=10)
            return call(index)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_are_all_counted():
    make_customer(email="aino@example.fi")

    responses = _parallel(lambda index: portal_login(Client(), "aino@example.fi", "wrong-password"))

    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {200, 429}
    assert statuses.count(200) <= LIMIT - 1  # at most the failures under the limit got the form back
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == ("aino@example.fi", ADDRESS, 8)
    assert portal_login(Client(), "aino@example.fi", PASSWORD, address=OTHER_ADDRESS).status_code == 429


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_openings_of_the_verification_link_verify_once():
    customer = make_customer(email="aino@example.fi")
    token = email_verification_token_make(customer)

    responses = _parallel(lambda index: Client().get(f"/portal/verify/{token}/"))
    verified_at = Customer.objects.get(pk=customer.pk).email_verified_at
    again = customer_email_verify(customer=Customer.objects.get(pk=customer.pk))

    assert [response.status_code for response in responses] == [200] * 8
    assert verified_at is not None
    assert again is False
    assert Customer.objects.get(pk=customer.pk).email_verified_at == verified_at


# --- Production cookies -------------------------------------------------------------------------------


def test_production_cookies_are_secure_and_the_lockout_is_on():
    script = (
        "import django, json; django.setup(); from django.conf import settings;"
        "print(json.dumps([settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE,"
        " settings.SESSION_COOKIE_HTTPONLY, settings.AUTHENTICATION_BACKENDS[0], settings.MIDDLEWARE[-1],"
        " settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds()]))"
    )
    production = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": "k" * 20 + "-production-secret-with-enough-entropy-0123456789",
        "DATABASE_URL": "postgres://app@db.internal:5432/vastavuoro",
        "ALLOWED_HOSTS": "example.com",
        "LOGIN_FAILURE_LIMIT": "7",
        "LOGIN_COOLOFF_MINUTES": "30",
    }
    clean = {key: value for key, value in os.environ.items() if key not in {*production, "DEBUG"}}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, **production, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        True,
        True,
        True,
        "customers.portal.lockout.LockoutBackend",
        "axes.middleware.AxesMiddleware",
        7,
        1800.0,
    ]
