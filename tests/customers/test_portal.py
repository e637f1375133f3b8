from __future__ import annotations

import datetime
import re
import time
from unittest import mock

import pytest
from django.conf import settings
from django.core import signing
from django.forms.models import model_to_dict
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext

from customers.models import ConsentEvent, Customer, User
from customers.portal.forms import PortalLoginForm
from customers.portal.tokens import SALT, magic_link_token_make
from customers.services import customer_consent_set, customer_portal_login_ensure, customer_tags_set
from tests.customers.factories import CustomerFactory

HOME_URL = "/portal/"
LOGIN_URL = "/portal/login/"
MAGIC_LINK_URL = "/portal/login/link/"
LOGOUT_URL = "/portal/logout/"
PROFILE_URL = "/portal/profile/"
PASSWORD_URL = "/portal/password/"
PASSWORD = "kahvi-ja-pulla-2024"
LINK_PATTERN = re.compile(r"http://testserver/portal/login/link/([^/\s]+)/")


def make_customer(*, password: str | None = PASSWORD, **fields) -> Customer:
    """A customer with a portal login (a usable password unless ``password`` is None)."""
    customer = CustomerFactory(**fields)
    customer_portal_login_ensure(customer=customer, password=password)
    customer.refresh_from_db()
    return customer


def link_url(token: str) -> str:
    return f"{MAGIC_LINK_URL}{token}/"


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def error_codes(form, field: str = "__all__") -> list[str]:
    return [error.code for error in form.errors.as_data().get(field, [])]


def profile_post_data(customer: Customer, **changes) -> dict:
    """The profile form as the customer's browser would send it unchanged, with ``changes`` applied."""
    data = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "birth_date": customer.birth_date.isoformat() if customer.birth_date else "",
        "language": customer.language,
        "preferred_reward_kind": customer.preferred_reward_kind,
    }
    if customer.email_consent:
        data["email_consent"] = "on"
    if customer.sms_consent:
        data["sms_consent"] = "on"
    data.update(changes)
    return data


def customer_state(customer: Customer) -> dict:
    fresh = Customer.objects.get(pk=customer.pk)
    return {**model_to_dict(fresh, exclude=["tags"]), "updated_at": fresh.updated_at}


def without_csrf_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value=""', html)


# --- Login by e-mail and password ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["aino@example.fi", "AINO@EXAMPLE.FI", "Aino@Example.Fi", "  aino@example.fi "])
def test_login_by_email_in_any_case_and_password_signs_in(client, typed):
    customer = make_customer(email="aino@example.fi", language="ru")

    response = client.post(LOGIN_URL, {"username": typed, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == HOME_URL
    assert logged_in_user_id(client) == str(customer.user_id)
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    assert client.get(HOME_URL).status_code == 200


@pytest.mark.django_db
def test_login_follows_a_safe_next_url_only(client):
    make_customer(email="aino@example.fi")

    safe = client.post(LOGIN_URL, {"username": "aino@example.fi", "password": PASSWORD, "next": PROFILE_URL})
    client.post(LOGOUT_URL)
    unsafe = client.post(
        LOGIN_URL, {"username": "aino@example.fi", "password": PASSWORD, "next": "https://evil.example/"}
    )

    assert safe["Location"] == PROFILE_URL
    assert unsafe["Location"] == HOME_URL


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "password"),
    [("aino@example.fi", "wrong-password"), ("nobody@example.fi", PASSWORD), ("aino@example.fi", "")],
)
def test_wrong_credentials_show_the_form_error_and_stay_logged_out(client, username, password):
    customer = make_customer(email="aino@example.fi")

    response = client.post(LOGIN_URL, {"username": username, "password": password})

    assert response.status_code == 200
    assert "portal/login.html" in [template.name for template in response.templates]
    form = response.context["form"]
    assert not form.is_valid()
    if password:
        assert error_codes(form) == ["invalid_login"]
        with translation.override("en"):
            assert str(PortalLoginForm.error_messages["invalid_login"]) in response.content.decode()
    else:
        assert error_codes(form, "password") == ["required"]
    assert logged_in_user_id(client) is None
    assert User.objects.get(pk=customer.user_id).last_login is None
    assert client.get(HOME_URL)["Location"] == f"{LOGIN_URL}?next={HOME_URL}"


