"""Contests and sweepstakes: entries from purchases (one per amount spent, rounded down), from the
portal and from the free route (no purchase necessary); a draw recorded with its seed, entrant
list hash and winners that replays to the same result; winners who accept once, decline, or let
the win expire; the admin's read-only draw record and its "draw the winners" action."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.db import connections
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from campaigns import contests, receivers, tasks
from campaigns.admin_contests import contest_draw_action
from campaigns.models import Campaign, ContestDraw, ContestEntry, ContestWinner
from customers.models import Customer, Message, MessagePurpose, MessageTemplate, Segment, SegmentMember, User
from customers.services import customer_register
from loyalty.models import LedgerEntry, PointsAccount, Purchase
from loyalty.program import program_cache_clear
from tests.customers.factories import PartnerFactory
from tests.loyalty.conftest import Clock
from tests.loyalty.factories import base_rate, purchase_make

START = datetime.datetime(2026, 10, 1, 9, 0, tzinfo=datetime.UTC)
SEED = "5eed" * 16


@pytest.fixture(autouse=True)
def _program_cache_cleared() -> Iterator[None]:
    program_cache_clear()
    yield
    program_cache_clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock(START)
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


@pytest.fixture
def programme(db: None) -> None:
    base_rate()


def member(email: str = "aino@example.fi", **profile: object) -> Customer:
    defaults = {"first_name": "Aino", "language": "en"}
    return customer_register(email=email, **{**defaults, **profile}).customer  # type: ignore[arg-type]


def contest_make(**fields: object) -> Campaign:
    """A running contest from a day before START to ten days after, one entry per 10 EUR."""
    defaults: dict[str, object] = {
        "name": "Autumn sweepstake",
        "kind": Campaign.Kind.CONTEST,
        "status": Campaign.Status.RUNNING,
        "starts_at": START - datetime.timedelta(days=1),
        "ends_at": START + datetime.timedelta(days=10),
        "entry_spend_unit": Decimal("10.00"),
        "prize_description": "A weekend for two in Levi",
        "winners_count": 1,
        "prize_points": 500,
        "accept_days": 14,
    }
    defaults.update(fields)
    return Campaign.objects.create(**defaults)


def buy(customer: Customer, amount: str, **kwargs: object) -> Purchase:
    return purchase_make(customer=customer, partner=PartnerFactory(name="Kahvila"), amount=amount, **kwargs)  # type: ignore[arg-type]


def entries() -> list[tuple[str, str, str, int]]:
    return list(ContestEntry.objects.order_by("pk").values_list("customer__email", "source", "source_key", "tickets"))


def enter(campaign: Campaign, customer: Customer, source: str = "portal", tickets: int = 1) -> ContestEntry:
    key = {"portal": "portal", "free": "free"}.get(source, source)
    source_name = "purchase" if source.startswith("purchase:") else source
    return contests.contest_enter(
        campaign=campaign, customer=customer, source=source_name, source_key=key, tickets=tickets
    ).entry


def close(campaign: Campaign, clock: Clock) -> None:
    """Move the clock past the contest's end."""
    assert campaign.ends_at is not None
    clock.now = campaign.ends_at + datetime.timedelta(hours=1)


# --- Entries from purchases ----------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "expected"), [("9.99", []), ("10.00", [1]), ("34.50", [3]), ("100.00", [10])])
def test_a_purchase_earns_one_entry_per_unit_spent_rounded_down(programme, clock, amount, expected):
    campaign = contest_make()
    customer = member()
    purchase = buy(customer, amount)

    made = contests.contest_entries_for_purchase(purchase_id=purchase.pk)

    assert [entry.tickets for entry in made] == expected
    assert entries() == [("aino@example.fi", "purchase", f"purchase:{purchase.pk}", n) for n in expected]
    assert all(entry.campaign_id == campaign.pk for entry in made)


def test_a_repeated_purchase_event_adds_nothing(programme, clock):
    contest_make()
    purchase = buy(member(), "25.00")

    first = tasks.contest_entries_for_purchase_task(purchase_id=purchase.pk)
    again = tasks.contest_entries_for_purchase_task(purchase_id=purchase.pk)
    contests.contest_entries_for_purchase(purchase_id=purchase.pk)

    assert (first, again) == (1, 1)
    assert entries() == [("aino@example.fi", "purchase", f"purchase:{purchase.pk}", 2)]


def test_a_purchase_enters_every_running_contest_that_holds_it(programme, clock):
    tens = contest_make(name="Tens")
    twenties = contest_make(name="Twenties", entry_spend_unit=Decimal("20.00"))
    contest_make(name="No purchase entries", entry_spend_unit=None)
    purchase = buy(member(), "45.00")

    made = contests.contest_entries_for_purchase(purchase_id=purchase.pk)

    assert sorted((entry.campaign_id, entry.tickets) for entry in made) == [(tens.pk, 4), (twenties.pk, 2)]


