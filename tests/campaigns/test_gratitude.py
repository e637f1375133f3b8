"""Gratitude tasks: chosen events make one personal task for staff, closed once as done or skipped."""

from __future__ import annotations

import datetime
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from campaigns import receivers, tasks
from campaigns.gratitude import (
    GratitudeStatusInvalid,
    GratitudeTaskClosed,
    gratitude_missing,
    gratitude_task_close,
    gratitude_tasks_for_purchase,
    gratitude_tasks_for_purchases,
)
from campaigns.models import GratitudeAction, GratitudeRule, GratitudeTask, ThankYouSettings
from core.events import events_muted
from customers.models import User
from tests.customers.factories import CustomerFactory, PartnerFactory
from tests.loyalty.factories import base_rate, purchase_make

CHANGELIST_URL = reverse("admin:campaigns_gratitudetask_changelist")


@pytest.fixture
def staff(db):
    base_rate()
    return User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="not-used-here")


@pytest.fixture
def admin_client_logged_in(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def partner(db):
    return PartnerFactory()


def rule_make(event: str, *, staff: User | None = None, **fields) -> GratitudeRule:
    defaults = {"action": GratitudeAction.CALL, "due_in_days": 3, "assignee": staff}
    return GratitudeRule.objects.create(name=f"Rule {event}", event=event, **{**defaults, **fields})


def purchases_make(customer, partner, count: int, amount: str = "10.00"):
    start = timezone.now() - datetime.timedelta(days=count)
    return [
        purchase_make(customer=customer, partner=partner, amount=amount, occurred_at=start + datetime.timedelta(days=i))
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("event", "fields", "amount"),
    [
        (GratitudeRule.Event.FIRST_PURCHASE, {}, "10.00"),
        (GratitudeRule.Event.NTH_PURCHASE, {"purchase_number": 1}, "10.00"),
        (GratitudeRule.Event.BIG_ORDER, {"min_amount": Decimal("100.00")}, "100.00"),
    ],
)
def test_each_rule_kind_makes_exactly_one_task(staff, partner, event, fields, amount):
    rule = rule_make(event, staff=staff, action=GratitudeAction.HANDWRITTEN_NOTE, due_in_days=5, **fields)
    customer = CustomerFactory()
    purchase = purchase_make(customer=customer, partner=partner, amount=amount)
    today = datetime.date(2026, 3, 2)

    first = gratitude_tasks_for_purchase(purchase_id=purchase.pk, today=today)
    again = gratitude_tasks_for_purchase(purchase_id=purchase.pk, today=today)

    assert [task.pk for task in again] == [task.pk for task in first]
    task = GratitudeTask.objects.get()
    assert (task.rule, task.customer, task.purchase, task.action, task.assignee, task.due_on, task.status) == (
        rule,
        customer,
        purchase,
        "handwritten_note",
        staff,
        datetime.date(2026, 3, 7),
        "open",
    )


@pytest.mark.parametrize(
    ("event", "fields", "amount"),
    [
        (GratitudeRule.Event.BIG_ORDER, {"min_amount": Decimal("100.00")}, "99.99"),
        (GratitudeRule.Event.NTH_PURCHASE, {"purchase_number": 2}, "10.00"),
    ],
)
def test_purchases_that_do_not_match_make_no_task(staff, partner, event, fields, amount):
    rule_make(event, staff=staff, **fields)
    purchase = purchase_make(customer=CustomerFactory(), partner=partner, amount=amount)

    assert gratitude_tasks_for_purchase(purchase_id=purchase.pk) == []
    assert GratitudeTask.objects.count() == 0


def test_inactive_rules_do_nothing(staff, partner):
    rule_make(GratitudeRule.Event.FIRST_PURCHASE, staff=staff, is_active=False)
    rule_make(GratitudeRule.Event.BIG_ORDER, staff=staff, min_amount=Decimal("1.00"), is_active=False)
    purchase = purchase_make(customer=CustomerFactory(), partner=partner, amount="500.00")

    assert gratitude_tasks_for_purchase(purchase_id=purchase.pk) == []
    assert GratitudeTask.objects.count() == 0


def test_an_unknown_purchase_makes_no_task(staff):
    rule_make(GratitudeRule.Event.FIRST_PURCHASE, staff=staff)

    assert gratitude_tasks_for_purchase(purchase_id=987654) == []


def test_the_nth_purchase_is_counted_by_when_it_happened(staff, partner):
    rule = rule_make(GratitudeRule.Event.NTH_PURCHASE, staff=staff, purchase_number=3)
    customer = CustomerFactory()
    other = CustomerFactory()
    purchases_make(other, partner, 4)  # another customer's purchases do not count
    purchases = purchases_make(customer, partner, 4)
    # a receipt that arrives late but happened before all the others is the customer's first
    late = purchase_make(
        customer=customer, partner=partner, amount="10.00", occurred_at=timezone.now() - datetime.timedelta(days=30)
    )

    made = {purchase.pk: len(gratitude_tasks_for_purchase(purchase_id=purchase.pk)) for purchase in [*purchases, late]}

    assert made == {purchases[0].pk: 0, purchases[1].pk: 1, purchases[2].pk: 0, purchases[3].pk: 0, late.pk: 0}
    assert list(GratitudeTask.objects.values_list("rule", "customer", "purchase")) == [
        (rule.pk, customer.pk, purchases[1].pk)
    ]


def test_one_purchase_can_match_several_rules(staff, partner):
    rule_make(GratitudeRule.Event.FIRST_PURCHASE, staff=staff, action=GratitudeAction.HANDWRITTEN_NOTE)
    rule_make(GratitudeRule.Event.BIG_ORDER, min_amount=Decimal("100.00"))
    purchase = purchase_make(customer=CustomerFactory(), partner=partner, amount="150.00")

    made = gratitude_tasks_for_purchase(purchase_id=purchase.pk)

    assert sorted((task.action, task.assignee) for task in made) == [("call", None), ("handwritten_note", staff)]


@pytest.fixture
def open_task(staff, partner):
    rule_make(GratitudeRule.Event.FIRST_PURCHASE, staff=staff)
    purchase = purchase_make(customer=CustomerFactory(), partner=partner, amount="10.00")
    return gratitude_tasks_for_purchase(purchase_id=purchase.pk)[0]


@pytest.mark.parametrize("status", ["done", "skipped"])
def test_closing_a_task_records_who_and_when(open_task, staff, status):
    before = timezone.now()

    gratitude_task_close(task=open_task, by=staff, status=status, note="Called, very happy.")

    task = GratitudeTask.objects.get()
    assert (task.status, task.done_by, task.outcome_note) == (status, staff, "Called, very happy.")
    assert before <= task.done_at <= timezone.now()


@pytest.mark.parametrize("second", ["done", "skipped"])
def test_a_task_cannot_be_closed_twice(open_task, staff, second):
    gratitude_task_close(task=open_task, by=staff, status="done", note="First.")
    colleague = User.objects.create_user(username="colleague", is_staff=True)
    stale = GratitudeTask.objects.get()
    before = GratitudeTask.objects.values().get()

    with pytest.raises(GratitudeTaskClosed) as error:
        gratitude_task_close(task=stale, by=colleague, status=second, note="Second.")

    assert error.value.code == "gratitude_task_closed"
    assert GratitudeTask.objects.values().get() == before


def test_a_task_is_closed_only_as_done_or_skipped(open_task, staff):
    with pytest.raises(GratitudeStatusInvalid):
        gratitude_task_close(task=open_task, by=staff, status="open")

    assert GratitudeTask.objects.get().status == "open"


# --- Admin ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "status"), [("mark_done", "done"), ("skip", "skipped")])
def test_the_admin_actions_close_the_selected_open_tasks(admin_client_logged_in, staff, partner, action, status):
    rule_make(GratitudeRule.Event.BIG_ORDER, staff=staff, min_amount=Decimal("1.00"))
    customers = [CustomerFactory() for _index in range(3)]
    for customer in customers:
        gratitude_tasks_for_purchase(purchase_id=purchase_make(customer=customer, partner=partner, amount="10.00").pk)
    first, second, untouched = GratitudeTask.objects.order_by("pk")
    gratitude_task_close(task=second, by=staff, status="skipped", note="Earlier.")
    second_before = GratitudeTask.objects.values().get(pk=second.pk)

    response = admin_client_logged_in.post(
        CHANGELIST_URL + "?status=all",
        {"action": action, "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert response.status_code == 200
    first.refresh_from_db()
    assert (first.status, first.done_by) == (status, staff)
    assert first.done_at is not None
    assert GratitudeTask.objects.values().get(pk=second.pk) == second_before
    assert GratitudeTask.objects.get(pk=untouched.pk).status == "open"
    texts = [str(message) for message in response.context["messages"]]
    assert texts == ["1 task closed.", "1 task was already closed and was left as it was."]


def test_the_task_list_shows_open_tasks_by_default(admin_client_logged_in, open_task, staff, partner):
    purchase = purchase_make(customer=CustomerFactory(), partner=partner, amount="10.00")
    closed = gratitude_tasks_for_purchase(purchase_id=purchase.pk)[0]
    gratitude_task_close(task=closed, by=staff, status="done")

    by_default = admin_client_logged_in.get(CHANGELIST_URL)
    everything = admin_client_logged_in.get(CHANGELIST_URL, {"status": "all"})
    done = admin_client_logged_in.get(CHANGELIST_URL, {"status": "done"})

    assert [task.pk for task in by_default.context["cl"].result_list] == [open_task.pk]
    assert sorted(task.pk for task in everything.context["cl"].result_list) == sorted([open_task.pk, closed.pk])
    assert [task.pk for task in done.context["cl"].result_list] == [closed.pk]
    customer_url = reverse("admin:customers_customer_change", args=[open_task.customer_id])
    assert f'href="{customer_url}"' in by_default.content.decode()


def test_the_task_list_filters_by_due_date(admin_client_logged_in, staff, partner):
    rule_make(GratitudeRule.Event.BIG_ORDER, staff=staff, min_amount=Decimal("1.00"))
    today = timezone.localdate()
    due = {}
    for days in (-2, 0, 5, 20):
        purchase = purchase_make(customer=CustomerFactory(), partner=partner, amount="10.00")
        task = gratitude_tasks_for_purchase(purchase_id=purchase.pk, today=today + datetime.timedelta(days=days - 3))[0]
        due[days] = task.pk

    def listed(value: str) -> list[int]:
        return [
            task.pk for task in admin_client_logged_in.get(CHANGELIST_URL, {"due": value}).context["cl"].result_list
        ]

    assert listed("overdue") == [due[-2]]
    assert listed("today") == [due[0]]
    assert listed("week") == [due[0], due[5]]


def test_the_task_change_page_keeps_the_event_read_only(admin_client_logged_in, open_task):
    response = admin_client_logged_in.get(reverse("admin:campaigns_gratitudetask_change", args=[open_task.pk]))

    assert response.status_code == 200
    form_fields = set(response.context["adminform"].form.fields)
    assert form_fields == {"assignee", "due_on", "outcome_note"}


def test_the_task_changelist_uses_a_constant_number_of_queries(
    admin_client_logged_in, staff, partner, django_assert_num_queries
):
    rule_make(GratitudeRule.Event.BIG_ORDER, staff=staff, min_amount=Decimal("1.00"))

    def add_tasks(count: int) -> None:
        for _index in range(count):
            purchase = purchase_make(customer=CustomerFactory(), partner=partner, amount="10.00")
            gratitude_tasks_for_purchase(purchase_id=purchase.pk)

    add_tasks(2)
    # session, user, staff users of the assignee filter, filtered count, full count, page of tasks
    with django_assert_num_queries(6):
        response = admin_client_logged_in.get(CHANGELIST_URL)
    assert len(response.context["cl"].result_list) == 2

    add_tasks(8)
    with django_assert_num_queries(6):
        response = admin_client_logged_in.get(CHANGELIST_URL)
    assert len(response.context["cl"].result_list) == 10


def test_the_rule_admin_lists_and_validates_rules(admin_client_logged_in, staff):
    rule_make(GratitudeRule.Event.FIRST_PURCHASE, staff=staff)

    listed = admin_client_logged_in.get(reverse("admin:campaigns_gratituderule_changelist"))
    refused = admin_client_logged_in.post(
        reverse("admin:campaigns_gratituderule_add"),
        {"name": "Tenth", "is_active": "on", "event": "nth_purchase", "action": "call", "due_in_days": "3"},
    )

    assert listed.status_code == 200
    assert refused.status_code == 200
    assert "purchase_number" in refused.context["adminform"].form.errors
    assert GratitudeRule.objects.count() == 1


# --- Wiring ----------------------------------------------------------------------------------------


def test_the_task_makes_the_tasks_and_is_safe_to_run_twice(open_task):
    assert tasks.gratitude_task_for_purchase_task(purchase_id=open_task.purchase_id) == 1
    assert tasks.gratitude_task_for_purchase_task(purchase_id=open_task.purchase_id) == 1
    assert GratitudeTask.objects.count() == 1


@pytest.fixture
def fresh_delay(db):
    cache.delete("campaigns:thank-you-delay")  # the delay is cached; another test may have read it
    yield
    cache.delete("campaigns:thank-you-delay")


def test_the_receiver_enqueues_the_thank_you_and_the_gratitude_tasks(fresh_delay, monkeypatch):
    ThankYouSettings.objects.create(pk=1, delay_minutes=10)
    calls = []
    monkeypatch.setattr(tasks.thank_you_task, "apply_async", lambda **kwargs: calls.append(("thank_you", kwargs)))
    monkeypatch.setattr(
        tasks.gratitude_task_for_purchase_task, "apply_async", lambda **kwargs: calls.append(("gratitude", kwargs))
    )

    receivers.on_purchase_recorded(purchase_id=42, customer_id=7)

    assert calls == [
        ("thank_you", {"kwargs": {"purchase_id": 42}, "countdown": 600, "retry": False}),
        ("gratitude", {"kwargs": {"purchase_id": 42}, "retry": False}),
    ]


def test_the_receiver_survives_the_gratitude_enqueue_failing(fresh_delay, monkeypatch, caplog):
    ThankYouSettings.objects.create(pk=1, delay_minutes=0)
    calls = []

    def broker_down(**kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.thank_you_task, "apply_async", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(tasks.gratitude_task_for_purchase_task, "apply_async", broker_down)

    receivers.on_purchase_recorded(purchase_id=42, customer_id=7)

    assert calls == [{"kwargs": {"purchase_id": 42}, "countdown": 0, "retry": False}]
    assert "could not enqueue" in caplog.text


def test_the_demo_adds_two_gratitude_rules_for_the_demo_staff_user_once(db, settings):
    from campaigns.demo import demo_campaigns_load

    staff = User.objects.create_user(username=settings.DEMO_STAFF_EMAIL, is_staff=True)

    demo_campaigns_load()
    demo_campaigns_load()

    rules = [
        (rule.event, rule.min_amount, rule.action, rule.assignee, rule.is_active)
        for rule in GratitudeRule.objects.order_by("event")
    ]
    assert rules == [
        ("big_order", Decimal("50.00"), "call", staff, True),
        ("first_purchase", None, "handwritten_note", staff, True),
    ]


# --- The sweep: tasks whose event was lost ---------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    from tests.loyalty.conftest import Clock

    frozen = Clock(datetime.datetime(2026, 3, 10, 10, 0, tzinfo=datetime.UTC))
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


@pytest.fixture
def sweep_rules(staff):
    return {
        "first": rule_make(
            GratitudeRule.Event.FIRST_PURCHASE, staff=staff, action=GratitudeAction.HANDWRITTEN_NOTE, due_in_days=3
        ),
        "big": rule_make(GratitudeRule.Event.BIG_ORDER, min_amount=Decimal("100.00"), due_in_days=2),
        "third": rule_make(
            GratitudeRule.Event.NTH_PURCHASE, staff=staff, purchase_number=3, action=GratitudeAction.GIFT_IN_PERSON
        ),
        "off": rule_make(GratitudeRule.Event.BIG_ORDER, min_amount=Decimal("1.00"), is_active=False),
    }


def tasks_made() -> set[tuple[str, int]]:
    return set(GratitudeTask.objects.values_list("rule__name", "purchase_id"))


@pytest.fixture
def lost_and_found(sweep_rules, partner, clock):
    """Purchases recorded with their events lost, but one whose event made its tasks, one that
    matches no rule, one older than the sweep looks, and (after the clock moves on) one too fresh
    for it."""
    aino, ben, old = CustomerFactory(), CustomerFactory(), CustomerFactory()
    stale = purchase_make(customer=old, partner=partner, amount="20.00")  # first purchase, 3 days ago
    clock.advance(days=3)
    first = purchase_make(customer=aino, partner=partner, amount="20.00")
    clock.advance(hours=1)
    handled = purchase_make(customer=ben, partner=partner, amount="150.00")
    gratitude_tasks_for_purchase(purchase_id=handled.pk)  # its event arrived
    second = purchase_make(customer=aino, partner=partner, amount="10.00")  # no rule for it
    clock.advance(hours=1)
    third = purchase_make(customer=aino, partner=partner, amount="120.00")  # third and big
    clock.advance(minutes=10)
    fresh = purchase_make(customer=CustomerFactory(), partner=partner, amount="20.00")  # its event may be on the way
    return {"stale": stale, "first": first, "handled": handled, "second": second, "third": third, "fresh": fresh}


def test_the_sweep_finds_exactly_the_purchases_missing_a_task(lost_and_found):
    purchases = lost_and_found

    assert gratitude_missing() == [purchases["first"].pk, purchases["third"].pk]
    assert gratitude_missing(now=timezone.now() + datetime.timedelta(minutes=5)) == [
        purchases["first"].pk,
        purchases["third"].pk,
        purchases["fresh"].pk,
    ]


def test_the_sweep_leaves_history_recorded_now_alone(sweep_rules, partner, clock):
    """A year-old purchase loaded today (demo data, an import) with its events muted is history,
    not a lost event."""
    with events_muted():
        purchase_make(
            customer=CustomerFactory(),
            partner=partner,
            amount="500.00",
            occurred_at=clock.now - datetime.timedelta(days=300),
        )
    clock.advance(minutes=5)

    assert gratitude_missing() == []


def test_the_sweep_finds_nothing_without_an_active_rule(lost_and_found):
    GratitudeRule.objects.update(is_active=False)

    assert gratitude_missing() == []
    assert tasks.gratitude_sweep_task() == 0


def test_the_sweep_task_makes_each_missing_task_once_in_batches(lost_and_found, sweep_rules, staff, monkeypatch):
    purchases = lost_and_found
    batches = []

    def run_now(*, purchase_ids):
        batches.append(purchase_ids)
        return tasks.gratitude_batch_task(purchase_ids=purchase_ids)

    monkeypatch.setattr(tasks, "BATCH_SIZE", 1)
    monkeypatch.setattr(tasks.gratitude_batch_task, "delay", run_now)
    before = tasks_made()

    assert tasks.gratitude_sweep_task() == 2
    assert tasks.gratitude_sweep_task() == 0

    assert batches == [[purchases["first"].pk], [purchases["third"].pk]]
    assert tasks_made() - before == {
        ("Rule first_purchase", purchases["first"].pk),
        ("Rule nth_purchase", purchases["third"].pk),
        ("Rule big_order", purchases["third"].pk),
    }
    today = timezone.localdate()
    made = {
        (task.rule_id, task.purchase_id): (task.customer_id, task.action, task.assignee, task.due_on, task.status)
        for task in GratitudeTask.objects.exclude(purchase=purchases["handled"])
    }
    assert made == {
        (sweep_rules["first"].pk, purchases["first"].pk): (
            purchases["first"].customer_id,
            "handwritten_note",
            staff,
            today + datetime.timedelta(days=3),
            "open",
        ),
        (sweep_rules["third"].pk, purchases["third"].pk): (
            purchases["third"].customer_id,
            "gift_in_person",
            staff,
            today + datetime.timedelta(days=3),
            "open",
        ),
        (sweep_rules["big"].pk, purchases["third"].pk): (
            purchases["third"].customer_id,
            "call",
            None,
            today + datetime.timedelta(days=2),
            "open",
        ),
    }


def test_the_late_event_finds_the_tasks_the_sweep_made(lost_and_found):
    purchase = lost_and_found["third"]
    assert gratitude_tasks_for_purchases(purchase_ids=[purchase.pk]) == 2
    made = set(GratitudeTask.objects.filter(purchase=purchase).values_list("pk", flat=True))

    late = gratitude_tasks_for_purchase(purchase_id=purchase.pk)

    assert {task.pk for task in late} == made
    assert gratitude_tasks_for_purchases(purchase_ids=[purchase.pk]) == 0
    assert GratitudeTask.objects.filter(purchase=purchase).count() == 2


@pytest.mark.parametrize(
    ("event", "fields", "amounts"),
    [
        (GratitudeRule.Event.FIRST_PURCHASE, {}, ["10.00", "10.00"]),
        (GratitudeRule.Event.NTH_PURCHASE, {"purchase_number": 2}, ["10.00", "10.00", "10.00"]),
        (GratitudeRule.Event.BIG_ORDER, {"min_amount": Decimal("100.00")}, ["99.99", "100.00", "250.00"]),
    ],
)
def test_the_sweep_matches_what_the_event_matches(staff, partner, event, fields, amounts):
    rule_make(event, staff=staff, **fields)
    customer = CustomerFactory()
    start = timezone.now() - datetime.timedelta(hours=5)
    purchases = [
        purchase_make(
            customer=customer, partner=partner, amount=amount, occurred_at=start + datetime.timedelta(hours=i)
        )
        for i, amount in enumerate(amounts)
    ]
    ids = [purchase.pk for purchase in purchases]
    later = timezone.now() + datetime.timedelta(minutes=5)

    found = gratitude_missing(now=later)
    by_event = {pk for pk in ids if gratitude_tasks_for_purchase(purchase_id=pk)}
    GratitudeTask.objects.all().delete()
    gratitude_tasks_for_purchases(purchase_ids=ids)

    assert set(found) == by_event
    assert set(GratitudeTask.objects.values_list("purchase_id", flat=True)) == by_event
    assert by_event  # every case matches something


def test_the_sweep_runs_in_a_constant_number_of_queries(
    sweep_rules, partner, clock, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(tasks.gratitude_batch_task, "delay", tasks.gratitude_batch_task)  # run at once

    def lose_events(count: int) -> None:
        for _index in range(count):
            purchase_make(customer=CustomerFactory(), partner=partner, amount="150.00")
        clock.advance(minutes=5)

    lose_events(2)
    # rules, purchases missing a task; then the batch: savepoint, rules, purchases, insert, release
    with django_assert_num_queries(7):
        assert tasks.gratitude_sweep_task() == 2
    assert GratitudeTask.objects.count() == 4

    lose_events(9)
    with django_assert_num_queries(7):
        assert tasks.gratitude_sweep_task() == 9
    assert GratitudeTask.objects.count() == 22


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_and_the_event_at_once_make_each_task_once(partner):
    base_rate()
    rule_make(GratitudeRule.Event.FIRST_PURCHASE)
    rule_make(GratitudeRule.Event.BIG_ORDER, min_amount=Decimal("100.00"))
    with events_muted():  # the events are lost; the threads below play the event's task and two sweeps
        ids = [purchase_make(customer=CustomerFactory(), partner=partner, amount="150.00").pk for _index in range(20)]
    barrier = threading.Barrier(3)

    def run(which: int) -> None:
        try:
            barrier.wait(timeout=10)
            if which == 0:
                for purchase_id in ids:
                    gratitude_tasks_for_purchase(purchase_id=purchase_id)
            else:
                gratitude_tasks_for_purchases(purchase_ids=ids)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(run, range(3)))

    assert GratitudeTask.objects.count() == 40
    assert set(GratitudeTask.objects.values_list("purchase_id", flat=True)) == set(ids)
    assert gratitude_missing(now=timezone.now() + datetime.timedelta(minutes=5)) == []
