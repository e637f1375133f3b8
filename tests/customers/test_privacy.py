"""Privacy rights: the data export (everything held about one customer, nobody else's, in a constant
number of queries) and erasure (anonymised, marketing stopped, open vouchers cancelled, purchases
and the ledger kept, no way back in, idempotent), in the portal and in the admin."""

from __future__ import annotations

import datetime
import json
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.launch import campaign_batch_give, campaign_launch
from campaigns.models import Campaign, CampaignRecipient, GiftKind
from customers import privacy
from customers.feedback import complaint_open, feedback_submit, purchase_survey_key
from customers.models import (
    Complaint,
    ConsentEvent,
    Customer,
    Feedback,
    Language,
    Message,
    MessagePurpose,
    MessageTemplate,
    Segment,
    SegmentMember,
    StaffNote,
    User,
)
from customers.outbox import message_queue, unsubscribe_url
from customers.portal.tokens import magic_link_token_make
from customers.privacy import ErasureSource, customer_data_export, customer_data_export_json, customer_erase
from customers.services import customer_portal_login_ensure, customer_register, staff_note_add
from loyalty.earning import Line
from loyalty.models import LedgerEntry, PointsAccount, Purchase, Refund, Voucher
from loyalty.program import program_cache_clear
from loyalty.services import account_lock, refund_record, reward_redeem
from loyalty.verification import ledger_verify
from referrals.models import Referral
from referrals.services import referral_attach, referral_code_for
from tests.customers.factories import PartnerFactory
from tests.loyalty.factories import RewardFactory, base_rate, purchase_make

PASSWORD = "kahvi-ja-pulla-2024"
PRIVACY_URL = "/portal/privacy/"
DOWNLOAD_URL = "/portal/privacy/download/"
DELETE_URL = "/portal/privacy/delete/"
GOODBYE_URL = "/portal/privacy/goodbye/"
LOGIN_URL = "/portal/login/"
HOME_URL = "/portal/"


@pytest.fixture(autouse=True)
def _program_cache_cleared() -> Iterator[None]:
    program_cache_clear()
    yield
    program_cache_clear()


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="not-used-here")


@pytest.fixture
def shop(db: None) -> dict[str, Any]:
    """The programme a story needs: one point per euro, a reward of 50 points, a partner, and an
    announcement template in every language and channel."""
    base_rate()
    for language in Language.values:
        for channel in ("email", "sms"):
            MessageTemplate.objects.update_or_create(
                purpose=MessagePurpose.ANNOUNCEMENT,
                language=language,
                channel=channel,
                defaults={"subject": "News for {first_name}", "body": "Dear {first_name}, {details}"},
            )
    return {
        "partner": PartnerFactory(name="Kahvila"),
        "reward": RewardFactory(name="Coffee on us", points_cost=50, value=Decimal("4.00")),
    }


def story(shop: dict[str, Any], staff: User, *, prefix: str, email: str, first_name: str, last_name: str) -> Customer:
    """A customer with a bit of everything, made through the services: consents and tags, a portal
    login, a staff note, a purchase with a line and a partial refund, an open voucher, a pending
    marketing message, a survey answer with a comment, an open complaint and a referral code.
    Every text carries ``prefix`` so that an export can be searched for it."""
    customer = customer_register(
        email=email,
        first_name=first_name,
        last_name=last_name,
        phone=f"+3584012{ord(prefix[0]):05d}",
        birth_date=datetime.date(1990, 5, 17),
        language="en",
        email_consent=True,
        sms_consent=True,
        tags=[f"{prefix}-coffee"],
    ).customer
    customer_portal_login_ensure(customer=customer, password=PASSWORD)
    staff_note_add(customer=customer, author=staff, text=f"{prefix} prefers oat milk")
    purchase = purchase_make(
        customer=customer,
        partner=shop["partner"],
        amount="120.00",
        external_id=f"{prefix}-ORDER-1",
        lines=[Line(sku=f"{prefix}-SKU", category="coffee", quantity=2, unit_price=Decimal("60.00"))],
    )
    refund_record(purchase=purchase, external_id=f"{prefix}-REFUND-1", amount=Decimal("20.00"))
    reward_redeem(customer=customer, reward=shop["reward"], idempotency_key=f"{prefix}-redeem")
    message_queue(
        customer=customer,
        purpose=MessagePurpose.ANNOUNCEMENT,
        idempotency_key=f"{prefix}-news",
        context={"details": f"{prefix} autumn news"},
        is_marketing=True,
    )
    feedback_submit(
        customer=customer,
        source_key=purchase_survey_key(purchase.pk),
        scale="rating",
        score=4,
        comment=f"{prefix} loved the pulla",
    )
    complaint_open(customer=customer, subject=f"{prefix} cold coffee", description=f"{prefix} it was cold")
    referral_code_for(customer)
    customer.refresh_from_db()
    return customer