@pytest.mark.parametrize(
    ("case", "fields", "occurred"),
    [
        ("bought before the start", {}, START - datetime.timedelta(days=2)),
        ("bought at the end", {"ends_at": START}, START),
        ("draft", {"status": Campaign.Status.DRAFT}, START),
        ("scheduled", {"status": Campaign.Status.SCHEDULED}, START),
        ("cancelled", {"status": Campaign.Status.CANCELLED}, START),
        ("completed", {"status": Campaign.Status.COMPLETED}, START),
        ("not a contest", {"kind": Campaign.Kind.GIFT}, START),
        ("another currency", {"currency": "SEK"}, START),
    ],
)
def test_purchases_outside_a_running_contest_window_earn_nothing(programme, clock, case, fields, occurred):
    contest_make(**fields)
    purchase = buy(member(), "50.00", occurred_at=occurred)

    assert contests.contest_entries_for_purchase(purchase_id=purchase.pk) == [], case
    assert ContestEntry.objects.count() == 0


def test_a_purchase_during_the_window_processed_after_it_ends_earns_nothing(programme, clock):
    campaign = contest_make()
    purchase = buy(member(), "50.00")
    close(campaign, clock)

    assert contests.contest_entries_for_purchase(purchase_id=purchase.pk) == []
    assert ContestEntry.objects.count() == 0


def test_a_drawn_contest_takes_no_more_purchase_entries(programme, clock):
    campaign = contest_make(ends_at=None)
    enter(campaign, member("early@example.fi"))
    contests.contest_draw(campaign=campaign, seed=SEED)
    purchase = buy(member(), "50.00")

    assert contests.contest_entries_for_purchase(purchase_id=purchase.pk) == []
    assert ContestEntry.objects.count() == 1


def test_an_unknown_purchase_enters_nothing(programme, clock):
    contest_make()

    assert contests.contest_entries_for_purchase(purchase_id=987654) == []


# --- Audience, portal and free entries ----------------------------------------------------------


@pytest.fixture
def vip_contest(programme, clock) -> tuple[Campaign, Customer, Customer]:
    """A contest for the VIP segment; Aino is a member, Eero is not."""
    segment = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    aino, eero = member(), member("eero@example.fi", first_name="Eero")
    SegmentMember.objects.create(segment=segment, customer=aino)
    return contest_make(segment=segment), aino, eero


def test_only_the_audience_enters_by_purchase_or_portal(vip_contest):
    campaign, aino, eero = vip_contest
    aino_purchase, eero_purchase = buy(aino, "20.00"), buy(eero, "20.00")

    contests.contest_entries_for_purchase(purchase_id=aino_purchase.pk)
    contests.contest_entries_for_purchase(purchase_id=eero_purchase.pk)
    contests.contest_enter_portal(campaign=campaign, customer=aino)
    with pytest.raises(contests.ContestEntryRefused) as refused:
        contests.contest_enter_portal(campaign=campaign, customer=eero)

    assert refused.value.code == "contest_not_in_audience"
    assert entries() == [
        ("aino@example.fi", "purchase", f"purchase:{aino_purchase.pk}", 2),
        ("aino@example.fi", "portal", "portal", 1),
    ]


def test_the_free_route_needs_no_purchase_and_is_open_to_every_member(vip_contest):
    campaign, _aino, eero = vip_contest
    assert not Purchase.objects.filter(customer=eero).exists()

    first = contests.contest_enter_free(campaign=campaign, customer=eero)
    again = contests.contest_enter_free(campaign=campaign, customer=eero)

    assert (first.created, again.created, again.entry.pk) == (True, False, first.entry.pk)
    assert entries() == [("eero@example.fi", "free", "free", 1)]


def test_a_portal_entry_counts_once(programme, clock):
    campaign = contest_make()
    customer = member()

    first = contests.contest_enter_portal(campaign=campaign, customer=customer)
    again = contests.contest_enter_portal(campaign=campaign, customer=customer)

    assert (first.created, again.created) == (True, False)
    assert entries() == [("aino@example.fi", "portal", "portal", 1)]


