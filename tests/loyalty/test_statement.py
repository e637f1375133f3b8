"""Statement lines shown to the customer are built from what caused each entry, in their language."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from campaigns.birthdays import birthday_key
from campaigns.choices import campaign_gift_key
from campaigns.contests import prize_key
from campaigns.launch import recipient_key
from campaigns.listening import feedback_key
from campaigns.win_back import win_back_key
from customers.models import User
from loyalty import services
from loyalty.models import LedgerEntry
from loyalty.selectors import ledger_for_customer
from loyalty.templatetags.loyalty_tags import statement_detail
from referrals.services.rewards import reward_key
from tests.customers.factories import CustomerFactory, PartnerFactory
from tests.loyalty.factories import RewardFactory, base_rate, purchase_make

Kind = LedgerEntry.Kind


@pytest.mark.django_db
def test_statement_lines_describe_each_cause():
    base_rate()
    customer = CustomerFactory()
    purchase = purchase_make(customer=customer, partner=PartnerFactory(), amount="40.00", external_id="K-9")
    services.refund_record(purchase=purchase, external_id="R-1", amount=Decimal("10.00"))
    staff = User.objects.create_user(username="staff", is_staff=True)
    services.points_adjust(customer=customer, amount=5, reason="Spilled latte", by=staff)

    lines = [(entry.kind, statement_detail(entry)) for entry in ledger_for_customer(customer)]

    assert lines == [
        (LedgerEntry.Kind.ADJUST, "Spilled latte"),
        (LedgerEntry.Kind.REFUND, "Refund of purchase K-9"),
        (LedgerEntry.Kind.EARN, "Purchase K-9"),
    ]


@pytest.mark.django_db
def test_statement_lines_are_translated():
    base_rate()
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=PartnerFactory(), amount="40.00", external_id="K-9")
    entry = ledger_for_customer(customer).get()

    with translation.override("fi"):
        finnish = statement_detail(entry)
    with translation.override("ru"):
        russian = statement_detail(entry)

    assert "K-9" in finnish
    assert "K-9" in russian
    assert finnish != "Purchase K-9"
    assert russian != "Purchase K-9"


# Grants as the apps above loyalty write them: their key helpers, their English reason. Each case:
# kind, key, reason, the English line, and the English words of the reason that must not reach a
# Finnish or Russian statement (names are staff- or customer-entered and stay as they are).
GRANTS = {
    "campaign gift chosen": (
        Kind.GIFT,
        campaign_gift_key(3, 9),
        "Gift from campaign Kesäjuhla: Kanelipulla",
        "Gift: Kesäjuhla: Kanelipulla",
        ["Gift from campaign", "Gift"],
    ),
    "campaign gift launched": (Kind.GIFT, recipient_key(4, 9), "Kesäjuhla", "Gift: Kesäjuhla", ["Gift"]),
    "contest prize": (
        Kind.GIFT,
        prize_key(5),
        "Contest prize: Kevätarvonta",
        "Contest prize: Kevätarvonta",
        ["Contest prize", "prize"],
    ),
    "feedback": (
        Kind.GIFT,
        feedback_key(6),
        "Thank you for your feedback",
        "Thank you for your feedback",
        ["Thank you", "feedback"],
    ),
    "thank-you gift": (
        Kind.GIFT,
        "thank-you-gift:7",
        "Thank-you gift for purchase K-77",
        "Thank-you gift for purchase K-77",
        ["Thank-you gift", "purchase"],
    ),
    "win-back": (
        Kind.GIFT,
        win_back_key(9, datetime.date(2025, 3, 1)),
        "Win-back gift (no purchase since 2025-03-01)",
        "A gift to welcome you back",
        ["Win-back", "no purchase since", "gift"],
    ),
    "birthday": (Kind.BIRTHDAY, birthday_key(9, 2025), "Birthday gift 2025", "Birthday gift 2025", ["Birthday"]),
    "referrer reward": (
        Kind.REFERRAL,
        reward_key(11, "referrer"),
        "Referral: Mikko V. joined and bought",
        "Reward for referring Mikko V.",
        ["Referral", "joined and bought", "Reward"],
    ),
    "friend reward": (
        Kind.REFERRAL,
        reward_key(12, "friend"),
        "Welcome: referred by Aino K.",
        "Welcome gift: referred by Aino K.",
        ["Welcome", "referred by"],
    ),
    "gift of an unknown key": (
        Kind.GIFT,
        "surprise:1",
        "Surprise for our best customers",
        "A gift from us",
        ["Surprise", "best customers", "gift"],
    ),
    "birthday of an unknown key": (Kind.BIRTHDAY, "party:1", "Party time", "Birthday gift", ["Party", "Birthday"]),
    "referral of an unknown key": (
        Kind.REFERRAL,
        "invite:1",
        "Invited a pal",
        "Referral reward",
        ["Invited", "Referral"],
    ),
    "bonus": (Kind.BONUS, "test-bonus:1", "Test bonus", "Bonus points", ["Test bonus", "Bonus points"]),
}


def grant(customer, case: str) -> LedgerEntry:
    kind, key, reason, _english, _words = GRANTS[case]
    return services.points_earn(customer=customer, amount=10, kind=kind, reason=reason, idempotency_key=key)


@pytest.mark.django_db
@pytest.mark.parametrize("case", GRANTS)
def test_grant_lines_come_from_kind_and_key_not_the_stored_reason(case):
    entry = grant(CustomerFactory(), case)

    with translation.override("en"):
        assert statement_detail(entry) == GRANTS[case][3]


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fi", "ru"])
@pytest.mark.parametrize("case", GRANTS)
def test_grant_lines_carry_no_english_reason_text(case, language):
    entry = grant(CustomerFactory(), case)
    _kind, _key, reason, english, words = GRANTS[case]

    with translation.override(language):
        line = statement_detail(entry)

    assert line
    assert line not in (english, reason)
    assert [word for word in words if word in line] == []


@pytest.mark.django_db
def test_statement_lines_of_every_grant_take_one_query(django_assert_num_queries):
    customer = CustomerFactory()
    for case in GRANTS:
        grant(customer, case)

    with django_assert_num_queries(1), translation.override("fi"):
        lines = [statement_detail(entry) for entry in ledger_for_customer(customer)]

    assert len(lines) == len(GRANTS)


def taken_back_and_owed(customer) -> None:
    """A referral reward taken back after part of it was spent, then a refund of points all spent:
    the claw-back debit and two zero-point notes of points owed."""
    purchase = purchase_make(customer=customer, partner=PartnerFactory(), amount="40.00", external_id="K-6")
    key = reward_key(21, "referrer")
    reward = services.points_earn(
        customer=customer,
        amount=100,
        kind=Kind.REFERRAL,
        reason="Referral: Mikko V. joined and bought",
        idempotency_key=key,
    )
    spend = RewardFactory(name="Kanelipulla", points_cost=120)
    services.reward_redeem(customer=customer, reward=spend, idempotency_key="test:spend")  # 20 points left
    services.points_claw_back(
        entry=reward, reason="Referral taken back: purchase K-5 refunded", idempotency_key=f"{key}:claw-back"
    )  # 20 taken, 80 owed
    services.refund_record(purchase=purchase, external_id="R-1", amount=Decimal("40.00"))  # 40 owed


@pytest.mark.django_db
def test_claw_back_and_owed_points_lines_are_described():
    base_rate()
    customer = CustomerFactory()
    taken_back_and_owed(customer)

    with translation.override("en"):
        lines = [(entry.kind, entry.amount, statement_detail(entry)) for entry in ledger_for_customer(customer)]

    assert lines == [
        (Kind.REFUND, 0, "40 points already spent: owed, repaid from future earnings"),
        (Kind.REFERRAL, 0, "80 points already spent: owed, repaid from future earnings"),
        (Kind.REFERRAL, -20, "Referral reward taken back: purchase K-5 refunded"),
        (Kind.REDEEM, -120, "Reward: Kanelipulla"),
        (Kind.REFERRAL, 100, "Reward for referring Mikko V."),
        (Kind.EARN, 40, "Purchase K-6"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fi", "ru"])
def test_claw_back_and_owed_points_lines_carry_no_english_reason_text(language):
    base_rate()
    customer = CustomerFactory()
    taken_back_and_owed(customer)
    entries = list(ledger_for_customer(customer))

    with translation.override(language):
        lines = [statement_detail(entry) for entry in entries]

    english = ["already spent", "owed", "repaid", "taken back", "refunded", "Referral", "joined and bought"]
    assert [(line, word) for line in lines for word in english if word in line] == []
    assert [entry.reason for entry, line in zip(entries, lines, strict=True) if entry.reason in line] == []
    assert "K-5" in lines[2]
    assert "Mikko V." in lines[4]