@pytest.fixture
def aino(shop: dict[str, Any], staff: User) -> Customer:
    return story(shop, staff, prefix="AINO", email="aino@example.fi", first_name="Aino", last_name="Virtanen")


@pytest.fixture
def olga(shop: dict[str, Any], staff: User) -> Customer:
    return story(shop, staff, prefix="OLGA", email="olga@example.ru", first_name="Olga", last_name="Smirnova")


def export_of(customer: Customer) -> dict[str, Any]:
    """The export as the customer's file holds it (through JSON)."""
    return json.loads(customer_data_export_json(customer))


def snapshot(customer: Customer) -> dict[str, Any]:
    """Every row erasure may touch, as values: equal snapshots mean nothing changed."""
    fresh = Customer.objects.get(pk=customer.pk)
    return {
        "customer": Customer.objects.filter(pk=customer.pk).values().get(),
        "tags": list(fresh.tags.values_list("pk", flat=True)),
        "user": User.objects.filter(pk=fresh.user_id).values().first(),
        "consents": list(ConsentEvent.objects.filter(customer=customer).order_by("pk").values()),
        "notes": list(StaffNote.objects.filter(customer=customer).order_by("pk").values()),
        "messages": list(Message.objects.filter(customer=customer).order_by("pk").values()),
        "feedback": list(Feedback.objects.filter(customer=customer).order_by("pk").values()),
        "complaints": list(Complaint.objects.filter(customer=customer).order_by("pk").values()),
        "segments": list(SegmentMember.objects.filter(customer=customer).values()),
        "vouchers": list(Voucher.objects.filter(customer=customer).order_by("pk").values()),
        "purchases": list(Purchase.objects.filter(customer=customer).order_by("pk").values()),
        "entries": list(LedgerEntry.objects.filter(account__customer=customer).order_by("pk").values()),
        "account": PointsAccount.objects.filter(customer=customer).values().first(),
    }


# --- The registry ----------------------------------------------------------------------------------


def test_every_app_registers_its_section_in_order():
    assert [section.key for section in privacy.privacy_sections()] == ["loyalty", "campaigns", "referrals"]
    assert all(section.erase is not None for section in privacy.privacy_sections())


def test_a_section_may_not_take_a_key_of_the_customers_app():
    with pytest.raises(ImproperlyConfigured):
        privacy.register_privacy_section(key="profile", order=1, export=lambda customer: {})


def test_registering_a_key_again_replaces_the_section(monkeypatch):
    monkeypatch.setattr(privacy, "_sections", {})

    def first(customer: Customer) -> dict[str, Any]:
        return {"n": 1}

    def second(customer: Customer) -> dict[str, Any]:
        return {"n": 2}

    privacy.register_privacy_section(key="extra", order=5, export=first)
    privacy.register_privacy_section(key="extra", order=5, export=second)

    assert [(section.key, section.export) for section in privacy.privacy_sections()] == [("extra", second)]


# --- Export ----------------------------------------------------------------------------------------