def test_a_portal_entry_needs_the_contest_to_offer_it(programme, clock):
    campaign = contest_make(portal_entry=False)

    with pytest.raises(contests.ContestEntryRefused) as refused:
        contests.contest_enter_portal(campaign=campaign, customer=member())

    assert refused.value.code == "contest_portal_entry_off"
    assert ContestEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"status": Campaign.Status.DRAFT}, contests.ContestNotOpen),
        ({"starts_at": START + datetime.timedelta(hours=1)}, contests.ContestNotOpen),
        ({"ends_at": START}, contests.ContestNotOpen),
        ({"kind": Campaign.Kind.GIFT}, contests.NotAContest),
    ],
)
def test_no_entry_outside_a_running_contest(programme, clock, fields, error):
    campaign = contest_make(**fields)

    with pytest.raises(error):
        contests.contest_enter_free(campaign=campaign, customer=member())

    assert ContestEntry.objects.count() == 0


def test_a_blocked_customer_cannot_enter(programme, clock):
    campaign = contest_make()
    customer = member()
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.BLOCKED)

    with pytest.raises(contests.ContestEntryRefused) as refused:
        contests.contest_enter_free(campaign=campaign, customer=customer)

    assert refused.value.code == "customer_not_active"
    assert ContestEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("source", "source_key", "tickets"),
    [
        ("portal", "free", 1),
        ("free", "portal", 1),
        ("purchase", "purchase:abc", 1),
        ("purchase", "portal", 1),
        ("lottery", "lottery", 1),
        ("purchase", "purchase:12", 0),
        ("purchase", "purchase:12", -3),
        ("portal", "portal", 5),
        ("free", "free", True),
    ],
)
def test_a_malformed_entry_is_refused_and_writes_nothing(programme, clock, source, source_key, tickets):
    campaign = contest_make()

    with pytest.raises(contests.ContestEntryInvalid) as refused:
        contests.contest_enter(
            campaign=campaign, customer=member(), source=source, source_key=source_key, tickets=tickets
        )

    assert refused.value.code == "contest_entry_invalid"
    assert ContestEntry.objects.count() == 0


def test_the_sweep_finds_purchases_whose_entries_were_lost(programme, clock):
    segment = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    contest_make()
    vip_only = contest_make(name="VIP only", segment=segment)
    aino, eero = member(), member("eero@example.fi")
    SegmentMember.objects.create(segment=segment, customer=eero)
    small = buy(aino, "9.00")
    lost = buy(aino, "30.00")
    eero_lost = buy(eero, "12.00")
    early = buy(aino, "50.00", occurred_at=START - datetime.timedelta(days=3))

    assert contests.contest_purchases_without_entries() == [lost.pk, eero_lost.pk]

    with mock.patch.object(tasks.contest_entries_for_purchase_task, "delay") as delay:
        assert tasks.contest_entries_sweep_task() == 2
    assert sorted(call.kwargs["purchase_id"] for call in delay.call_args_list) == [lost.pk, eero_lost.pk]

    for purchase in (small, lost, eero_lost, early):
        contests.contest_entries_for_purchase(purchase_id=purchase.pk)
    assert contests.contest_purchases_without_entries() == []
    assert ContestEntry.objects.filter(campaign=vip_only).count() == 1


def test_the_purchase_receiver_enqueues_the_entry_task_and_survives_a_dead_broker(caplog):
    with mock.patch.object(tasks.contest_entries_for_purchase_task, "apply_async") as apply_async:
        receivers.on_purchase_recorded_contests(purchase_id=42, customer_id=7, sender=Purchase)
    apply_async.assert_called_once_with(kwargs={"purchase_id": 42}, retry=False)

    with mock.patch.object(tasks.contest_entries_for_purchase_task, "apply_async", side_effect=OSError("down")):
        receivers.on_purchase_recorded_contests(purchase_id=43, customer_id=7, sender=Purchase)
    assert "contest entries of purchase 43" in caplog.text


# --- The draw ------------------------------------------------------------------------------------


def reference_pick(seed: str, entrants: list[tuple[int, int]], count: int) -> list[int]:
    """The algorithm as the module's docstring tells it, written out plainly for an auditor."""
    pool = sorted(entrants)
    winners = []
    counter = 0
    while pool and len(winners) < count:
        total = sum(tickets for _id, tickets in pool)
        value = int.from_bytes(hmac.new(bytes.fromhex(seed), str(counter).encode(), hashlib.sha256).digest(), "big")
        counter += 1
        if value >= 2**256 - (2**256 % total):
            continue
        ticket = value % total
        for index, (customer_id, tickets) in enumerate(pool):
            if ticket < tickets:
                winners.append(customer_id)
                del pool[index]
                break
            ticket -= tickets
    return winners


