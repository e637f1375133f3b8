"""The referral services: codes and links, attaching a friend, qualifying and rewarding once,
the fraud checks (each caught in a real-looking case, passed in a legitimate one), the monthly cap,
staff review, taking rewards back after a refund, and the sweep."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db.models import Sum

from customers.models import Customer, Message, MessagePurpose, User
from customers.services import customer_update
from loyalty import services as loyalty_services
from loyalty.models import LedgerEntry, PointsAccount, Voucher
from loyalty.verification import ledger_verify
from referrals import services, signals
from referrals.errors import (
    AlreadyReferred,
    NotANewCustomer,
    ReasonRequired,
    ReferralNotReviewable,
    ReferralsClosed,
    SelfReferral,
    UnknownReferralCode,
)
from referrals.fraud import address_counted, email_canonical, network_address_hash
from referrals.models import Referral, ReferralCode, ReferralLinkOpen, ReferralTierReward
from referrals.services import codes
from tests.customers.factories import PartnerFactory
from tests.loyalty.factories import RewardFactory, TierFactory, base_rate
from tests.referrals.factories import buy, member, program_set, refer

pytestmark = pytest.mark.django_db

Status = Referral.Status
# A public address: private, loopback and documentation ranges (192.0.2.0/24, ...) are not counted.
PUBLIC_ADDRESS = "84.248.10.9"


@pytest.fixture
def partner():
    return PartnerFactory(name="Kahvila POS")


@pytest.fixture
def programme(db):
    base_rate()
    return program_set()


@pytest.fixture
def aino(db):
    return member(email="aino.virtanen@gmail.com", first_name="Aino", last_name="Virtanen", phone="+358401111111")


@pytest.fixture
def mikko(db):
    return member(email="mikko@example.fi", first_name="Mikko", last_name="Virtanen", phone="+358402222222")


def balance(customer: Customer) -> int:
    return PointsAccount.objects.filter(customer=customer).values_list("balance", flat=True).first() or 0


def referral_points(customer: Customer) -> list[int]:
    return list(
        LedgerEntry.objects.filter(account__customer=customer, kind=LedgerEntry.Kind.REFERRAL)
        .order_by("pk")
        .values_list("amount", flat=True)
    )


# --- codes and links --------------------------------------------------------------------------


def test_a_code_is_made_once_short_and_unambiguous(aino):
    first = services.referral_code_for(aino)
    again = services.referral_code_for(aino)

    assert first.pk == again.pk
    assert len(first.code) == 8
    assert set(first.code) <= set(codes.CODE_ALPHABET)
    assert not set(first.code) & set("01ILO")


def test_referral_codes_share_the_voucher_codes_alphabet_and_normalising():
    assert codes.CODE_ALPHABET == loyalty_services.CODE_ALPHABET
    assert len(loyalty_services.code_generate(5)) == 5
    assert set(loyalty_services.code_generate(200)) <= set(loyalty_services.CODE_ALPHABET)
    assert services.referral_code_normalise(" ab3k-7mqz ") == "AB3K7MQZ"
    assert services.referral_code_normalise("AB3K\u00b77MQ\u00c9Z") == "AB3K7MQZ"  # non-ASCII dropped
    assert services.referral_code_normalise("A" * 40) == "A" * 16
    assert loyalty_services.voucher_code_normalise("abcd-efgh-jkmn") == "ABCDEFGHJKMN"


def test_a_colliding_code_is_drawn_again(aino, mikko, monkeypatch):
    taken = services.referral_code_for(aino).code
    draws = iter([taken, taken, "MKKV2345"])
    monkeypatch.setattr(codes, "referral_code_generate", lambda: next(draws))

    assert services.referral_code_for(mikko).code == "MKKV2345"
    assert ReferralCode.objects.count() == 2


def test_codes_are_found_in_any_case_with_dashes_and_only_for_active_members(aino):
    code = services.referral_code_for(aino).code

    assert services.referral_code_find(f" {code[:4].lower()}-{code[4:]} ").customer == aino
    assert services.referral_code_find("") is None
    Customer.objects.filter(pk=aino.pk).update(status=Customer.Status.BLOCKED)
    assert services.referral_code_find(code) is None


def test_link_opens_are_counted_per_code_and_day_without_personal_data(aino):
    code = services.referral_code_for(aino).code
    day = datetime.date(2026, 3, 1)

    services.referral_link_open(code=code, day=day)
    services.referral_link_open(code=code.lower(), day=day)
    services.referral_link_open(code=code, day=day + datetime.timedelta(days=1))

    assert list(ReferralLinkOpen.objects.order_by("day").values_list("day", "opens")) == [
        (day, 2),
        (day + datetime.timedelta(days=1), 1),
    ]
    assert services.referral_link_open(code="NOSUCHCODE") is None
    assert ReferralLinkOpen.objects.count() == 2


def test_the_link_is_absolute_and_opens_the_code(aino, settings):
    settings.PUBLIC_BASE_URL = "https://kahvila.example/"
    code = services.referral_code_for(aino).code

    assert services.referral_link(code) == f"https://kahvila.example/r/{code}/"


# --- attaching a friend ---------------------------------------------------------------------------


def test_attaching_a_new_customer_makes_a_pending_referral_once(programme, aino, mikko, clock):
    code = services.referral_code_for(aino).code

    first = services.referral_attach(code=code.lower(), friend=mikko, source="api", network_address=PUBLIC_ADDRESS)
    again = services.referral_attach(code=code, friend=mikko, source="api")

    assert (first.created, again.created) == (True, False)
    assert first.referral.pk == again.referral.pk
    referral = Referral.objects.get()
    assert (referral.referrer, referral.friend, referral.code, referral.status) == (aino, mikko, code, Status.PENDING)
    assert referral.window_ends_at == clock.now + datetime.timedelta(days=30)
    assert len(referral.address_hash) == 64
    assert PUBLIC_ADDRESS not in referral.address_hash


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("unknown code", UnknownReferralCode),
        ("own code", SelfReferral),
        ("own mailbox", SelfReferral),
        ("another code", AlreadyReferred),
        ("signed up last week", NotANewCustomer),
        ("bought already", NotANewCustomer),
        ("programme closed", ReferralsClosed),
    ],
)
def test_attaching_is_refused_with_a_clear_error_and_writes_nothing(programme, aino, partner, clock, case, error):
    code = services.referral_code_for(aino).code
    friend = member(email="mikko@example.fi")
    if case == "unknown code":
        code = "ZZZZ2222"
    elif case == "own code":
        friend = aino
    elif case == "own mailbox":
        friend = member(email="Aino.Virtanen+friend@googlemail.com")
    elif case == "another code":
        refer(member(), friend)
    elif case == "signed up last week":
        Customer.objects.filter(pk=friend.pk).update(created_at=clock.now - datetime.timedelta(days=7))
    elif case == "bought already":
        buy(friend, partner, "5.00")
    elif case == "programme closed":
        program_set(is_enabled=False)
    referrals = Referral.objects.count()

    with pytest.raises(error):
        services.referral_attach(code=code, friend=friend, source="api")

    assert Referral.objects.count() == referrals


@pytest.mark.parametrize(
    ("email", "canonical"),
    [
        ("Aino.Virtanen+shop@Gmail.com", "ainovirtanen@gmail.com"),
        ("a.i.n.o@googlemail.com", "aino@gmail.com"),
        ("aino+x@outlook.com", "aino@outlook.com"),
        ("aino.v+x@example.fi", "aino.v+x@example.fi"),  # a provider we do not know: only the case
        ("AINO.V@EXAMPLE.FI", "aino.v@example.fi"),
    ],
)
def test_email_canonical_form(email, canonical):
    assert email_canonical(email) == canonical


# --- qualifying and rewarding ----------------------------------------------------------------------


def test_a_qualifying_purchase_rewards_both_sides_once_and_thanks_the_referrer(
    programme, templates, aino, mikko, partner, clock, django_capture_on_commit_callbacks
):
    referral = refer(aino, mikko)
    received = []
    signals.referral_rewarded.connect(lambda **kwargs: received.append(kwargs), weak=False, dispatch_uid="test")
    try:
        clock.advance(days=3)
        buy(mikko, partner, "25.00")
        with django_capture_on_commit_callbacks(execute=True):
            done = services.referral_process(referral_id=referral.pk)
        again = services.referral_process(referral_id=referral.pk)
    finally:
        signals.referral_rewarded.disconnect(dispatch_uid="test")

    assert (done.status, again.status) == (Status.REWARDED, Status.REWARDED)
    assert (referral_points(aino), referral_points(mikko)) == ([200], [100])
    assert (balance(aino), balance(mikko)) == (200, 125)
    assert received == [
        {
            "signal": signals.referral_rewarded,
            "sender": Referral,
            "referral_id": referral.pk,
            "referrer_id": aino.pk,
            "friend_id": mikko.pk,
        }
    ]
    thanks = Message.objects.get(customer=aino)
    welcome = Message.objects.get(customer=mikko)
    assert (thanks.purpose, welcome.purpose) == (MessagePurpose.REFERRAL_THANKS, MessagePurpose.REFERRAL_WELCOME)
    assert (thanks.is_marketing, thanks.status) == (False, Message.Status.PENDING)  # no consent needed
    assert "Mikko V. joined" in thanks.body
    assert "200 bonuspistettä" in thanks.body  # the gift in the referrer's language (Finnish)
    assert "Aino V. invited you" in welcome.body
    referral.refresh_from_db()
    assert (referral.qualifying_purchase.amount, referral.referrer_points, referral.friend_points) == (
        Decimal("25.00"),
        200,
        100,
    )
    assert referral.rewarded_at == clock.now
    assert ledger_verify() == []


def test_a_purchase_below_the_minimum_or_after_the_window_does_not_qualify(programme, aino, mikko, partner, clock):
    referral = refer(aino, mikko)
    buy(mikko, partner, "19.99")
    clock.advance(days=31)
    buy(mikko, partner, "50.00")

    assert services.referral_process(referral_id=referral.pk).status == Status.PENDING
    assert referral_points(aino) == []


def test_the_first_purchase_at_or_above_the_minimum_qualifies(programme, aino, mikko, partner, clock):
    referral = refer(aino, mikko)
    clock.advance(days=1)
    buy(mikko, partner, "8.00")
    clock.advance(days=1)
    first = buy(mikko, partner, "20.00")
    clock.advance(days=1)
    buy(mikko, partner, "80.00")

    services.referral_process(referral_id=referral.pk)

    assert Referral.objects.get().qualifying_purchase == first


def test_a_tier_raises_the_referrers_reward_and_vouchers_are_issued_once(programme, aino, mikko, partner):
    gold = TierFactory(name="Gold", rank=2)
    from django.db import transaction

    with transaction.atomic():
        account = loyalty_services.account_lock(aino)
        loyalty_services.tier_set(account=account, tier=gold, reason="staff", value=Decimal(0))
    coffee = RewardFactory(name="Free coffee", points_cost=0)
    ReferralTierReward.objects.create(program=programme, tier=gold, referrer_points=500, referrer_reward=coffee)
    program_set(friend_reward=coffee)
    referral = refer(aino, mikko)
    buy(mikko, partner, "30.00")

    services.referral_process(referral_id=referral.pk)
    services.referral_process(referral_id=referral.pk)

    assert referral_points(aino) == [500]
    assert list(Voucher.objects.order_by("customer_id").values_list("customer_id", "reward_id", "source")) == [
        (aino.pk, coffee.pk, "gift"),
        (mikko.pk, coffee.pk, "gift"),
    ]


def test_a_closed_programme_rewards_nothing(programme, aino, mikko, partner):
    referral = refer(aino, mikko)
    buy(mikko, partner, "30.00")
    program_set(is_enabled=False)

    assert services.referral_process(referral_id=referral.pk).status == Status.PENDING
    assert referral_points(aino) == []


# --- the fraud checks -----------------------------------------------------------------------------


def _payment(aino, partner, clock, fingerprint):
    buy(aino, partner, "12.00", occurred_at=clock.now - datetime.timedelta(days=40), payment_fingerprint="card-aino")
    return {"payment_fingerprint": fingerprint}


def _shipping(aino, partner, clock, fingerprint):
    buy(aino, partner, "12.00", occurred_at=clock.now - datetime.timedelta(days=40), shipping_fingerprint="addr-aino")
    return {"shipping_fingerprint": fingerprint}


FRAUD_CASES = [
    # flag, caught (a real-looking case), passed (a legitimate one)
    "same_email",
    "same_phone",
    "same_name",
    "shared_payment",
    "shared_shipping",
    "existing_customer",
    "purchased_before",
    "code_velocity",
    "address_velocity",
]


@pytest.mark.parametrize("flag", FRAUD_CASES)
@pytest.mark.parametrize("caught", [True, False], ids=["caught", "legitimate"])
def test_each_fraud_rule_catches_a_real_case_and_passes_a_legitimate_one(programme, aino, partner, clock, flag, caught):
    program_set(velocity_max_per_code=2, velocity_max_per_address=2, velocity_hours=24)
    friend = member(email="mikko.v@example.fi", first_name="Mikko", last_name="Virtanen", phone="+358402222222")
    purchase_fields = {}
    network_address = PUBLIC_ADDRESS
    if flag == "same_email" and caught:
        referral = refer(aino, friend)
        # After signing up under another address, the friend moves the account to the referrer's mailbox.
        customer_update(customer=friend, source="portal", email="a.i.n.o.virtanen+2@gmail.com")
    elif flag == "same_email":
        referral = refer(aino, friend)
        customer_update(customer=friend, source="portal", email="mikko.virtanen@gmail.com")
    elif flag == "same_phone":
        customer_update(customer=friend, source="portal", phone="+358401111111" if caught else "+358409999999")
        referral = refer(aino, friend)
    elif flag == "same_name":
        customer_update(
            customer=friend, source="portal", first_name="AINO", last_name=" virtanen" if caught else "Korhonen"
        )
        referral = refer(aino, friend)
    elif flag == "shared_payment":
        purchase_fields = _payment(aino, partner, clock, "card-aino" if caught else "card-mikko")
        referral = refer(aino, friend)
    elif flag == "shared_shipping":
        purchase_fields = _shipping(aino, partner, clock, "addr-aino" if caught else "addr-mikko")
        referral = refer(aino, friend)
    elif flag == "existing_customer":
        referral = refer(aino, friend)
        if caught:  # attached by staff to a customer of three months
            Customer.objects.filter(pk=friend.pk).update(created_at=clock.now - datetime.timedelta(days=90))
    elif flag == "purchased_before":
        referral = refer(aino, friend)
        if caught:  # a receipt from last month, sent in late
            buy(friend, partner, "9.00", occurred_at=clock.now - datetime.timedelta(days=20))
    elif flag == "code_velocity":
        for index in range(2 if caught else 1):
            clock.advance(hours=1 if caught else 30)
            refer(aino, member(), network_address=f"84.248.20.{index}")
        clock.advance(hours=1)
        Customer.objects.filter(pk=friend.pk).update(created_at=clock.now)  # signs up now
        referral = refer(aino, friend, network_address=network_address)
    else:  # address_velocity: sign-ups on several members' codes from one address
        for index in range(2):
            clock.advance(hours=1)
            refer(member(), member(), network_address=network_address if caught else f"84.248.20.{index}")
        clock.advance(hours=1)
        referral = refer(aino, friend, network_address=network_address)
    clock.advance(days=2)
    buy(friend, partner, "30.00", **purchase_fields)

    done = services.referral_process(referral_id=referral.pk)

    if caught:
        assert (done.status, done.flags) == (Status.REVIEW, [flag])
        assert referral_points(aino) == []
    else:
        assert (done.status, done.flags) == (Status.REWARDED, [])
        assert referral_points(aino) == [200]


@pytest.mark.parametrize(
    ("address", "counted"),
    [
        (PUBLIC_ADDRESS, PUBLIC_ADDRESS),
        (f" {PUBLIC_ADDRESS} ", PUBLIC_ADDRESS),
        (f"::ffff:{PUBLIC_ADDRESS}", PUBLIC_ADDRESS),  # the same client over an IPv6 socket
        ("2A00:1FA0:0:0::1", "2a00:1fa0::1"),
        ("127.0.0.1", ""),
        ("::1", ""),
        ("10.0.0.2", ""),
        ("172.16.5.4", ""),
        ("192.168.1.20", ""),
        ("fd00::5", ""),
        ("::ffff:10.0.0.2", ""),
        ("192.0.2.10", ""),  # documentation range: private to Python's ipaddress
        ("", ""),
        ("not-an-address", ""),
    ],
)
def test_only_public_addresses_are_counted(address, counted):
    assert address_counted(address) == counted
    assert (network_address_hash(address) != "") is bool(counted)


def test_the_same_address_in_any_form_has_one_hash():
    assert network_address_hash(f"::ffff:{PUBLIC_ADDRESS}") == network_address_hash(PUBLIC_ADDRESS)
    assert network_address_hash("2A00:1FA0:0:0::1") == network_address_hash("2a00:1fa0::1")


@pytest.mark.parametrize(
    ("address", "flags"),
    [
        (PUBLIC_ADDRESS, ["address_velocity"]),
        ("2a00:1fa0::1", ["address_velocity"]),
        ("127.0.0.1", []),
        ("::1", []),
        ("10.0.0.2", []),  # the reverse proxy's address, when CLIENT_IP_HEADER is not set
        ("192.168.1.20", []),
        ("fd00::5", []),
    ],
)
def test_private_and_loopback_addresses_skip_the_address_check_only(programme, partner, clock, address, flags):
    """Three sign-ups on three members' codes from one address, the limit two: a public address
    is caught at the third, a private or loopback one is not counted (and not kept)."""
    program_set(velocity_max_per_address=2, velocity_max_per_code=2, velocity_hours=24)
    referrals = []
    for _index in range(3):
        clock.advance(hours=1)
        referrals.append(refer(member(), member(), network_address=address))
    clock.advance(days=1)
    buy(referrals[-1].friend, partner, "30.00")

    done = services.referral_process(referral_id=referrals[-1].pk)

    assert done.flags == flags
    assert done.status == (Status.REVIEW if flags else Status.REWARDED)
    assert Referral.objects.exclude(address_hash="").count() == (3 if flags else 0)


def test_a_private_address_still_gets_the_other_checks(programme, aino, partner, clock):
    """Skipping the address check leaves the per-code one: a burst on one code from the proxy's
    address is still caught."""
    program_set(velocity_max_per_address=2, velocity_max_per_code=2, velocity_hours=24)
    referrals = []
    for _index in range(3):
        clock.advance(hours=1)
        referrals.append(refer(aino, member(), network_address="10.0.0.2"))
    clock.advance(days=1)
    buy(referrals[-1].friend, partner, "30.00")

    done = services.referral_process(referral_id=referrals[-1].pk)

    assert (done.status, done.flags) == (Status.REVIEW, ["code_velocity"])


def test_the_monthly_cap_sends_the_next_referral_to_review_until_next_month(programme, aino, partner, clock):
    program_set(monthly_cap=2)
    referrals = [refer(aino) for _ in range(4)]
    clock.advance(days=1)
    for referral in referrals:
        buy(referral.friend, partner, "25.00")

    statuses = [services.referral_process(referral_id=referral.pk).status for referral in referrals[:3]]
    clock.advance(months=1)
    later = services.referral_process(referral_id=referrals[3].pk)

    assert statuses == [Status.REWARDED, Status.REWARDED, Status.REVIEW]
    assert Referral.objects.get(pk=referrals[2].pk).flags == ["monthly_cap"]
    assert later.status == Status.REWARDED  # a new month, a new allowance
    assert referral_points(aino) == [200, 200, 200]


# --- staff review -----------------------------------------------------------------------------------


@pytest.fixture
def staff(db):
    return User.objects.create_user(username="reviewer", is_staff=True)


@pytest.fixture
def in_review(programme, aino, partner):
    friend = member(phone=aino.phone)  # the same phone: held for review
    referral = refer(aino, friend)
    buy(friend, partner, "30.00")
    assert services.referral_process(referral_id=referral.pk).status == Status.REVIEW
    return referral


def test_approving_rewards_and_records_who_and_why(in_review, staff, aino, templates):
    program_set(monthly_cap=1)
    refer(aino)  # the cap does not matter: staff decided

    approved = services.referral_approve(referral=in_review, by=staff, note="Sisters sharing a phone: fine.")

    assert approved.status == Status.REWARDED
    assert (approved.reviewed_by, approved.note) == (staff, "Sisters sharing a phone: fine.")
    assert referral_points(aino) == [200]
    assert Message.objects.filter(purpose=MessagePurpose.REFERRAL_THANKS, customer=aino).count() == 1


def test_rejecting_grants_nothing_and_records_the_reason(in_review, staff, aino):
    rejected = services.referral_reject(referral=in_review, by=staff, note="The same person twice.")

    assert (rejected.status, rejected.reason, rejected.note) == (Status.REJECTED, "staff", "The same person twice.")
    assert referral_points(aino) == []
    with pytest.raises(ReferralNotReviewable):
        services.referral_approve(referral=in_review, by=staff, note="Changed my mind")


def test_a_decision_needs_a_reason_and_a_reviewable_referral(in_review, staff, aino, mikko):
    with pytest.raises(ReasonRequired):
        services.referral_approve(referral=in_review, by=staff, note="   ")
    pending = refer(aino, mikko)
    with pytest.raises(ReferralNotReviewable):
        services.referral_approve(referral=pending, by=staff, note="Looks fine")
    assert Referral.objects.get(pk=in_review.pk).status == Status.REVIEW


# --- a full refund takes the rewards back ------------------------------------------------------------


@pytest.fixture
def rewarded(programme, aino, mikko, partner, clock):
    referral = refer(aino, mikko)
    clock.advance(days=1)
    purchase = buy(mikko, partner, "40.00", external_id="K-1")
    assert services.referral_process(referral_id=referral.pk).status == Status.REWARDED
    return referral, purchase


def test_a_full_refund_inside_the_window_takes_both_rewards_back_by_new_entries(rewarded, aino, mikko, clock):
    _referral, purchase = rewarded
    entries = LedgerEntry.objects.count()
    clock.advance(days=5)
    loyalty_services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("40.00"))

    done = services.referral_claw_back(purchase_id=purchase.pk)
    services.referral_claw_back(purchase_id=purchase.pk)

    assert (done.status, done.reason, done.clawed_back_at) == (Status.REJECTED, "refunded", clock.now)
    assert (balance(aino), balance(mikko)) == (0, 0)
    assert referral_points(aino) == [200, -200]
    assert LedgerEntry.objects.count() == entries + 3  # the purchase's refund, then each side's claw-back
    assert ledger_verify() == []


def test_points_already_spent_are_owed_after_the_claw_back(rewarded, aino, clock):
    _referral, purchase = rewarded
    loyalty_services.reward_redeem(customer=aino, reward=RewardFactory(points_cost=150), idempotency_key="R-1")
    loyalty_services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("40.00"))

    services.referral_claw_back(purchase_id=purchase.pk)

    account = PointsAccount.objects.get(customer=aino)
    assert (account.balance, account.owed) == (0, 150)
    assert ledger_verify() == []


@pytest.mark.parametrize("case", ["partial refund", "after the window"])
def test_a_partial_refund_or_one_after_the_window_leaves_the_rewards(rewarded, aino, clock, case):
    _referral, purchase = rewarded
    if case == "after the window":
        clock.advance(days=40)
    amount = Decimal("10.00") if case == "partial refund" else Decimal("40.00")
    loyalty_services.refund_record(purchase=purchase, external_id="RF-1", amount=amount)

    assert services.referral_claw_back(purchase_id=purchase.pk).status == Status.REWARDED
    assert referral_points(aino) == [200]


def test_a_refund_of_another_purchase_changes_nothing(rewarded, mikko, partner):
    other = buy(mikko, partner, "15.00")
    loyalty_services.refund_record(purchase=other, external_id="RF-9", amount=Decimal("15.00"))

    assert services.referral_claw_back(purchase_id=other.pk) is None
    assert Referral.objects.get().status == Status.REWARDED


# --- the sweep ----------------------------------------------------------------------------------------


def test_the_sweep_finds_referrals_whose_event_was_lost_and_expires_the_rest(programme, aino, partner, clock):
    bought = refer(aino)
    idle = refer(aino)
    small = refer(aino)
    clock.advance(days=1)
    buy(bought.friend, partner, "30.00")
    buy(small.friend, partner, "5.00")
    clock.advance(minutes=5)

    assert services.referrals_to_process() == [bought.pk]
    assert services.referrals_expire() == 0
    clock.advance(days=31)
    assert services.referrals_expire() == 1 + 1  # idle and small; bought is still found by the sweep
    assert set(Referral.objects.filter(status=Status.REJECTED).values_list("pk", flat=True)) == {idle.pk, small.pk}
    assert Referral.objects.get(pk=idle.pk).reason == "window_expired"
    services.referral_process(referral_id=bought.pk)
    assert services.referrals_to_process() == []


def test_the_sweep_finds_rewards_to_take_back_whose_refund_event_was_lost(rewarded, clock):
    _referral, purchase = rewarded
    assert services.referrals_to_claw_back() == []
    loyalty_services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("40.00"))

    assert services.referrals_to_claw_back() == [purchase.pk]
    services.referral_claw_back(purchase_id=purchase.pk)
    assert services.referrals_to_claw_back() == []


def test_the_segment_condition_counts_rewarded_referrals(rewarded, aino, mikko):
    from customers.segments import segment_rules_queryset

    def members(count: int) -> set[int]:
        rules = [{"condition": "referrals_rewarded_at_least", "value": count}]
        return set(segment_rules_queryset(match="all", rules=rules).values_list("pk", flat=True))

    assert members(1) == {aino.pk}
    assert members(2) == set()
    assert members(0) == {aino.pk, mikko.pk}


def test_points_earned_add_up_in_the_ledger(rewarded, aino):
    total = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).aggregate(total=Sum("amount"))["total"]
    assert total == 300