@pytest.mark.django_db
def test_staff_user_without_customer_cannot_log_in_to_the_portal(client):
    staff = User.objects.create_user(
        username="staff", email="staff@vastavuoro.test", password=PASSWORD, is_staff=True, is_superuser=True
    )

    response = client.post(LOGIN_URL, {"username": "staff@vastavuoro.test", "password": PASSWORD})

    assert response.status_code == 200
    # The same answer as a wrong password: the portal does not reveal that a staff login exists.
    assert error_codes(response.context["form"]) == ["invalid_login"]
    assert logged_in_user_id(client) is None
    staff.refresh_from_db()
    assert staff.last_login is None


@pytest.mark.django_db
@pytest.mark.parametrize("url", [HOME_URL, PROFILE_URL, PASSWORD_URL])
def test_staff_session_without_customer_is_signed_out_of_the_portal(client, url):
    staff = User.objects.create_user(username="staff", email="staff@vastavuoro.test", is_staff=True)
    client.force_login(staff)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert logged_in_user_id(client) is None


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Customer.Status.BLOCKED, Customer.Status.ERASED])
def test_blocked_or_erased_customer_cannot_log_in(client, status):
    customer = make_customer(email="aino@example.fi")
    Customer.objects.filter(pk=customer.pk).update(status=status)

    response = client.post(LOGIN_URL, {"username": "aino@example.fi", "password": PASSWORD})

    assert response.status_code == 200
    assert error_codes(response.context["form"]) == ["invalid_login"]
    assert logged_in_user_id(client) is None
    assert User.objects.get(pk=customer.user_id).last_login is None


@pytest.mark.django_db
@pytest.mark.parametrize("url", [HOME_URL, PROFILE_URL, PASSWORD_URL])
def test_customer_blocked_while_signed_in_is_signed_out(client, url):
    customer = make_customer(email="aino@example.fi")
    client.force_login(customer.user)
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.BLOCKED)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert logged_in_user_id(client) is None


# --- Magic link ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fi", "ru", "en"])
def test_magic_link_request_sends_one_email_in_the_customers_language(client, mailoutbox, language):
    customer = CustomerFactory(email="aino@example.fi", first_name="Aino", language=language)

    response = client.post(MAGIC_LINK_URL, {"email": "AINO@example.FI"})

    assert response.status_code == 200
    assert "portal/magic_link_sent.html" in [template.name for template in response.templates]
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["aino@example.fi"]
    with translation.override(language):
        assert message.subject == gettext("Your sign-in link for Vastavuoro")
    links = LINK_PATTERN.findall(message.body)
    assert len(links) == 1
    customer.refresh_from_db()
    assert customer.user is not None  # the portal login was created for the link
    assert customer.user.email == "aino@example.fi"
    assert not customer.user.has_usable_password()
    assert logged_in_user_id(client) is None  # asking for a link does not sign anyone in

    confirm = client.get(link_url(links[0]))
    assert confirm.status_code == 200


@pytest.mark.django_db
def test_magic_link_request_reuses_the_existing_login(client, mailoutbox):
    customer = make_customer(email="aino@example.fi")

    client.post(MAGIC_LINK_URL, {"email": "aino@example.fi"})

    assert len(mailoutbox) == 1
    assert User.objects.count() == 1
    customer.refresh_from_db()
    assert customer.user.check_password(PASSWORD)  # asking for a link leaves the password alone


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["unknown", "blocked", "erased"])
def test_magic_link_request_for_unknown_or_inactive_email_answers_the_same_and_sends_nothing(client, mailoutbox, case):
    CustomerFactory(email="known@example.fi")
    if case != "unknown":
        CustomerFactory(email="other@example.fi", status=case)
    known = client.post(MAGIC_LINK_URL, {"email": "known@example.fi"})
    mailoutbox.clear()
    users_before = User.objects.count()

    response = client.post(MAGIC_LINK_URL, {"email": "other@example.fi"})

    assert response.status_code == known.status_code == 200
    assert without_csrf_tokens(response.content.decode()) == without_csrf_tokens(
        known.content.decode().replace("known@example.fi", "other@example.fi")
    )
    assert mailoutbox == []
    assert User.objects.count() == users_before


