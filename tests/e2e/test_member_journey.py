"""A new member's journey in a real Chromium on a phone-sized screen: a friend's referral link, the
sign-up and the e-mail verification, a purchase arriving through the partner API, points and tier
progress on the home page, a reward redeemed for a voucher with its QR code, the pages in Finnish
and Russian, then the privacy rights: the data downloaded, the account deleted, no way back in."""

from __future__ import annotations

import json
import re
import urllib.request
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.utils import timezone, translation

from customers.default_templates import default_templates_load
from customers.models import Customer, Message, MessageTemplate, Partner
from customers.services import customer_portal_login_ensure, customer_register, partner_key_create
from loyalty.models import PointsAccount, Reward, Voucher
from loyalty.program import program_cache_clear
from loyalty.services import voucher_code_display
from referrals.models import Referral
from referrals.services import referral_code_for
from tests.e2e.conftest import screenshot
from tests.loyalty.factories import RewardFactory, TierFactory, base_rate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FRIEND_EMAIL = "mikko.nieminen@example.fi"
PASSWORD = "kahvi-ja-pulla-2026"


@pytest.fixture
def programme() -> dict[str, object]:
    """A programme as staff would set it up: a base rate, two tiers, a reward, a partner's key, and
    Aino, a member with a referral code."""
    default_templates_load(MessageTemplate)  # an earlier transactional test may have flushed them
    base_rate("1")
    TierFactory(name="Bronze", rank=1, threshold=Decimal(0))
    TierFactory(name="Silver", rank=2, threshold=Decimal(500))
    RewardFactory(name="Free coffee", kind=Reward.Kind.PRODUCT, points_cost=100, value=Decimal("3.50"))
    program_cache_clear()
    partner = Partner.objects.create(name="Kahvila POS")
    _row, key = partner_key_create(partner=partner, scopes=["customers:read", "purchases:write"])
    aino = customer_register(email="aino@example.fi", first_name="Aino", last_name="Virtanen", language="fi").customer
    customer_portal_login_ensure(customer=aino, password=PASSWORD)
    return {"key": key, "aino": aino, "code": referral_code_for(aino).code}


def api_purchase(base: str, key: str, customer: Customer, amount: str) -> dict[str, object]:
    body = json.dumps(
        {
            "external_id": "till-7-0001",
            "customer": str(customer.public_id),
            "amount": amount,
            "currency": "EUR",
            "occurred_at": timezone.now().isoformat(),
            "store": "Kallio",
        }
    ).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/purchases/",
        data=body,
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return json.loads(response.read())


def in_language(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


def test_a_friend_joins_through_a_link_buys_sees_points_redeems_and_reads_it_in_three_languages(
    phone, live_server, programme, eager_tasks
):
    base = live_server.url
    page = phone

    # The link a member shared opens the sign-up with the code filled in.
    page.goto(f"{base}/r/{programme['code']}/")
    assert "/portal/join/" in page.url
    assert page.input_value("#id_code") == programme["code"]
    page.fill("#id_first_name", "Mikko")
    page.fill("#id_last_name", "Nieminen")
    page.fill("#id_email", FRIEND_EMAIL)
    page.fill("#id_password", PASSWORD)
    page.select_option("#id_language", "en")
    page.check("#id_email_consent")
    screenshot(page, "01-join-through-a-referral-link")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/$"))
    assert "Hello, Mikko!" in page.inner_text("h1")
    friend = Customer.objects.get(email=FRIEND_EMAIL)
    assert Referral.objects.get(friend=friend).referrer == programme["aino"]

    # The verification e-mail's link confirms the address; the home page stops asking.
    assert page.locator("form[action$='/portal/verify/resend/']").count() == 1
    verification = Message.objects.get(customer=friend, purpose="email_verify")
    link = re.search(r"https?://\S+/portal/verify/\S+/", verification.body)
    assert link is not None
    page.goto(base + urlparse(link.group(0)).path)
    friend.refresh_from_db()
    assert friend.email_verified_at is not None
    page.goto(f"{base}/portal/")
    assert page.locator("form[action$='/portal/verify/resend/']").count() == 0

    # A purchase arrives through the partner API; the home page shows the points and the progress.
    purchase = api_purchase(base, str(programme["key"]), friend, "250.00")
    assert purchase["points_earned"] == 250
    page.reload()
    panel = page.inner_text("main")
    balance = PointsAccount.objects.get(customer=friend).balance  # 250 earned, plus the welcome reward
    assert balance >= 250
    assert str(balance) in panel
    progress = page.locator("[role=progressbar]")
    assert progress.get_attribute("aria-valuenow") is not None
    screenshot(page, "02-home-with-points-and-tier-progress")
    # The friend's first purchase qualified the referral: both sides were rewarded.
    assert Referral.objects.get(friend=friend).status == "rewarded"
    assert PointsAccount.objects.get(customer=programme["aino"]).balance > 0

    # A reward redeemed for a voucher, shown with its code and QR code.
    page.goto(f"{base}/portal/rewards/")
    page.locator("li.reward", has_text="Free coffee").locator("a.button").click()
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/vouchers/[A-Z0-9-]+/$"))
    voucher = Voucher.objects.get(customer=friend)
    assert page.inner_text("h1") == "Free coffee"
    assert page.locator(".qr svg").count() == 1
    screenshot(page, "03-voucher-with-qr-code")

    # The same pages in Finnish, then in Russian, through the language switcher.
    for language in ("fi", "ru"):
        page.select_option("#language-select", language)
        page.click(".language-switcher button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == language
        page.goto(f"{base}/portal/rewards/")
        assert page.inner_text("h1") == in_language(language, "Rewards")
        page.goto(f"{base}/portal/")
        assert page.inner_text("h1") == in_language(language, "Hello, %(name)s!") % {"name": "Mikko"}
        screenshot(page, f"04-home-{language}")
        page.goto(f"{base}/portal/vouchers/")
        assert voucher_code_display(voucher.code) in page.inner_text("main")

    # Privacy: download my data (a JSON file with the purchase, the ledger and the consents).
    page.select_option("#language-select", "en")
    page.click(".language-switcher button[type=submit]")
    page.goto(f"{base}/portal/privacy/")
    screenshot(page, "05-privacy")
    with page.expect_download() as download_info:
        page.click("main a.button[href$='/portal/privacy/download/']")
    data = json.loads(Path(download_info.value.path()).read_text())
    assert data["profile"]["email"] == FRIEND_EMAIL
    assert [event["granted"] for event in data["consent_history"]] == [True]
    assert "email_verify" in {message["purpose"] for message in data["messages"]}
    assert [purchase["external_id"] for purchase in data["loyalty"]["purchases"]] == ["till-7-0001"]
    assert len(data["loyalty"]["ledger"]) >= 3  # earned, the friend's welcome, the redemption
    assert data["referrals"]["referred_by"] is not None

    # Delete my account: the password confirms it; afterwards the password no longer signs in.
    page.goto(f"{base}/portal/privacy/delete/")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/privacy/goodbye/$"))
    screenshot(page, "06-account-deleted")
    friend.refresh_from_db()
    assert friend.status == Customer.Status.ERASED
    assert friend.email != FRIEND_EMAIL
    assert Voucher.objects.get(pk=voucher.pk).status == Voucher.Status.CANCELLED
    page.goto(f"{base}/portal/login/")
    page.fill("#id_username", FRIEND_EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    assert "/portal/login/" in page.url
    assert page.locator("[role=alert], .errors").count() >= 1
    screenshot(page, "07-sign-in-refused")