def test_export_holds_everything_about_the_customer(aino):
    data = export_of(aino)

    assert list(data) == [
        "export",
        "profile",
        "consent_history",
        "segments",
        "staff_notes",
        "messages",
        "feedback",
        "complaints",
        "loyalty",
        "campaigns",
        "referrals",
    ]
    assert data["export"]["customer"] == str(aino.public_id)
    profile = data["profile"]
    assert (profile["email"], profile["first_name"], profile["last_name"]) == ("aino@example.fi", "Aino", "Virtanen")
    assert (profile["birth_date"], profile["phone"], profile["tags"]) == ("1990-05-17", aino.phone, ["AINO-coffee"])
    assert (profile["email_consent"], profile["sms_consent"], profile["status"]) == (True, True, "active")
    assert [(event["channel"], event["granted"], event["source"]) for event in data["consent_history"]] == [
        ("email", True, "api"),
        ("sms", True, "api"),
    ]
    assert [note["text"] for note in data["staff_notes"]] == ["AINO prefers oat milk"]
    assert [(message["purpose"], message["status"], message["to"]) for message in data["messages"]] == [
        ("announcement", "pending", "aino@example.fi")
    ]
    assert data["messages"][0]["body"] == "Dear Aino, AINO autumn news"
    assert [(answer["score"], answer["comment"]) for answer in data["feedback"]] == [(4, "AINO loved the pulla")]
    assert [(complaint["subject"], complaint["status"]) for complaint in data["complaints"]] == [
        ("AINO cold coffee", "open")
    ]
    loyalty = data["loyalty"]
    assert loyalty["account"]["balance"] == 50
    (purchase,) = loyalty["purchases"]
    assert (purchase["external_id"], purchase["amount"], purchase["refunded_amount"]) == (
        "AINO-ORDER-1",
        "120.00",
        "20.00",
    )
    assert purchase["lines"] == [{"sku": "AINO-SKU", "category": "coffee", "quantity": 2, "unit_price": "60.00"}]
    assert [refund["external_id"] for refund in purchase["refunds"]] == ["AINO-REFUND-1"]
    assert [(entry["kind"], entry["points"]) for entry in loyalty["ledger"]] == [
        ("earn", 120),
        ("refund", -20),
        ("redeem", -50),
    ]
    assert [(voucher["reward"], voucher["status"]) for voucher in loyalty["vouchers"]] == [("Coffee on us", "issued")]
    assert data["referrals"]["code"]["code"] == referral_code_for(aino).code


def test_export_holds_nothing_of_another_customer(aino, olga):
    text = customer_data_export_json(aino)

    for olgas in (
        "olga@example.ru",
        "Smirnova",
        olga.phone,
        str(olga.public_id),
        "OLGA",
        referral_code_for(olga).code,
        *Voucher.objects.filter(customer=olga).values_list("code", flat=True),
    ):
        assert olgas not in text
    assert "AINO-ORDER-1" in text


def test_export_reads_a_constant_number_of_queries(aino, shop, staff, django_assert_num_queries):
    with CaptureQueriesContext(connection) as few:
        customer_data_export(aino)
    for number in range(2, 5):
        purchase_make(customer=aino, partner=shop["partner"], amount="30.00", external_id=f"AINO-ORDER-{number}")
        staff_note_add(customer=aino, author=staff, text=f"note {number}")
        complaint_open(customer=aino, subject=f"again {number}", description="still cold")
    segment = Segment.objects.create(name="Regulars", kind=Segment.Kind.STATIC)
    SegmentMember.objects.create(segment=segment, customer=aino)

    # customers 8 (customer and partner, tags, consents, segments, notes, messages, feedback,
    # complaints) + loyalty 9 + campaigns 6 + referrals 4
    with django_assert_num_queries(27):
        data = customer_data_export(aino)

    assert len(few.captured_queries) == 27
    assert len(data["loyalty"]["purchases"]) == 4
    assert len(data["staff_notes"]) == 4
    assert data["segments"][0]["segment"] == "Regulars"


# --- Erasure ---------------------------------------------------------------------------------------