@pytest.mark.django_db
def test_magic_link_for_a_customer_whose_email_is_also_a_staff_login_makes_a_separate_login(client, mailoutbox):
    staff = User.objects.create_user(username="aino", email="Aino@Example.fi", is_staff=True)
    customer = CustomerFactory(email="aino@example.fi")

    response = client.post(MAGIC_LINK_URL, {"email": "aino@example.fi"})

    assert response.status_code == 200
    assert [message.to for message in mailoutbox] == [["aino@example.fi"]]
    customer.refresh_from_db()
    assert customer.user is not None
    assert customer.user.pk != staff.pk
    assert customer.user.is_staff is False


@pytest.mark.django_db
def test_magic_link_request_with_an_invalid_email_shows_the_form_error(client, mailoutbox):
    response = client.post(MAGIC_LINK_URL, {"email": "not-an-email"})

    assert response.status_code == 200
    assert "portal/magic_link_request.html" in [template.name for template in response.templates]
    assert error_codes(response.context["form"], "email") == ["invalid"]
    assert mailoutbox == []


@pytest.mark.django_db
def test_magic_link_get_shows_a_confirm_page_and_does_not_log_in(client):
    customer = make_customer(email="aino@example.fi", password=None)
    token = magic_link_token_make(customer.user)

    first = client.get(link_url(token))
    second = client.get(link_url(token))  # a mail scanner following the link does not spend it

    for response in (first, second):
        assert response.status_code == 200
        assert "portal/magic_link_confirm.html" in [template.name for template in response.templates]
        assert "aino@example.fi" in response.content.decode()
    assert logged_in_user_id(client) is None
    assert User.objects.get(pk=customer.user_id).last_login is None


@pytest.mark.django_db
def test_magic_link_post_logs_in_and_redirects_home(client, mailoutbox):
    customer = CustomerFactory(email="aino@example.fi", language="fi")
    client.post(MAGIC_LINK_URL, {"email": "aino@example.fi"})
    (token,) = LINK_PATTERN.findall(mailoutbox[0].body)

    response = client.post(link_url(token))

    customer.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == HOME_URL
    assert logged_in_user_id(client) == str(customer.user_id)
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fi"
    assert customer.user.last_login is not None
    assert client.get(HOME_URL).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_magic_link_works_only_once(client, method):
    customer = make_customer(email="aino@example.fi", password=None)
    token = magic_link_token_make(customer.user)
    assert client.post(link_url(token)).status_code == 302
    client.post(LOGOUT_URL)
    last_login = User.objects.get(pk=customer.user_id).last_login

    response = getattr(client, method)(link_url(token))

    assert response.status_code == 400
    assert "portal/magic_link_invalid.html" in [template.name for template in response.templates]
    assert logged_in_user_id(client) is None
    assert User.objects.get(pk=customer.user_id).last_login == last_login


@pytest.mark.django_db
def test_magic_link_stops_working_after_a_password_login(client):
    customer = make_customer(email="aino@example.fi")
    token = magic_link_token_make(customer.user)
    client.post(LOGIN_URL, {"username": "aino@example.fi", "password": PASSWORD})
    client.post(LOGOUT_URL)

    response = client.post(link_url(token))

    assert response.status_code == 400
    assert logged_in_user_id(client) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("age", "status"), [(settings.MAGIC_LINK_MAX_AGE - 60, 302), (settings.MAGIC_LINK_MAX_AGE + 1, 400)]
)
def test_magic_link_expires_after_max_age(client, age, status):
    customer = make_customer(email="aino@example.fi", password=None)
    issued_at = time.time() - age
    with mock.patch("django.core.signing.time.time", return_value=issued_at):
        token = magic_link_token_make(customer.user)

    response = client.post(link_url(token))

    assert response.status_code == status
    assert (logged_in_user_id(client) == str(customer.user_id)) is (status == 302)
    assert (User.objects.get(pk=customer.user_id).last_login is None) is (status == 400)