@pytest.fixture
def entered(programme, clock) -> tuple[Campaign, list[Customer]]:
    """Four entrants: Aino by purchase (3) and portal (1), Eero free (1), Helmi portal (1) and
    Juho by purchase (5); three winners to draw."""
    campaign = contest_make(winners_count=3)
    aino, eero, helmi, juho = (
        member(f"{name}@example.fi", first_name=name) for name in ("aino", "eero", "helmi", "juho")
    )
    for customer, amount in ((aino, "30.00"), (juho, "55.00")):
        contests.contest_entries_for_purchase(purchase_id=buy(customer, amount).pk)
    contests.contest_enter_portal(campaign=campaign, customer=aino)
    contests.contest_enter_free(campaign=campaign, customer=eero)
    contests.contest_enter_portal(campaign=campaign, customer=helmi)
    close(campaign, clock)
    return campaign, [aino, eero, helmi, juho]


def test_a_draw_records_seed_hash_and_winners_picked_by_the_documented_algorithm(entered, clock):
    campaign, (aino, eero, helmi, juho) = entered
    staff = User.objects.create_user(username="staff", is_staff=True)

    draw = contests.contest_draw(campaign=campaign, by=staff, seed=SEED)

    listed = sorted([(aino.pk, 4), (eero.pk, 1), (helmi.pk, 1), (juho.pk, 5)])
    canonical = json.dumps(listed, separators=(",", ":"))
    assert canonical == "[" + ",".join(f"[{customer_id},{tickets}]" for customer_id, tickets in listed) + "]"
    assert (draw.algorithm, draw.seed, draw.drawn_by, draw.drawn_at) == (
        "hmac-sha256-weighted-v1",
        SEED,
        staff,
        clock.now,
    )
    assert draw.entrants_hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert (draw.entrant_count, draw.ticket_count) == (4, 11)
    assert draw.winner_ids == reference_pick(SEED, listed, 3)
    assert len(set(draw.winner_ids)) == 3
    winners = list(ContestWinner.objects.filter(draw=draw).values_list("rank", "customer_id", "status", "accept_by"))
    accept_by = clock.now + datetime.timedelta(days=14)
    assert winners == [
        (rank, customer_id, "notified", accept_by) for rank, customer_id in enumerate(draw.winner_ids, 1)
    ]
    campaign.refresh_from_db()
    assert (campaign.status, campaign.completed_at) == ("completed", clock.now)


def test_a_draw_takes_a_fresh_secrets_seed(entered):
    campaign, _customers = entered

    with mock.patch.object(contests.secrets, "token_hex", return_value="ab" * 32) as token_hex:
        draw = contests.contest_draw(campaign=campaign)

    token_hex.assert_called_once_with(32)
    assert draw.seed == "ab" * 32


def test_a_draw_replayed_from_its_record_gives_the_same_winners_and_hash(entered):
    campaign, _customers = entered
    draw = contests.contest_draw(campaign=campaign)

    replay = contests.contest_draw_replay(ContestDraw.objects.get(pk=draw.pk))

    assert replay == draw.winner_ids
    assert replay.entrants_hash == draw.entrants_hash
    assert (replay.hash_matches, replay.is_confirmed) == (True, True)
    assert (replay.entrant_count, replay.ticket_count) == (draw.entrant_count, draw.ticket_count)


def test_entries_after_the_draw_do_not_change_its_replay(entered, clock):
    campaign, customers = entered
    draw = contests.contest_draw(campaign=campaign, seed=SEED)
    clock.advance(minutes=5)
    ContestEntry.objects.create(campaign=campaign, customer=customers[1], source="portal", source_key="portal")

    replay = contests.contest_draw_replay(draw)

    assert replay.is_confirmed


@pytest.mark.parametrize("tamper", ["tickets", "removed", "backdated", "blocked"])
def test_a_changed_entrant_list_changes_the_hash_and_the_audit_catches_it(entered, clock, tamper):
    campaign, (aino, eero, _helmi, _juho) = entered
    draw = contests.contest_draw(campaign=campaign, seed=SEED)
    if tamper == "tickets":
        ContestEntry.objects.filter(customer=eero).update(tickets=50)
    elif tamper == "removed":
        ContestEntry.objects.filter(customer=aino, source="portal").delete()
    elif tamper == "backdated":
        clock.advance(minutes=5)
        late = ContestEntry.objects.create(campaign=campaign, customer=eero, source="portal", source_key="portal")
        ContestEntry.objects.filter(pk=late.pk).update(created_at=draw.drawn_at - datetime.timedelta(hours=1))
    else:
        Customer.objects.filter(pk=eero.pk).update(status=Customer.Status.BLOCKED)

    replay = contests.contest_draw_replay(draw)

    assert replay.entrants_hash != draw.entrants_hash
    assert (replay.hash_matches, replay.is_confirmed) == (False, False)