def test_erasure_anonymises_the_customer(aino, staff):
    old_phone = aino.phone

    customer_erase(customer=aino, by=staff, source=ErasureSource.ADMIN)

    aino.refresh_from_db()
    assert aino.email == f"erased-{aino.public_id}@invalid"
    assert (aino.first_name, aino.last_name, aino.phone, aino.birth_date, aino.time_zone) == ("", "", "", None, "")
    assert aino.status == Customer.Status.ERASED
    assert list(aino.tags.all()) == []
    assert (aino.email_consent, aino.sms_consent) == (False, False)
    withdrawals = ConsentEvent.objects.filter(customer=aino, source="erasure")
    assert sorted(withdrawals.values_list("channel", "is_granted", "recorded_by")) == [
        ("email", False, staff.pk),
        ("sms", False, staff.pk),
    ]
    assert list(StaffNote.objects.filter(customer=aino).values_list("text", "author")) == [
        ("Personal data erased by staff (admin).", staff.pk)
    ]
    assert list(Message.objects.filter(customer=aino).values_list("to_address", "subject", "body")) == [("", "", "")]
    assert list(Feedback.objects.filter(customer=aino).values_list("score", "comment")) == [(4, "")]
    complaint = Complaint.objects.get(customer=aino)
    assert (complaint.subject, complaint.description, complaint.status) == ("[erased]", "", "rejected")
    assert complaint.resolved_at is not None
    user = User.objects.get(pk=aino.user_id)
    assert (user.is_active, user.has_usable_password(), user.email) == (False, False, "")
    text = customer_data_export_json(aino)
    for personal in (
        "aino@example.fi",
        "Aino",
        "Virtanen",
        old_phone,
        "1990-05-17",
        "AINO-coffee",
        "AINO prefers",
        "AINO autumn news",
        "AINO loved",
        "AINO cold coffee",
        "AINO it was cold",
    ):
        assert personal not in text
    assert "AINO-ORDER-1" in text  # the purchase stays for the books


def test_erasure_cancels_open_vouchers_and_keeps_purchases_and_ledger(aino, staff):
    purchases = list(Purchase.objects.filter(customer=aino).values_list("external_id", "amount", "refunded_amount"))
    entries = list(LedgerEntry.objects.filter(account__customer=aino).order_by("pk").values_list("pk", "amount"))

    customer_erase(customer=aino, by=staff, source=ErasureSource.ADMIN)

    assert list(Voucher.objects.filter(customer=aino).values_list("status", flat=True)) == ["cancelled"]
    assert list(Purchase.objects.filter(customer=aino).values_list("external_id", "amount", "refunded_amount")) == (
        purchases
    )
    assert Refund.objects.filter(purchase__customer=aino).count() == 1
    after = list(LedgerEntry.objects.filter(account__customer=aino).order_by("pk").values_list("pk", "amount"))
    assert after[: len(entries)] == entries  # nothing changed or removed: the cancel is a new entry
    assert [amount for _pk, amount in after[len(entries) :]] == [50]
    assert PointsAccount.objects.get(customer=aino).balance == 100
    out = StringIO()
    call_command("verify_ledger", stdout=out)  # raises CommandError (exit 1) on any mismatch
    assert "The ledger adds up" in out.getvalue()
    assert ledger_verify() == []


def test_erasure_stops_marketing_now_and_later(aino, shop):
    (pending,) = Message.objects.filter(customer=aino)
    assert pending.status == Message.Status.PENDING

    customer_erase(customer=aino, source=ErasureSource.PORTAL)

    pending.refresh_from_db()
    assert (pending.status, pending.suppressed_reason) == (Message.Status.SUPPRESSED, "customer_erased")
    later = message_queue(
        customer=aino,
        purpose=MessagePurpose.ANNOUNCEMENT,
        idempotency_key="later-news",
        context={"details": "more news"},
        is_marketing=True,
    )
    assert (later.status, later.suppressed_reason, later.to_address, later.body) == (
        Message.Status.SUPPRESSED,
        "customer_not_active",
        f"erased-{aino.public_id}@invalid",
        "",
    )
    campaign = Campaign.objects.create(
        name="Autumn news", kind=Campaign.Kind.ANNOUNCEMENT, gift_kind=GiftKind.NONE, holdout_percent=Decimal(0)
    )
    batches = campaign_launch(campaign_id=campaign.pk)
    for batch in batches:
        campaign_batch_give(campaign_id=campaign.pk, recipient_ids=batch)
    assert not CampaignRecipient.objects.filter(customer=aino).exists()