def _tampered(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda user: _tampered(magic_link_token_make(user)), id="signature-changed"),
        pytest.param(lambda user: "not-a-token", id="garbage"),
        pytest.param(
            lambda user: signing.dumps({"u": user.pk, "l": "never"}, salt="another.salt", compress=True),
            id="other-salt",
        ),
        pytest.param(
            lambda user: signing.dumps({"u": user.pk, "l": "never"}, salt=SALT, key="not-the-secret-key"),
            id="other-key",
        ),
        pytest.param(lambda user: signing.dumps([user.pk], salt=SALT), id="not-a-dict"),
        pytest.param(lambda user: signing.dumps({"u": user.pk + 1000, "l": "never"}, salt=SALT), id="unknown-user"),
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_forged_or_tampered_magic_link_fails(client, forge, method):
    customer = make_customer(email="aino@example.fi", password=None)

    response = getattr(client, method)(link_url(forge(customer.user)))

    assert response.status_code == 400
    assert "portal/magic_link_invalid.html" in [template.name for template in response.templates]
    assert logged_in_user_id(client) is None
    assert User.objects.get(pk=customer.user_id).last_login is None


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["staff-without-customer", "blocked", "inactive-user"])
def test_valid_magic_link_of_a_user_who_may_not_use_the_portal_fails(client, case):
    if case == "staff-without-customer":
        user = User.objects.create_user(username="staff", email="staff@vastavuoro.test", is_staff=True)
    else:
        customer = make_customer(email="aino@example.fi", password=None)
        user = customer.user
        if case == "blocked":
            Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.BLOCKED)
        else:
            User.objects.filter(pk=user.pk).update(is_active=False)

    response = client.post(link_url(magic_link_token_make(user)))

    assert response.status_code == 400
    assert logged_in_user_id(client) is None
    assert User.objects.get(pk=user.pk).last_login is None


# --- Profile ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_profile_shows_the_customers_own_data(client):
    customer = make_customer(
        email="aino@example.fi",
        first_name="Aino",
        last_name="Virtanen",
        birth_date=datetime.date(1990, 5, 17),
        language="ru",
        preferred_reward_kind="gift",
    )
    customer_consent_set(customer=customer, channel="sms", granted=True, source="api")
    client.force_login(customer.user)

    response = client.get(PROFILE_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["form"].initial == {
        "first_name": "Aino",
        "last_name": "Virtanen",
        "birth_date": datetime.date(1990, 5, 17),
        "language": "ru",
        "preferred_reward_kind": "gift",
        "email_consent": False,
        "sms_consent": True,
        "interests": [],
    }
    assert "aino@example.fi" in html
    assert 'value="Aino"' in html
    assert 'value="Virtanen"' in html
    assert 'value="1990-05-17"' in html
    assert '<option value="ru" selected>' in html
    assert '<option value="gift" selected>' in html
    assert re.search(r'<input type="checkbox" name="sms_consent"[^>]* checked', html)
    assert not re.search(r'<input type="checkbox" name="email_consent"[^>]* checked', html)


@pytest.mark.django_db
def test_profile_post_updates_the_customer_and_records_the_consent_change(client):
    customer = make_customer(email="aino@example.fi", first_name="Aino", last_name="Virtanen", language="fi")
    client.force_login(customer.user)

    response = client.post(
        PROFILE_URL,
        {
            "first_name": "Aino-Maria",
            "last_name": "Korhonen",
            "birth_date": "1985-12-24",
            "language": "ru",
            "preferred_reward_kind": "free_shipping",
            "email_consent": "on",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == PROFILE_URL
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    customer.refresh_from_db()
    assert (
        customer.first_name,
        customer.last_name,
        customer.birth_date,
        customer.language,
        customer.preferred_reward_kind,
        customer.email_consent,
        customer.sms_consent,
    ) == ("Aino-Maria", "Korhonen", datetime.date(1985, 12, 24), "ru", "free_shipping", True, False)
    assert customer.email_consent_at is not None
    assert customer.sms_consent_at is None
    event = ConsentEvent.objects.get()
    assert (event.customer, event.channel, event.is_granted, event.source, event.recorded_by, event.partner) == (
        customer,
        "email",
        True,
        "portal",
        customer.user,
        None,
    )
    followed = client.get(PROFILE_URL)
    assert '<html lang="ru">' in followed.content.decode()
    assert followed["Content-Language"] == "ru"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("before", "posted", "expected_events"),
    [
        ({}, {}, []),
        ({"email": True, "sms": True}, {"email_consent": "on", "sms_consent": "on"}, []),
        ({"email": True}, {}, [("email", False)]),
        ({"email": True, "sms": False}, {"sms_consent": "on"}, [("email", False), ("sms", True)]),
    ],
)
def test_profile_post_records_one_event_per_consent_change_only(client, before, posted, expected_events):
    customer = make_customer(email="aino@example.fi")
    for channel, granted in before.items():
        customer_consent_set(customer=customer, channel=channel, granted=granted, source="api")
    existing = set(ConsentEvent.objects.values_list("pk", flat=True))
    customer.refresh_from_db()
    client.force_login(customer.user)
    data = {key: value for key, value in profile_post_data(customer).items() if not key.endswith("_consent")}

    response = client.post(PROFILE_URL, {**data, **posted})

    assert response.status_code == 302
    new_events = ConsentEvent.objects.exclude(pk__in=existing).order_by("channel")
    assert [(event.channel, event.is_granted, event.source, event.recorded_by_id) for event in new_events] == [
        (channel, granted, "portal", customer.user_id) for channel, granted in expected_events
    ]
    customer.refresh_from_db()
    assert customer.email_consent is ("email_consent" in posted)
    assert customer.sms_consent is ("sms_consent" in posted)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("birth_date", "tomorrow", "future_date"),
        ("birth_date", "1899-12-31", "date_too_old"),
        ("birth_date", "17.05.1990", "invalid"),
        ("language", "de", "invalid_choice"),
        ("language", "", "required"),
        ("preferred_reward_kind", "cash", "invalid_choice"),
        ("first_name", "x" * 101, "max_length"),
    ],
)
def test_profile_post_with_bad_input_shows_the_error_and_changes_nothing(client, field, value, code):
    customer = make_customer(
        email="aino@example.fi", first_name="Aino", birth_date=datetime.date(1990, 5, 17), language="fi"
    )
    client.force_login(customer.user)
    if value == "tomorrow":
        value = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    before = customer_state(customer)

    response = client.post(
        PROFILE_URL, profile_post_data(customer, **{"last_name": "Changed", "email_consent": "on", field: value})
    )

    assert response.status_code == 200
    assert "portal/profile.html" in [template.name for template in response.templates]
    assert error_codes(response.context["form"], field) == [code]
    assert 'class="error" role="alert"' in response.content.decode()
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert customer_state(customer) == before
    assert ConsentEvent.objects.count() == 0