def test_eligibility_is_snapshotted_at_draw_time(entered):
    campaign, (aino, eero, helmi, juho) = entered
    Customer.objects.filter(pk=helmi.pk).update(status=Customer.Status.BLOCKED)
    Customer.objects.filter(pk=juho.pk).update(status=Customer.Status.ERASED)

    draw = contests.contest_draw(campaign=campaign, seed=SEED)

    assert (draw.entrant_count, draw.ticket_count) == (2, 5)
    assert sorted(draw.winner_ids) == sorted([aino.pk, eero.pk])


def test_a_second_draw_is_refused_and_changes_nothing(entered):
    campaign, _customers = entered
    draw = contests.contest_draw(campaign=campaign, seed=SEED)

    with pytest.raises(contests.ContestAlreadyDrawn) as refused:
        contests.contest_draw(campaign=campaign)

    assert (refused.value.code, refused.value.status) == ("contest_already_drawn", 409)
    assert list(ContestDraw.objects.values_list("pk", "seed", "winner_ids")) == [(draw.pk, SEED, draw.winner_ids)]
    assert ContestWinner.objects.count() == 3
    assert Message.objects.filter(purpose=MessagePurpose.CONTEST_WINNER).count() == 3


@pytest.mark.parametrize(
    ("fields", "error", "code"),
    [
        ({"ends_at": START + datetime.timedelta(days=10)}, contests.ContestStillOpen, "contest_still_open"),
        ({"status": Campaign.Status.DRAFT}, contests.ContestNotDrawable, "contest_not_drawable"),
        ({"status": Campaign.Status.CANCELLED}, contests.ContestNotDrawable, "contest_not_drawable"),
        ({"kind": Campaign.Kind.GIFT}, contests.NotAContest, "not_a_contest"),
    ],
)
def test_a_draw_is_refused_before_the_end_or_off_a_contest(programme, clock, fields, error, code):
    campaign = contest_make(**fields)

    with pytest.raises(error) as refused:
        contests.contest_draw(campaign=campaign)

    assert refused.value.code == code
    assert ContestDraw.objects.count() == 0
    campaign.refresh_from_db()
    assert campaign.completed_at is None


@pytest.mark.parametrize("seed", ["", "xyz", "AB" * 32, "ab" * 31, "ab" * 33])
def test_a_malformed_seed_is_refused(entered, seed):
    campaign, _customers = entered

    with pytest.raises(contests.InvalidSeed):
        contests.contest_draw(campaign=campaign, seed=seed)

    assert ContestDraw.objects.count() == 0


def test_a_contest_without_entrants_is_drawn_with_no_winners(programme, clock):
    campaign = contest_make()
    close(campaign, clock)

    draw = contests.contest_draw(campaign=campaign, seed=SEED)

    assert (draw.entrant_count, draw.ticket_count, draw.winner_ids) == (0, 0, [])
    assert draw.entrants_hash == hashlib.sha256(b"[]").hexdigest()
    assert contests.contest_draw_replay(draw).is_confirmed


def seeds(count: int) -> list[str]:
    return [hashlib.sha256(f"seed-{index}".encode()).hexdigest() for index in range(count)]


def test_a_customer_holding_all_the_tickets_always_wins():
    for seed in seeds(200):
        assert contests.contest_winners_pick(seed=seed, entrants=[(7, 12)], count=1) == [7]
        assert contests.contest_winners_pick(seed=seed, entrants=[(7, 12)], count=3) == [7]


def test_the_draw_is_weighted_by_tickets():
    wins = {1: 0, 2: 0}
    for seed in seeds(2000):
        (winner,) = contests.contest_winners_pick(seed=seed, entrants=[(1, 9), (2, 1)], count=1)
        wins[winner] += 1

    assert 1700 <= wins[1] <= 1900  # 90 % expected; 1800 +- ~7 standard deviations
    assert wins[1] + wins[2] == 2000


def test_winners_are_drawn_without_replacement_and_the_same_seed_gives_the_same_winners():
    entrants = [(customer_id, customer_id % 4 + 1) for customer_id in range(1, 31)]
    for seed in seeds(50):
        picked = contests.contest_winners_pick(seed=seed, entrants=entrants, count=5)
        assert len(picked) == len(set(picked)) == 5
        assert picked == contests.contest_winners_pick(seed=seed, entrants=list(reversed(entrants)), count=5)
        assert picked == reference_pick(seed, entrants, 5)
    everyone = contests.contest_winners_pick(seed=SEED, entrants=entrants, count=99)
    assert sorted(everyone) == list(range(1, 31))


# --- Winners -------------------------------------------------------------------------------------


