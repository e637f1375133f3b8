"""The referral pages: the link that remembers the code and opens the sign-up, the sign-up with or
without a code, my referrals page, the home panel; each read scoped to the signed-in member."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from customers.models import Customer, SignupSource, User
from customers.services import customer_portal_login_ensure
from referrals import services
from referrals.fraud import network_address_hash
from referrals.models import Referral, ReferralCode, ReferralLinkOpen
from referrals.portal.views import COOKIE_NAME
from tests.customers.factories import PartnerFactory
from tests.loyalty.factories import base_rate
from tests.referrals.factories import buy, member, program_set, refer

pytestmark = pytest.mark.django_db

JOIN_URL = "/portal/join/"
MINE_URL = "/portal/referrals/"
PASSWORD = "kahvi-ja-pulla-2026"
PUBLIC_ADDRESS = "84.248.10.9"


@pytest.fixture
def aino(db):
    program_set()
    customer = member(email="aino@example.fi", first_name="Aino", last_name="Virtanen", language="en")
    customer_portal_login_ensure(customer=customer, password=PASSWORD)
    customer.refresh_from_db()
    return customer


def join_data(**fields: str) -> dict[str, str]:
    return {
        "first_name": "Mikko",
        "last_name": "Virtanen",
        "email": "mikko@example.fi",
        "password": PASSWORD,
        "language": "fi",
        "code": "",
        **fields,
    }


# --- the link ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/r/{code}/", "/r/{code}", "/r/{lower}/"])
def test_the_link_counts_an_opening_remembers_the_code_and_opens_the_sign_up(client, aino, path):
    code = services.referral_code_for(aino).code

    response = client.get(path.format(code=code, lower=code.lower()))

    assert response.status_code == 302
    assert response["Location"] == f"{JOIN_URL}?code={code}"
    cookie = response.cookies[COOKIE_NAME]
    assert (cookie["max-age"], cookie["httponly"], cookie["samesite"]) == (30 * 24 * 3600, True, "Lax")
    assert code in cookie.value
    assert cookie.value != code
    assert ReferralLinkOpen.objects.get().opens == 1


def test_an_unknown_link_opens_the_sign_up_gently_and_remembers_nothing(client, aino):
    response = client.get("/r/NOPE2345/", follow=True)

    assert response.redirect_chain == [(JOIN_URL, 302)]
    assert COOKIE_NAME not in response.cookies
    assert "not valid any more" in response.content.decode()
    assert ReferralLinkOpen.objects.count() == 0


def test_the_remembered_code_fills_the_sign_up_later_in_the_same_browser(client, aino):
    code = services.referral_code_for(aino).code
    client.get(f"/r/{code}/")

    response = client.get(JOIN_URL)

    assert response.context["form"]["code"].value() == code
    assert "Aino V. invited you" in response.content.decode()


def test_a_forged_cookie_is_ignored(client, aino):
    client.cookies[COOKIE_NAME] = services.referral_code_for(aino).code  # unsigned

    response = client.get(JOIN_URL)

    assert response.context["form"]["code"].value() == ""


# --- signing up ------------------------------------------------------------------------------------


def test_signing_up_with_a_code_makes_the_member_the_login_and_the_referral_and_signs_in(client, aino):
    code = services.referral_code_for(aino).code
    client.get(f"/r/{code}/")

    response = client.post(JOIN_URL, join_data(code=code, email_consent="on"), REMOTE_ADDR=PUBLIC_ADDRESS)

    assert response.status_code == 302
    assert response["Location"] == "/portal/"
    mikko = Customer.objects.get(email="mikko@example.fi")
    assert (mikko.signup_source, mikko.language, mikko.email_consent) == (SignupSource.REFERRAL, "fi", True)
    referral = Referral.objects.get()
    assert (referral.referrer, referral.friend, referral.source, referral.status) == (aino, mikko, "portal", "pending")
    assert referral.address_hash  # the public address, hashed (a loopback one is not counted)
    assert response.cookies[COOKIE_NAME].value == ""  # forgotten once used
    home = client.get("/portal/")
    assert home.status_code == 200
    assert home.context["customer"] == mikko


# --- the client's address ----------------------------------------------------------------------


def joined_address_hash(client, aino, **request_meta: str) -> str:
    client.post(JOIN_URL, join_data(code=services.referral_code_for(aino).code), **request_meta)
    return Referral.objects.get().address_hash


@pytest.mark.parametrize("setting", ["HTTP_X_REAL_IP", "HTTP_X_FORWARDED_FOR"])
def test_behind_a_proxy_the_configured_header_gives_the_clients_address(client, aino, settings, setting):
    settings.CLIENT_IP_HEADER = setting

    address_hash = joined_address_hash(
        client, aino, REMOTE_ADDR="10.0.0.2", **{setting: f" {PUBLIC_ADDRESS}, 10.0.0.3"}
    )

    assert address_hash == network_address_hash(PUBLIC_ADDRESS)


def test_without_the_setting_a_header_the_client_sent_is_ignored(client, aino, settings):
    settings.CLIENT_IP_HEADER = ""

    address_hash = joined_address_hash(
        client, aino, REMOTE_ADDR="84.248.10.20", HTTP_X_REAL_IP=PUBLIC_ADDRESS, HTTP_X_FORWARDED_FOR=PUBLIC_ADDRESS
    )

    assert address_hash == network_address_hash("84.248.10.20")
    assert address_hash != network_address_hash(PUBLIC_ADDRESS)


@pytest.mark.parametrize("header", [None, "", "unknown", "not-an-address, 84.248.10.9", "84.248.10.999"])
def test_a_configured_header_without_a_valid_first_address_gives_the_connections(client, aino, settings, header):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    request_meta = {"REMOTE_ADDR": "84.248.10.20"}
    if header is not None:
        request_meta["HTTP_X_REAL_IP"] = header

    assert joined_address_hash(client, aino, **request_meta) == network_address_hash("84.248.10.20")


def test_through_a_proxy_without_the_setting_sign_ups_are_not_counted_by_address(client, aino, settings):
    """The proxy's own (private) address on every sign-up: nothing is counted against it."""
    settings.CLIENT_IP_HEADER = ""

    assert joined_address_hash(client, aino, REMOTE_ADDR="10.0.0.2") == ""