@pytest.mark.django_db
def test_birth_date_of_today_is_accepted(client):
    customer = make_customer(email="aino@example.fi")
    client.force_login(customer.user)

    response = client.post(PROFILE_URL, profile_post_data(customer, birth_date=timezone.localdate().isoformat()))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.birth_date == timezone.localdate()


# --- Isolation -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_show_only_the_signed_in_customers_data(client):
    mine = make_customer(email="aino@example.fi", first_name="Aino", last_name="Virtanen")
    other = make_customer(email="bertta@example.fi", first_name="Bertta", last_name="Bergström")
    other_before = customer_state(other)
    client.force_login(mine.user)

    pages = {url: client.get(url) for url in (HOME_URL, PROFILE_URL, PASSWORD_URL)}

    for url, response in pages.items():
        assert response.status_code == 200, url
        assert response.context["customer"] == mine
        html = response.content.decode()
        for value in ("bertta@example.fi", "Bertta", "Bergström"):
            assert value not in html, (url, value)
    assert "Aino" in pages[HOME_URL].content.decode()
    assert "aino@example.fi" in pages[PROFILE_URL].content.decode()
    assert 'value="Virtanen"' in pages[PROFILE_URL].content.decode()

    client.post(PROFILE_URL, profile_post_data(mine, first_name="Changed", sms_consent="on"))

    assert Customer.objects.get(pk=mine.pk).first_name == "Changed"
    assert customer_state(other) == other_before
    assert list(ConsentEvent.objects.values_list("customer_id", flat=True)) == [mine.pk]