@pytest.mark.urls("tests.campaigns.test_campaigns_portal")  # the portal with the campaigns pages mounted
def test_winners_are_told_through_the_outbox_with_the_prize_and_the_deadline(entered, settings):
    settings.PUBLIC_BASE_URL = "https://vv.example"
    MessageTemplate.objects.update_or_create(
        purpose=MessagePurpose.CONTEST_WINNER,
        language="en",
        channel="email",
        defaults={"subject": "You won {campaign}!", "body": "{first_name}: {prize}. Accept by {deadline}: {link}"},
    )
    campaign, _customers = entered

    draw = contests.contest_draw(campaign=campaign, seed=SEED)

    sent = Message.objects.filter(purpose=MessagePurpose.CONTEST_WINNER).select_related("customer")
    winners = {winner.customer_id: winner for winner in ContestWinner.objects.filter(draw=draw)}
    assert sorted(message.customer_id for message in sent) == sorted(draw.winner_ids)
    for message in sent:
        winner = winners[message.customer_id]
        assert message.idempotency_key == f"contest-winner:{winner.pk}"
        assert (message.is_marketing, message.status) == (False, "pending")
        assert message.subject == "You won Autumn sweepstake!"
        assert message.body.startswith(f"{message.customer.first_name}: A weekend for two in Levi. Accept by ")
        assert message.body.endswith(" Accept by 10/25/2026: https://vv.example/portal/gifts/")


def test_accepting_a_prize_grants_its_points_once_even_on_a_double_click(entered, clock):
    campaign, _customers = entered
    draw = contests.contest_draw(campaign=campaign, seed=SEED)
    winner = ContestWinner.objects.get(draw=draw, rank=1)
    clock.advance(days=2)

    first = contests.contest_winner_respond(winner=winner, accept=True)
    again = contests.contest_winner_respond(winner=winner, accept=True)

    assert (first.status, first.prize_points, first.responded_at) == ("accepted", 500, clock.now)
    assert (again.status, again.responded_at) == ("accepted", clock.now)
    grants = LedgerEntry.objects.filter(idempotency_key=f"contest-prize:{winner.pk}")
    assert list(grants.values_list("kind", "amount")) == [("gift", 500)]
    assert PointsAccount.objects.get(customer_id=winner.customer_id).balance == 500 + purchase_points(winner)


def purchase_points(winner: ContestWinner) -> int:
    return sum(Purchase.objects.filter(customer_id=winner.customer_id).values_list("points_earned", flat=True))


def test_a_declined_prize_grants_nothing_and_cannot_be_accepted_after(entered):
    campaign, _customers = entered
    draw = contests.contest_draw(campaign=campaign, seed=SEED)
    winner = ContestWinner.objects.get(draw=draw, rank=2)

    contests.contest_winner_respond(winner=winner, accept=False)
    with pytest.raises(contests.ContestWinClosed):
        contests.contest_winner_respond(winner=winner, accept=True)

    winner.refresh_from_db()
    assert (winner.status, winner.prize_points) == ("declined", 0)
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT).exists()


def test_a_prize_cannot_be_accepted_after_its_date(entered, clock):
    campaign, _customers = entered
    draw = contests.contest_draw(campaign=campaign, seed=SEED)
    winner = ContestWinner.objects.get(draw=draw, rank=1)
    clock.advance(days=14, seconds=1)

    with pytest.raises(contests.ContestWinExpired):
        contests.contest_winner_respond(winner=winner, accept=True)

    winner.refresh_from_db()
    assert (winner.status, winner.responded_at) == ("notified", None)
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT).exists()


def test_the_sweep_expires_unanswered_wins_after_their_date(entered, clock):
    campaign, _customers = entered
    draw = contests.contest_draw(campaign=campaign, seed=SEED)
    first = ContestWinner.objects.get(draw=draw, rank=1)
    contests.contest_winner_respond(winner=first, accept=True)

    clock.advance(days=14)
    assert tasks.contest_wins_expire_task() == 0  # the last day still counts
    clock.advance(seconds=1)
    assert tasks.contest_wins_expire_task() == 2
    assert tasks.contest_wins_expire_task() == 0

    assert list(ContestWinner.objects.filter(draw=draw).order_by("rank").values_list("status", flat=True)) == [
        "accepted",
        "expired",
        "expired",
    ]


# --- Admin ---------------------------------------------------------------------------------------


def test_the_draw_action_draws_each_contest_and_reports_refusals(entered, clock):
    campaign, _customers = entered
    still_open = contest_make(name="Still open", ends_at=clock.now + datetime.timedelta(days=1))
    staff = User.objects.create_user(username="staff", is_staff=True, is_superuser=True)
    request = RequestFactory().post("/admin/campaigns/campaign/")
    request.user = staff
    request.session = {}  # type: ignore[attr-defined]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]

    contest_draw_action(admin.ModelAdmin(Campaign, admin.site), request, Campaign.objects.all())

    shown = [str(message) for message in request._messages]  # type: ignore[attr-defined]
    assert shown == [
        "Autumn sweepstake: drawn from 4 entrants, 3 winners.",
        "Still open: The contest is still open for entries; draw it after it ends.",
    ]
    assert ContestDraw.objects.get().campaign == campaign
    assert ContestDraw.objects.get().drawn_by == staff
    still_open.refresh_from_db()
    assert still_open.status == "running"