def test_erasure_leaves_other_customers_as_they_were(aino, olga, staff):
    before = snapshot(olga)

    customer_erase(customer=aino, by=staff, source=ErasureSource.ADMIN)

    assert snapshot(olga) == before


def test_erasing_twice_changes_nothing_more(aino, staff):
    customer_erase(customer=aino, by=staff, source=ErasureSource.ADMIN)
    first = snapshot(aino)

    again = customer_erase(customer=aino, by=staff, source=ErasureSource.ADMIN)

    assert again.status == Customer.Status.ERASED
    assert snapshot(aino) == first


def test_erasing_again_cleans_what_was_written_after_the_first(aino):
    customer_erase(customer=aino, source=ErasureSource.PORTAL)
    Feedback.objects.filter(customer=aino).update(comment="written by an old import")

    customer_erase(customer=aino, source=ErasureSource.PORTAL)

    assert list(Feedback.objects.filter(customer=aino).values_list("comment", flat=True)) == [""]
    assert StaffNote.objects.filter(customer=aino).count() == 1


def test_erasure_leaves_the_segments_and_lowers_their_count(aino):
    segment = Segment.objects.create(name="Regulars", kind=Segment.Kind.STATIC, member_count=1)
    SegmentMember.objects.create(segment=segment, customer=aino)

    customer_erase(customer=aino, source=ErasureSource.PORTAL)

    segment.refresh_from_db()
    assert (segment.member_count, segment.members.count()) == (0, 0)


def test_an_unknown_erasure_source_is_refused_and_writes_nothing(aino):
    before = snapshot(aino)

    with pytest.raises(ValueError, match="unknown erasure source"):
        customer_erase(customer=aino, source="rumour")

    assert snapshot(aino) == before


# --- No way back in --------------------------------------------------------------------------------


def test_an_erased_customer_cannot_sign_in_with_the_password(client, aino):
    customer_erase(customer=aino, source=ErasureSource.PORTAL)

    for email in ("aino@example.fi", f"erased-{aino.public_id}@invalid"):
        response = client.post(LOGIN_URL, {"username": email, "password": PASSWORD})
        assert response.status_code == 200
        assert "_auth_user_id" not in client.session


def test_an_erased_customer_cannot_use_a_magic_link(client, aino, mailoutbox):
    user = User.objects.get(pk=aino.user_id)
    token = magic_link_token_make(user)

    customer_erase(customer=aino, source=ErasureSource.PORTAL)

    assert client.get(f"/portal/login/link/{token}/").status_code == 400
    assert client.post(f"/portal/login/link/{token}/").status_code == 400
    client.post("/portal/login/link/", {"email": "aino@example.fi"})
    assert mailoutbox == []
    assert "_auth_user_id" not in client.session