@pytest.mark.parametrize(("clients", "flags"), [(3, [[], [], []]), (1, [["address_velocity"]] * 3)])
def test_sign_ups_behind_the_proxy_are_counted_per_client(client, settings, clients, flags):
    """Three friends sign up through the proxy on three members' links, the limit two: from three
    clients none is flagged; from one client the burst is held for review whole."""
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    base_rate()
    program_set(velocity_max_per_address=2)
    partner = PartnerFactory()
    for index in range(3):
        referrer = member()
        client.logout()
        client.post(
            JOIN_URL,
            join_data(code=services.referral_code_for(referrer).code, email=f"friend{index}@example.fi"),
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_REAL_IP=f"84.248.30.{index % clients}",
        )
    referrals = list(Referral.objects.order_by("pk"))
    for referral in referrals:
        buy(referral.friend, partner, "25.00", occurred_at=timezone.now() + datetime.timedelta(minutes=1))

    processed = [services.referral_process(referral_id=referral.pk) for referral in referrals]

    assert [referral.flags for referral in processed] == flags


def test_signing_up_without_a_code_makes_a_plain_member(client, aino):
    response = client.post(JOIN_URL, join_data())

    assert response.status_code == 302
    mikko = Customer.objects.get(email="mikko@example.fi")
    assert (mikko.signup_source, mikko.email_consent) == (SignupSource.PORTAL, False)
    assert Referral.objects.count() == 0
    assert User.objects.get(pk=mikko.user_id).check_password(PASSWORD)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "AINO@example.fi"}, "email"),  # has an account: no second one, no referral
        ({"password": "12345678"}, "password"),
        ({"password": "mikkovirtanen"}, "password"),
        ({"code": "NOPE2345"}, "code"),
        ({"email": "not-an-address"}, "email"),
        ({"first_name": ""}, "first_name"),
    ],
)
def test_a_refused_sign_up_is_a_form_error_and_writes_nothing(client, aino, fields, field):
    customers, users = Customer.objects.count(), User.objects.count()
    data = join_data(code=services.referral_code_for(aino).code)
    data.update(fields)

    response = client.post(JOIN_URL, data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert (Customer.objects.count(), User.objects.count(), Referral.objects.count()) == (customers, users, 0)
    assert "_auth_user_id" not in client.session


def test_the_referrers_own_mailbox_is_a_self_referral_and_writes_nothing(client, aino):
    aino_gmail = member(email="aino.virtanen@gmail.com", first_name="Aino", last_name="Virtanen")
    data = join_data(email="ainovirtanen+2@gmail.com", code=services.referral_code_for(aino_gmail).code)

    response = client.post(JOIN_URL, data)

    assert response.status_code == 200
    assert response.context["form"].errors["code"] == ["Members cannot refer themselves."]
    assert not Customer.objects.filter(email="ainovirtanen+2@gmail.com").exists()
    assert Referral.objects.count() == 0


def test_a_signed_in_member_is_sent_home(client, aino):
    client.force_login(aino.user)

    assert client.get(JOIN_URL)["Location"] == "/portal/"


def test_the_login_page_links_to_the_sign_up(client, db):
    assert JOIN_URL in client.get("/portal/login/").content.decode()


# --- my referrals ------------------------------------------------------------------------------------


def test_my_referrals_page_shows_link_code_share_buttons_and_friends_by_first_name_and_initial(client, aino, settings):
    settings.PUBLIC_BASE_URL = "https://kahvila.example"
    base_rate()
    friend = member(first_name="Mikko", last_name="Virtanen", email="mikko@example.fi")
    referral = refer(aino, friend)
    refer(aino, member(first_name="Sofia", last_name="Lindqvist"))
    buy(friend, PartnerFactory(), "30.00")
    services.referral_process(referral_id=referral.pk)
    code = services.referral_code_for(aino).code
    client.force_login(aino.user)

    response = client.get(MINE_URL)

    html = response.content.decode()
    link = f"https://kahvila.example/r/{code}/"
    assert response.status_code == 200
    assert f'value="{link}"' in html
    assert f'value="{code}"' in html
    assert "mailto:?subject=" in html
    assert "https://wa.me/?text=" in html
    assert "https%3A%2F%2Fkahvila.example%2Fr%2F" in html
    assert f"https://t.me/share/url?url=https%3A%2F%2Fkahvila.example%2Fr%2F{code}%2F" in html
    assert "Mikko V." in html
    assert "Sofia L." in html
    assert "Virtanen" not in html.split("My referrals")[-1]  # never a friend's full name
    assert "mikko@example.fi" not in html
    assert "portal/referral-share.js" in html
    assert response.context["summary"].points_earned == 200


def test_my_referrals_page_makes_the_members_code_on_the_first_visit(client, aino, settings):
    settings.PUBLIC_BASE_URL = "https://kahvila.example"
    client.force_login(aino.user)
    assert not ReferralCode.objects.filter(customer=aino).exists()

    first = client.get(MINE_URL)
    again = client.get(MINE_URL)

    code = ReferralCode.objects.get(customer=aino).code
    assert first.context["summary"].code == again.context["summary"].code == code
    assert first.context["summary"].link == f"https://kahvila.example/r/{code}/"
    assert f'value="{code}"' in first.content.decode()
    assert ReferralCode.objects.count() == 1


def test_my_referrals_never_shows_another_members_referrals(client, aino):
    other = member(first_name="Ville")
    refer(other, member(first_name="Helmi", last_name="Laine"))
    client.force_login(aino.user)

    html = client.get(MINE_URL).content.decode()

    assert "Helmi" not in html
    assert "No referrals yet" in html


def test_my_referrals_needs_a_signed_in_member(client, db):
    response = client.get(MINE_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/portal/login/")


@pytest.mark.parametrize("count", [1, 25])
def test_my_referrals_page_uses_a_constant_number_of_queries(client, aino, django_assert_num_queries, count):
    """Session, user, customer; the code, the counts, the page count and the page (programme: 1)."""
    for _ in range(count):
        refer(aino)
    client.force_login(aino.user)
    client.get(MINE_URL)  # makes the code

    with django_assert_num_queries(3 + 5):
        response = client.get(MINE_URL)
    assert len(response.context["rows"]) == min(count, 20)


def test_the_home_panel_shows_the_link_and_what_referrals_earned(client, aino):
    refer(aino)
    client.force_login(aino.user)

    html = client.get("/portal/").content.decode()

    assert "Invite friends" in html
    assert services.referral_link(services.referral_code_for(aino).code) in html
    assert "/portal/referrals/" in html


def test_the_home_panel_is_one_query(aino, django_assert_num_queries):
    from referrals.portal.panels import home_panel_context

    refer(aino)
    with django_assert_num_queries(1):
        panel = home_panel_context(aino)
    assert (panel["total"], panel["rewarded"], panel["points"]) == (1, 0, 0)


def test_the_join_page_in_finnish_has_the_nav_free_sign_up_form(client, aino):
    response = client.get(JOIN_URL, HTTP_ACCEPT_LANGUAGE="fi")

    assert response.status_code == 200
    assert re.search(r'name="email_consent"(?![^>]*checked)', response.content.decode())  # unticked


def test_a_referral_attached_in_the_portal_qualifies_later(aino, client):
    base_rate()
    code = services.referral_code_for(aino).code
    client.post(JOIN_URL, join_data(code=code))
    mikko = Customer.objects.get(email="mikko@example.fi")
    buy(mikko, PartnerFactory(), "25.00", occurred_at=timezone.now() + datetime.timedelta(minutes=1))

    assert services.referral_process(referral_id=Referral.objects.get().pk).status == "rewarded"