# --- Anonymous users and logout -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url", [HOME_URL, PROFILE_URL, PASSWORD_URL])
def test_anonymous_user_is_sent_to_the_login_page(client, url, method):
    customer = make_customer(email="aino@example.fi", first_name="Aino")
    before = customer_state(customer)

    response = getattr(client, method)(url, {"first_name": "Changed", "language": "ru"} if method == "post" else None)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next={url}"
    assert customer_state(customer) == before


@pytest.mark.django_db
def test_site_root_redirects_to_the_portal(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == HOME_URL


@pytest.mark.django_db
def test_logout_by_get_is_refused_and_keeps_the_session(client):
    customer = make_customer(email="aino@example.fi")
    client.force_login(customer.user)

    response = client.get(LOGOUT_URL)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert logged_in_user_id(client) == str(customer.user_id)
    assert client.get(HOME_URL).status_code == 200


@pytest.mark.django_db
def test_logout_by_post_signs_out(client):
    customer = make_customer(email="aino@example.fi")
    client.force_login(customer.user)

    response = client.post(LOGOUT_URL)

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert logged_in_user_id(client) is None
    assert client.get(HOME_URL)["Location"] == f"{LOGIN_URL}?next={HOME_URL}"


# --- CSRF ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_post_without_csrf_token_is_refused():
    customer = make_customer(email="aino@example.fi")
    client = Client(enforce_csrf_checks=True)
    credentials = {"username": "aino@example.fi", "password": PASSWORD}

    refused = client.post(LOGIN_URL, credentials)

    assert refused.status_code == 403
    assert logged_in_user_id(client) is None
    assert User.objects.get(pk=customer.user_id).last_login is None

    client.get(LOGIN_URL)  # sets the CSRF cookie: with its token the same post works
    accepted = client.post(LOGIN_URL, {**credentials, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert accepted.status_code == 302
    assert logged_in_user_id(client) == str(customer.user_id)


@pytest.mark.django_db
def test_profile_post_without_csrf_token_is_refused():
    customer = make_customer(email="aino@example.fi", first_name="Aino")
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer.user)
    before = customer_state(customer)
    data = profile_post_data(customer, first_name="Changed", email_consent="on")

    refused = client.post(PROFILE_URL, data)

    assert refused.status_code == 403
    assert customer_state(customer) == before
    assert ConsentEvent.objects.count() == 0

    client.get(PROFILE_URL)
    accepted = client.post(PROFILE_URL, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert accepted.status_code == 302
    assert Customer.objects.get(pk=customer.pk).first_name == "Changed"


@pytest.mark.django_db
def test_magic_link_post_without_csrf_token_is_refused():
    customer = make_customer(email="aino@example.fi", password=None)
    client = Client(enforce_csrf_checks=True)

    response = client.post(link_url(magic_link_token_make(customer.user)))

    assert response.status_code == 403
    assert logged_in_user_id(client) is None
    assert User.objects.get(pk=customer.user_id).last_login is None


# --- Languages -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [("fi", "fi"), ("ru", "ru"), ("en", "en"), ("fi-FI,fi;q=0.9,en;q=0.8", "fi"), ("de", "en"), ("", "en")],
)
def test_login_page_language_follows_accept_language(client, accept_language, expected):
    response = client.get(LOGIN_URL, HTTP_ACCEPT_LANGUAGE=accept_language)

    assert response.status_code == 200
    assert f'<html lang="{expected}">' in response.content.decode()
    assert response["Content-Language"] == expected


@pytest.mark.django_db
def test_language_cookie_wins_over_accept_language(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"

    response = client.get(LOGIN_URL, HTTP_ACCEPT_LANGUAGE="fi")

    assert '<html lang="ru">' in response.content.decode()
    assert response["Content-Language"] == "ru"


# --- Query counts ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [HOME_URL, PROFILE_URL])
def test_portal_pages_use_a_constant_number_of_queries(client, django_assert_num_queries, url, monkeypatch):
    # The customers app's own share of the page; panels of higher apps pin their queries themselves.
    monkeypatch.setattr("customers.portal.panels._panels", {})
    customer = make_customer(email="aino@example.fi")
    client.force_login(customer.user)

    # session, user, customer; the profile also reads the customer's tags and the interests offered
    queries = 3 if url == HOME_URL else 5
    with django_assert_num_queries(queries):
        response = client.get(url)
    assert response.status_code == 200

    customer_tags_set(customer=customer, names=[f"tag{index}" for index in range(5)])
    for index in range(5):
        customer_consent_set(customer=customer, channel="email", granted=index % 2 == 0, source="api")
    assert (customer.tags.count(), customer.consent_events.count()) == (5, 5)

    with django_assert_num_queries(queries):
        response = client.get(url)
    assert response.status_code == 200


# --- Password --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_customer_signed_in_by_magic_link_can_set_a_password_and_log_in_with_it(client, mailoutbox):
    customer = CustomerFactory(email="aino@example.fi")
    client.post(MAGIC_LINK_URL, {"email": "aino@example.fi"})
    (token,) = LINK_PATTERN.findall(mailoutbox[0].body)
    client.post(link_url(token))
    assert client.get(PASSWORD_URL).status_code == 200

    response = client.post(PASSWORD_URL, {"new_password1": PASSWORD, "new_password2": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == PROFILE_URL
    customer.refresh_from_db()
    assert customer.user.check_password(PASSWORD)
    assert client.get(HOME_URL).status_code == 200  # still signed in after the password change
    client.post(LOGOUT_URL)
    login = client.post(LOGIN_URL, {"username": "aino@example.fi", "password": PASSWORD})
    assert login.status_code == 302
    assert logged_in_user_id(client) == str(customer.user_id)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password1", "password2", "field", "code"),
    [
        (PASSWORD, "another-password-77", "new_password2", "password_mismatch"),
        ("short", "short", "new_password2", "password_too_short"),
        ("12345678901", "12345678901", "new_password2", "password_entirely_numeric"),
    ],
)
def test_bad_new_password_shows_the_error_and_changes_nothing(client, password1, password2, field, code):
    customer = make_customer(email="aino@example.fi", password=None)
    client.force_login(customer.user)

    response = client.post(PASSWORD_URL, {"new_password1": password1, "new_password2": password2})

    assert response.status_code == 200
    assert code in error_codes(response.context["form"], field)
    assert not User.objects.get(pk=customer.user_id).has_usable_password()


@pytest.mark.django_db
def test_a_staff_member_who_is_also_a_customer_has_two_separate_logins(client):
    staff = User.objects.create_user(
        username="aino-staff", email="aino@example.fi", password="staff-password-123", is_staff=True
    )
    customer = CustomerFactory(email="Aino@example.fi")
    customer_portal_login_ensure(customer=customer, password="customer-password-123")

    staff_password_in_portal = client.post(LOGIN_URL, {"username": "aino@example.fi", "password": "staff-password-123"})
    assert staff_password_in_portal.status_code == 200
    assert "_auth_user_id" not in client.session

    portal = client.post(LOGIN_URL, {"username": "aino@example.fi", "password": "customer-password-123"})
    assert portal.status_code == 302
    assert client.session["_auth_user_id"] == str(customer.user_id)
    assert customer.user_id != staff.pk


@pytest.mark.django_db
def test_customers_choose_their_interests_and_staff_tags_stay(client):
    from customers.models import Tag

    customer = make_customer(email="aino@example.fi", first_name="Aino", last_name="Virtanen", language="fi")
    coffee = Tag.objects.create(name="coffee", is_interest=True)
    tea = Tag.objects.create(name="tea", is_interest=True)
    vip = Tag.objects.create(name="vip-event")  # staff only
    customer.tags.set([coffee, vip])
    client.force_login(customer.user)

    page = client.get(PROFILE_URL).content.decode()
    assert re.search(rf'<input type="checkbox" name="interests" value="{coffee.pk}"[^>]* checked', page)
    assert f'value="{vip.pk}"' not in page  # staff tags are not offered

    posted = {"first_name": "Aino", "last_name": "Virtanen", "language": "fi", "interests": [tea.pk]}
    assert client.post(PROFILE_URL, posted).status_code == 302
    assert set(customer.tags.values_list("name", flat=True)) == {"tea", "vip-event"}

    refused = client.post(PROFILE_URL, {**posted, "interests": [vip.pk]})
    assert refused.status_code == 200
    assert "interests" in refused.context["form"].errors
    assert set(customer.tags.values_list("name", flat=True)) == {"tea", "vip-event"}