def test_a_session_open_before_the_erasure_ends(client, aino):
    client.force_login(User.objects.get(pk=aino.user_id))
    assert client.get(HOME_URL).status_code == 200

    customer_erase(customer=aino, source=ErasureSource.ADMIN)

    response = client.get(HOME_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_an_unsubscribe_link_still_answers_without_login_after_erasure(client, aino, settings):
    link = unsubscribe_url(aino).removeprefix(settings.PUBLIC_BASE_URL.rstrip("/"))

    customer_erase(customer=aino, source=ErasureSource.PORTAL)

    page = client.get(link)
    assert page.status_code == 200
    assert "Aino" not in page.content.decode()
    assert client.post(link).status_code == 200
    aino.refresh_from_db()
    assert (aino.email_consent, ConsentEvent.objects.filter(customer=aino, source="unsubscribe").count()) == (False, 0)


# --- Portal ----------------------------------------------------------------------------------------


@pytest.fixture
def signed_in(client, aino) -> Client:
    client.force_login(User.objects.get(pk=aino.user_id))
    return client


@pytest.mark.parametrize("url", [PRIVACY_URL, DOWNLOAD_URL, DELETE_URL])
def test_privacy_pages_need_a_signed_in_customer(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_privacy_page_explains_both_rights_in_three_queries(signed_in, django_assert_num_queries):
    # session, user, customer
    with django_assert_num_queries(3):
        response = signed_in.get(PRIVACY_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert DOWNLOAD_URL in html
    assert DELETE_URL in html


def test_download_is_the_customers_own_data_as_a_dated_json_file(signed_in, aino, olga, django_assert_num_queries):
    # session, user, customer, then the export's 27
    with django_assert_num_queries(30):
        response = signed_in.get(DOWNLOAD_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="vastavuoro-data-{timezone.localdate()}.json"'
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["profile"]["email"] == "aino@example.fi"
    assert "olga@example.ru" not in response.content.decode()


def test_download_only_answers_get(signed_in):
    assert signed_in.post(DOWNLOAD_URL).status_code == 405


def test_delete_page_asks_for_the_password_and_erases_nothing(signed_in, aino):
    before = snapshot(aino)

    response = signed_in.get(DELETE_URL)

    assert response.status_code == 200
    assert list(response.context["form"].fields) == ["password"]
    assert snapshot(aino) == before


def test_delete_with_a_wrong_password_is_refused_and_changes_nothing(signed_in, aino):
    before = snapshot(aino)

    response = signed_in.post(DELETE_URL, {"password": "not-my-password"})

    assert response.status_code == 200
    assert [error.code for error in response.context["form"].errors.as_data()["password"]] == ["password_incorrect"]
    assert snapshot(aino) == before
    assert signed_in.get(HOME_URL).status_code == 200


def test_delete_with_the_password_erases_signs_out_and_says_goodbye(signed_in, aino):
    response = signed_in.post(DELETE_URL, {"password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == GOODBYE_URL
    aino.refresh_from_db()
    assert aino.status == Customer.Status.ERASED
    assert list(StaffNote.objects.filter(customer=aino).values_list("text", "author")) == [
        ("Personal data erased at the customer's request (portal).", None)
    ]
    assert "_auth_user_id" not in signed_in.session
    goodbye = signed_in.get(GOODBYE_URL)
    assert goodbye.status_code == 200
    assert "Your account is deleted" in goodbye.content.decode()


@pytest.mark.parametrize(("typed", "erased"), [("AINO@example.FI", True), ("olga@example.ru", False), ("", False)])
def test_a_login_without_password_confirms_by_typing_the_email(client, aino, typed, erased):
    user = User.objects.get(pk=aino.user_id)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    client.force_login(user)
    assert list(client.get(DELETE_URL).context["form"].fields) == ["email"]

    response = client.post(DELETE_URL, {"email": typed})

    aino.refresh_from_db()
    assert (aino.status == Customer.Status.ERASED) is erased
    assert response.status_code == (302 if erased else 200)


def test_delete_without_the_csrf_token_is_refused_and_changes_nothing(aino):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.get(pk=aino.user_id))
    before = snapshot(aino)

    response = client.post(DELETE_URL, {"password": PASSWORD})

    assert response.status_code == 403
    assert snapshot(aino) == before


# --- Admin -----------------------------------------------------------------------------------------


def admin_urls(customer: Customer) -> dict[str, str]:
    return {
        "change": reverse("admin:customers_customer_change", args=[customer.pk]),
        "export": reverse("admin:customers_customer_privacy_export", args=[customer.pk]),
        "erase": reverse("admin:customers_customer_privacy_erase", args=[customer.pk]),
    }


def staff_with(*codenames: str) -> User:
    user = User.objects.create_user(username=f"staff-{uuid.uuid4().hex[:8]}", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="customers", codename__in=codenames))
    return user


def test_admin_change_page_offers_export_and_erase(client, staff, aino):
    client.force_login(staff)
    urls = admin_urls(aino)

    response = client.get(urls["change"])

    html = response.content.decode()
    assert urls["export"] in html
    assert urls["erase"] in html
    assert "erased" not in dict(response.context["adminform"].form.fields["status"].choices)


def test_admin_export_downloads_the_customers_data_and_logs_it(client, staff, aino, olga):
    client.force_login(staff)

    response = client.get(admin_urls(aino)["export"])

    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="vastavuoro-data-{aino.public_id}-{timezone.localdate()}.json"'
    )
    assert json.loads(response.content)["profile"]["email"] == "aino@example.fi"
    assert "olga@example.ru" not in response.content.decode()
    assert list(LogEntry.objects.filter(object_id=str(aino.pk)).values_list("user", "change_message")) == [
        (staff.pk, "Personal data exported (JSON).")
    ]


def test_admin_erase_asks_then_erases_and_records_who(client, aino):
    eraser = staff_with("view_customer", "delete_customer")
    client.force_login(eraser)
    urls = admin_urls(aino)

    confirm = client.get(urls["erase"])
    assert confirm.status_code == 200
    assert Customer.objects.get(pk=aino.pk).status == Customer.Status.ACTIVE

    response = client.post(urls["erase"])

    assert response.status_code == 302
    assert response["Location"] == urls["change"]
    aino.refresh_from_db()
    assert aino.status == Customer.Status.ERASED
    assert list(StaffNote.objects.filter(customer=aino).values_list("author", flat=True)) == [eraser.pk]
    assert LogEntry.objects.filter(object_id=str(aino.pk), user=eraser, change_message="Personal data erased.").exists()
    page = client.get(urls["change"])
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False  # an erased customer's page is read-only


@pytest.mark.parametrize(
    ("codenames", "export_status", "erase_status"),
    [
        ((), 403, 403),
        (("view_customer",), 200, 403),
        (("view_customer", "change_customer"), 200, 403),
    ],
)
def test_admin_privacy_actions_need_their_permission(client, aino, codenames, export_status, erase_status):
    client.force_login(staff_with(*codenames))
    urls = admin_urls(aino)
    before = snapshot(aino)

    assert client.get(urls["export"]).status_code == export_status
    assert client.get(urls["erase"]).status_code == erase_status
    assert client.post(urls["erase"]).status_code == erase_status
    assert snapshot(aino) == before


def test_admin_erase_without_the_csrf_token_is_refused(staff, aino):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    before = snapshot(aino)

    response = client.post(admin_urls(aino)["erase"])

    assert response.status_code == 403
    assert snapshot(aino) == before


def test_admin_cannot_save_an_erased_customer(client, staff, aino):
    customer_erase(customer=aino, by=staff, source=ErasureSource.ADMIN)
    client.force_login(staff)
    before = snapshot(aino)

    response = client.post(admin_urls(aino)["change"], {"first_name": "Back", "status": "active"})

    assert response.status_code == 403
    assert snapshot(aino) == before


# --- The management command ------------------------------------------------------------------------


def test_export_command_prints_the_customers_json(aino):
    out = StringIO()

    call_command("export_customer_data", str(aino.public_id), stdout=out)

    assert json.loads(out.getvalue())["profile"]["email"] == "aino@example.fi"


@pytest.mark.parametrize("public_id", ["not-a-uuid", str(uuid.UUID(int=7))])
def test_export_command_refuses_an_unknown_customer(db, public_id):
    with pytest.raises(CommandError):
        call_command("export_customer_data", public_id, stdout=StringIO())


# --- Demo data -------------------------------------------------------------------------------------


def test_demo_customer_export_holds_their_story_and_the_ledger_verifies_after_erasure(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", "--customers", "25", stdout=StringIO())
    customer = (
        Customer.objects.filter(purchases__isnull=False, messages__isnull=False, consent_events__isnull=False)
        .distinct()
        .order_by("pk")
        .first()
    )
    assert customer is not None

    data = export_of(customer)

    assert len(data["loyalty"]["purchases"]) == Purchase.objects.filter(customer=customer).count() > 0
    assert len(data["loyalty"]["ledger"]) == LedgerEntry.objects.filter(account__customer=customer).count() > 0
    assert len(data["consent_history"]) == ConsentEvent.objects.filter(customer=customer).count() > 0
    assert len(data["messages"]) == Message.objects.filter(customer=customer).count() > 0

    customer_erase(customer=customer, source=ErasureSource.COMMAND)

    call_command("verify_ledger", stdout=StringIO())
    assert ledger_verify() == []


# --- Concurrency -----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_erasures_at_once_erase_once(shop):
    staff = User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="x")
    aino = story(shop, staff, prefix="AINO", email="aino@example.fi", first_name="Aino", last_name="Virtanen")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def erase() -> None:
        try:
            barrier.wait(timeout=10)
            customer_erase(customer=Customer.objects.get(pk=aino.pk), by=staff, source=ErasureSource.ADMIN)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=erase) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert Customer.objects.get(pk=aino.pk).status == Customer.Status.ERASED
    assert StaffNote.objects.filter(customer=aino).count() == 1
    assert ConsentEvent.objects.filter(customer=aino, source="erasure").count() == 2
    assert LedgerEntry.objects.filter(account__customer=aino, idempotency_key__endswith=":cancel").count() == 1
    assert ledger_verify() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_erasure_waits_for_a_referral_reward_in_progress_instead_of_deadlocking(shop):
    """A referral reward locks the referral, then the points account. Erasure takes them in the
    same order (the higher apps' erasers first), so while the reward holds the referral, erasure
    waits for it without holding the account the reward needs next: no deadlock."""
    staff = User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="x")
    aino = story(shop, staff, prefix="AINO", email="aino@example.fi", first_name="Aino", last_name="Virtanen")
    friend = customer_register(email="mikko@example.fi", first_name="Mikko").customer
    referral = referral_attach(code=referral_code_for(aino).code, friend=friend, source="portal").referral
    referral_held = threading.Event()
    eraser_pid: list[int] = []
    errors: list[BaseException] = []

    def reward_side() -> None:
        try:
            with transaction.atomic():
                Referral.objects.select_for_update().get(pk=referral.pk)
                referral_held.set()
                deadline = time.monotonic() + 10
                while not _waiting_for_a_lock(eraser_pid):
                    assert time.monotonic() < deadline, "the erasure never reached the referral"
                    time.sleep(0.01)  # polling a condition with a deadline, not waiting for time
                account_lock(aino.pk)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    def erase_side() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                eraser_pid.append(cursor.fetchone()[0])
            assert referral_held.wait(timeout=10)
            customer_erase(customer=Customer.objects.get(pk=aino.pk), source=ErasureSource.PORTAL)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=erase_side), threading.Thread(target=reward_side)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert Customer.objects.get(pk=aino.pk).status == Customer.Status.ERASED
    assert Referral.objects.get(pk=referral.pk).status == Referral.Status.REJECTED
    assert ledger_verify() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_erasure_waits_for_a_feedback_reward_in_progress_instead_of_deadlocking(shop):
    """A feedback reward locks the points account, then the answer, then the customer (its
    thank-you). Erasure holds the account before the customer row even without a voucher to
    cancel, so it waits for the reward instead of holding the customer the reward needs."""
    aino = customer_register(email="aino@example.fi", first_name="Aino").customer
    purchase = purchase_make(customer=aino, partner=shop["partner"], amount="20.00")
    answer = feedback_submit(
        customer=aino, source_key=purchase_survey_key(purchase.pk), scale="rating", score=5, comment="Lovely"
    )
    account_held = threading.Event()
    eraser_pid: list[int] = []
    errors: list[BaseException] = []

    def reward_side() -> None:
        try:
            with transaction.atomic():
                account_lock(aino.pk)
                Feedback.objects.filter(pk=answer.pk).update(reward_points=0)  # the answer's row lock
                account_held.set()
                deadline = time.monotonic() + 10
                while not _waiting_for_a_lock(eraser_pid):
                    assert time.monotonic() < deadline, "the erasure never waited"
                    time.sleep(0.01)  # polling a condition with a deadline, not waiting for time
                Customer.objects.select_for_update().get(pk=aino.pk)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    def erase_side() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                eraser_pid.append(cursor.fetchone()[0])
            assert account_held.wait(timeout=10)
            customer_erase(customer=Customer.objects.get(pk=aino.pk), source=ErasureSource.PORTAL)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=erase_side), threading.Thread(target=reward_side)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert Customer.objects.get(pk=aino.pk).status == Customer.Status.ERASED
    assert Feedback.objects.get(pk=answer.pk).comment == ""


def _waiting_for_a_lock(pids: list[int]) -> bool:
    if not pids:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pids[0]])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"