def test_the_draw_admin_lists_draws_in_constant_queries_and_replays_one(
    entered, clock, admin_client, django_assert_num_queries
):
    campaign, _customers = entered
    draw = contests.contest_draw(campaign=campaign, seed=SEED)
    for index in range(3):
        other = contest_make(name=f"Past {index}", ends_at=clock.now - datetime.timedelta(minutes=1))
        contests.contest_draw(campaign=other)
    url = reverse("admin:campaigns_contestdraw_changelist")
    admin_client.get(url)

    with django_assert_num_queries(7):  # session, user, count, total count, page, date range, days
        page = admin_client.get(url)

    assert page.context["cl"].result_count == 4
    detail = admin_client.get(reverse("admin:campaigns_contestdraw_change", args=[draw.pk]))
    assert detail.status_code == 200
    html = detail.content.decode()
    assert SEED in html
    assert draw.entrants_hash in html
    assert "Confirmed: the same entrant list (by hash) gives the same winners." in html
    ContestEntry.objects.filter(campaign=campaign).update(tickets=9)
    assert (
        "Not confirmed"
        in admin_client.get(reverse("admin:campaigns_contestdraw_change", args=[draw.pk])).content.decode()
    )
    assert admin_client.post(reverse("admin:campaigns_contestdraw_delete", args=[draw.pk])).status_code == 403


def test_the_entry_admin_lists_entries_in_constant_queries(entered, admin_client, django_assert_num_queries):
    url = reverse("admin:campaigns_contestentry_changelist")
    admin_client.get(url)

    with django_assert_num_queries(6):  # session, user, count, total count, page, contests for the filter
        page = admin_client.get(url)

    assert page.context["cl"].result_count == 5


# --- Concurrency (PostgreSQL) --------------------------------------------------------------------


def run_twice(action) -> list[object]:
    barrier = threading.Barrier(2)

    def run(index: int) -> object:
        try:
            barrier.wait(timeout=10)
            return action(index)
        except Exception as error:
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(run, range(2)))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_draws_at_once_record_one(monkeypatch):
    from customers import tasks as customer_tasks

    monkeypatch.setattr(customer_tasks.message_send_task, "apply_async", lambda **kwargs: None)
    base_rate()
    campaign = contest_make(starts_at=None, ends_at=None, winners_count=2)
    for name in ("aino", "eero", "helmi"):
        contests.contest_enter_free(campaign=campaign, customer=member(f"{name}@example.fi"))

    results = run_twice(lambda _index: contests.contest_draw(campaign=campaign))

    drawn = [result for result in results if isinstance(result, ContestDraw)]
    refused = [result for result in results if isinstance(result, contests.ContestAlreadyDrawn)]
    assert (len(drawn), len(refused)) == (1, 1)
    assert ContestDraw.objects.count() == 1
    assert ContestWinner.objects.count() == 2
    assert contests.contest_draw_replay(ContestDraw.objects.get()).is_confirmed


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_accepts_at_once_grant_the_prize_once(monkeypatch):
    from customers import tasks as customer_tasks

    monkeypatch.setattr(customer_tasks.message_send_task, "apply_async", lambda **kwargs: None)
    base_rate()
    campaign = contest_make(starts_at=None, ends_at=None)
    contests.contest_enter_free(campaign=campaign, customer=member())
    draw = contests.contest_draw(campaign=campaign)
    winner = ContestWinner.objects.get(draw=draw)

    results = run_twice(lambda _index: contests.contest_winner_respond(winner=winner, accept=True))

    assert all(isinstance(result, ContestWinner) and result.status == "accepted" for result in results), results
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT).count() == 1
    assert PointsAccount.objects.get(customer_id=winner.customer_id).balance == 500


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_entries_racing_the_draw_land_before_it_or_are_refused(monkeypatch):
    """An entry being written while the contest is drawn either makes it into the draw (and its
    replay) or is refused: the replay always confirms the record."""
    from customers import tasks as customer_tasks

    monkeypatch.setattr(customer_tasks.message_send_task, "apply_async", lambda **kwargs: None)
    base_rate()
    campaign = contest_make(starts_at=None, ends_at=None, winners_count=3)
    racers = [member(f"racer{index}@example.fi") for index in range(6)]
    contests.contest_enter_free(campaign=campaign, customer=member())

    def act(index: int) -> object:
        if index == 0:
            return contests.contest_draw(campaign=campaign)
        return [contests.contest_enter_free(campaign=campaign, customer=racer) for racer in racers]

    results = run_twice(act)

    draw = ContestDraw.objects.get()
    assert isinstance(results[0], ContestDraw)
    assert draw.entrant_count == ContestEntry.objects.filter(created_at__lte=draw.drawn_at).count()
    assert contests.contest_draw_replay(draw).is_confirmed


