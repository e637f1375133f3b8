"""The whole referral, without a browser: a member's link, the friend's sign-up in the portal, the
friend's first purchase through the partner API, both balances credited by the event's task, and
the referrer's thank-you in the outbox (and sent). Then a full refund takes it all back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import current_app
from django.core import mail
from django.utils import timezone

from customers.models import Customer, Message, MessagePurpose
from customers.services import customer_portal_login_ensure
from loyalty.models import PointsAccount
from loyalty.verification import ledger_verify
from referrals import services
from referrals.models import Referral
from tests.loyalty.factories import base_rate
from tests.referrals.factories import member, program_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks run in the test's thread when they are enqueued (the on-commit callbacks still need
    ``django_capture_on_commit_callbacks``)."""
    current_app.conf.task_always_eager = True
    try:
        yield
    finally:
        current_app.conf.task_always_eager = False


def balance(customer: Customer) -> int:
    return PointsAccount.objects.get(customer=customer).balance


def test_link_sign_up_first_purchase_rewards_both_and_thanks_the_referrer(
    client, make_api_client, templates, eager, django_capture_on_commit_callbacks
):
    base_rate()
    program_set(referrer_points=200, friend_points=100)
    aino = member(email="aino@example.fi", first_name="Aino", last_name="Virtanen", language="en")
    customer_portal_login_ensure(customer=aino, password="kahvi-ja-pulla-2026")
    link = services.referral_link(services.referral_code_for(aino).code)
    partner_api = make_api_client(["purchases:write", "customers:read"])

    # The friend opens the link, looks around, and signs up a little later in the same browser.
    opened = client.get(link.removeprefix("http://127.0.0.1:8000"))
    assert opened.status_code == 302
    form = client.get("/portal/join/")
    assert "Aino V. invited you" in form.content.decode()
    joined = client.post(
        "/portal/join/",
        {
            "first_name": "Mikko",
            "last_name": "Virtanen",
            "email": "mikko@example.fi",
            "password": "sauna-ja-kahvi-2026",
            "language": "en",
            "code": form.context["form"]["code"].value(),
        },
    )
    assert joined.status_code == 302
    mikko = Customer.objects.get(email="mikko@example.fi")

    # The first purchase, at the till, through the partner API: the event qualifies the referral.
    with django_capture_on_commit_callbacks(execute=True):
        purchase = partner_api.post(
            "/api/v1/purchases/",
            {
                "external_id": "POS-1001",
                "customer": str(mikko.public_id),
                "amount": "24.50",
                "currency": "EUR",
                "occurred_at": timezone.now().isoformat(),
            },
            format="json",
        )
    assert purchase.status_code == 201

    referral = Referral.objects.get()
    assert (referral.referrer, referral.friend, referral.status) == (aino, mikko, Referral.Status.REWARDED)
    assert balance(aino) == 200
    assert balance(mikko) == 24 + 100  # the purchase's own points, and the welcome reward
    thanks = Message.objects.get(customer=aino, purpose=MessagePurpose.REFERRAL_THANKS)
    assert thanks.status == Message.Status.SENT
    assert "Mikko V. joined" in thanks.body
    assert [sent.to for sent in mail.outbox if sent.subject == "Thank you, Aino!"] == [["aino@example.fi"]]
    assert Message.objects.filter(customer=mikko, purpose=MessagePurpose.REFERRAL_WELCOME).count() == 1
    summary = partner_api.get(f"/api/v1/customers/{aino.public_id}/referrals/").json()
    assert (summary["counts"]["rewarded"], summary["points_earned"]) == (1, 200)

    # The purchase goes back in full a week later: both rewards are taken back.
    with django_capture_on_commit_callbacks(execute=True):
        refund = partner_api.post(
            "/api/v1/purchases/POS-1001/refunds/", {"external_id": "RF-1", "amount": "24.50"}, format="json"
        )
    assert refund.status_code == 201
    referral.refresh_from_db()
    assert (referral.status, referral.reason) == (Referral.Status.REJECTED, Referral.Reason.REFUNDED)
    assert (balance(aino), balance(mikko)) == (0, 0)
    assert ledger_verify() == []