# --- Demo ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_demo_makes_a_drawn_contest_an_open_one_and_a_choice_campaign_and_is_idempotent(settings):
    from campaigns import demo_contests
    from campaigns.models import CampaignRecipient
    from loyalty.models import Reward
    from tests.loyalty.factories import RewardFactory

    base_rate()
    User.objects.create_user(username=settings.DEMO_STAFF_EMAIL, is_staff=True)
    RewardFactory(name="5 euro off your next purchase", kind=Reward.Kind.FIXED_DISCOUNT)
    RewardFactory(name="Free shipping on a web order", kind=Reward.Kind.FREE_SHIPPING)
    shoppers = [member(f"shopper{index}@example.fi") for index in range(16)]
    for index, customer in enumerate(shoppers[:10]):
        buy(customer, f"{12 + index * 7}.00", occurred_at=timezone.now() - datetime.timedelta(days=index + 1))

    summary = demo_contests.demo_contest_load()
    counts = (
        ContestEntry.objects.count(),
        ContestDraw.objects.count(),
        ContestWinner.objects.count(),
        LedgerEntry.objects.count(),
    )
    again = demo_contests.demo_contest_load()

    finished = Campaign.objects.get(name=demo_contests.FINISHED_CONTEST)
    draw = finished.draw
    assert finished.status == "completed"
    assert set(finished.entries.values_list("source", flat=True)) == {"purchase", "portal", "free"}
    assert (draw.entrant_count, len(draw.winner_ids)) == (finished.entries.values("customer").distinct().count(), 3)
    assert list(draw.winners.order_by("rank").values_list("status", flat=True)) == ["accepted", "notified", "notified"]
    assert contests.contest_draw_replay(draw).is_confirmed
    assert contests.contest_is_open(Campaign.objects.get(name=demo_contests.OPEN_CONTEST), timezone.now())
    choice = Campaign.objects.get(name=demo_contests.CHOICE_CAMPAIGN)
    statuses = list(CampaignRecipient.objects.filter(campaign=choice).values_list("status", flat=True))
    assert (statuses.count("given"), statuses.count("awaiting_choice")) == (6, 6)
    assert choice.options.count() == 4
    assert summary == again
    assert "3 winners, seed and entrant list hash recorded" in summary
    assert (
        ContestEntry.objects.count(),
        ContestDraw.objects.count(),
        ContestWinner.objects.count(),
        LedgerEntry.objects.count(),
    ) == counts


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_click_on_enter_makes_one_entry():
    campaign = contest_make(starts_at=None, ends_at=None)
    customer = member()

    results = run_twice(lambda _index: contests.contest_enter_portal(campaign=campaign, customer=customer))

    assert all(isinstance(result, contests.ContestEntered) for result in results), results
    assert sorted(result.created for result in results) == [False, True]  # type: ignore[union-attr]
    assert {result.entry.pk for result in results} == {ContestEntry.objects.get().pk}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("description", "points", "language", "expected"),
    [
        ("A weekend in Levi", 500, "en", "A weekend in Levi"),
        ("", 1, "en", "1 bonus point"),
        ("", 500, "en", "500 bonus points"),
        ("", 0, "en", ""),
    ],
)
def test_the_prize_is_what_staff_wrote_else_the_points(description, points, language, expected):
    campaign = Campaign(name="Sweepstake", prize_description=description, prize_points=points)

    assert contests.contest_prize_text(campaign) == expected


def test_the_winners_deadline_is_in_their_own_time_zone(entered):
    campaign, customers = entered
    Customer.objects.filter(pk__in=[customer.pk for customer in customers]).update(time_zone="Pacific/Kiritimati")
    MessageTemplate.objects.update_or_create(
        purpose=MessagePurpose.CONTEST_WINNER,
        language="en",
        channel="email",
        defaults={"subject": "You won", "body": "By {deadline}"},
    )
    # Accept by 2026-10-11 10:00 UTC: 13:00 in Helsinki, but already midnight, 12 October, at UTC+14.
    Campaign.objects.filter(pk=campaign.pk).update(accept_days=0)

    contests.contest_draw(campaign=campaign, seed=SEED)

    assert set(Message.objects.filter(purpose=MessagePurpose.CONTEST_WINNER).values_list("body", flat=True)) == {
        "By 10/12/2026"
    }
