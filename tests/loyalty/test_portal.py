"""The loyalty pages of the customer portal: home panel, statement, rewards and redemption, vouchers.

Programme state is made as staff and the app make it: tiers, rules and rewards are ORM rows (then
the programme cache is cleared), points come only from ``purchase_record`` and ``points_earn``.
"""

from __future__ import annotations

import datetime
import re
import uuid
from decimal import Decimal
from unittest import mock

import pytest
from django.template.defaultfilters import date as date_filter
from django.test import Client
from django.utils import timezone

from customers.models import Customer, Partner
from customers.portal import panels
from customers.services import customer_portal_login_ensure
from loyalty import services
from loyalty.models import LedgerEntry, PendingPoints, PointsAccount, Reward, Tier, Voucher
from loyalty.program import program_cache_clear
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import RewardFactory, TierFactory, base_rate, program_set

HOME_URL = "/portal/"
HISTORY_URL = "/portal/history/"
REWARDS_URL = "/portal/rewards/"
VOUCHERS_URL = "/portal/vouchers/"
LOGIN_URL = "/portal/login/"
NONCE_PATTERN = re.compile(r'name="nonce" value="([0-9a-f-]{36})"')


def redeem_url(reward: Reward | int) -> str:
    return f"/portal/rewards/{getattr(reward, 'pk', reward)}/redeem/"


def voucher_url(code: str) -> str:
    return f"/portal/vouchers/{code}/"


def make_customer(**fields) -> Customer:
    """A customer with a portal login (signed in with ``client.force_login(customer.user)``)."""
    customer = CustomerFactory(**fields)
    customer_portal_login_ensure(customer=customer, password=None)
    customer.refresh_from_db()
    return customer


_orders = iter(range(1, 10**9))


def buy(customer: Customer, partner: Partner, amount: str) -> str:
    """Record a purchase through the service; returns its external id."""
    external_id = f"order-{next(_orders)}"
    result = services.purchase_record(
        partner=partner,
        external_id=external_id,
        customer=customer,
        amount=Decimal(amount),
        currency="EUR",
        occurred_at=timezone.now(),
    )
    assert result.created
    return external_id


def redeem(customer: Customer, reward: Reward) -> Voucher:
    return services.reward_redeem(customer=customer, reward=reward, idempotency_key=f"test:{uuid.uuid4()}").voucher


def balance(customer: Customer) -> int:
    return PointsAccount.objects.get(customer=customer).balance


def nonce_of(response) -> str:
    (nonce,) = NONCE_PATTERN.findall(response.content.decode())
    return nonce


def written_state() -> tuple[int, int, int, list[tuple[int, int]], list[tuple[int, int | None]]]:
    """Everything a redemption writes: vouchers, ledger entries, pending points, balances, stock."""
    return (
        Voucher.objects.count(),
        LedgerEntry.objects.count(),
        PendingPoints.objects.count(),
        list(PointsAccount.objects.order_by("pk").values_list("pk", "balance")),
        list(Reward.objects.order_by("pk").values_list("pk", "stock")),
    )


@pytest.fixture
def tiers(db: None) -> dict[str, Tier]:
    """Bronze from the first point, Silver at 200 and Gold at 500 points earned; 1 point per euro."""
    made = {
        "Bronze": TierFactory(name="Bronze", rank=0, threshold=Decimal(0), perks="Member prices\nBirthday treat"),
        "Silver": TierFactory(name="Silver", rank=1, threshold=Decimal(200), perks="Free delivery"),
        "Gold": TierFactory(name="Gold", rank=2, threshold=Decimal(500), perks="Free coffee every day"),
    }
    base_rate("1")
    program_cache_clear()
    return made


@pytest.fixture
def customer(tiers: dict[str, Tier]) -> Customer:
    return make_customer(email="aino@example.fi", first_name="Aino", language="en")


@pytest.fixture
def signed_in(client: Client, customer: Customer) -> Client:
    client.force_login(customer.user)
    return client


# --- Home panel ------------------------------------------------------------------------------------


def test_loyalty_registers_its_home_panel():
    registered = panels._panels["loyalty"]

    assert registered.template == "portal/loyalty/_home_panel.html"
    assert registered.order == 100


def test_home_panels_come_in_order_with_their_own_context(monkeypatch):
    monkeypatch.setattr(panels, "_panels", {})
    customer = Customer(email="aino@example.fi")
    panels.register_home_panel(key="referrals", order=300, template="r.html", context=lambda c: {"who": c.email})
    panels.register_home_panel(key="campaigns", order=200, template="c.html", context=lambda c: {"n": 2})
    panels.register_home_panel(key="loyalty", order=100, template="l.html", context=lambda c: {"n": 1})
    panels.register_home_panel(key="loyalty", order=100, template="l2.html", context=lambda c: {"n": 1})

    assert panels.home_panels(customer) == [
        ("l2.html", {"n": 1}),
        ("c.html", {"n": 2}),
        ("r.html", {"who": "aino@example.fi"}),
    ]


@pytest.mark.django_db
def test_home_shows_balance_tier_perks_and_progress_to_the_next_tier(signed_in, customer, partner):
    buy(customer, partner, "80.00")

    response = signed_in.get(HOME_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Hello, Aino!" in html
    panels = dict(response.context["panels"])
    panel = panels["portal/loyalty/_home_panel.html"]
    assert (panel["summary"].balance, panel["summary"].tier.name, panel["to_next"]) == (80, "Bronze", 120)
    assert '<dd class="stat-value">80</dd>' in html
    assert '<dd class="stat-value">Bronze</dd>' in html
    assert "<li>Member prices</li>" in html
    assert "<li>Birthday treat</li>" in html
    assert 'role="progressbar"' in html
    assert 'aria-valuenow="40"' in html
    assert 'aria-valuetext="120 points to Silver"' in html
    assert '<p class="progress-text" id="tier-progress-text">120 points to Silver</p>' in html
    for url in (HISTORY_URL, REWARDS_URL, VOUCHERS_URL):
        assert f'href="{url}"' in html
    assert "pending" not in html
    assert "expire" not in html


@pytest.mark.django_db
def test_home_progress_counts_money_when_tiers_go_by_spend(signed_in, customer, partner):
    program_set(tier_measure="spend")
    buy(customer, partner, "80.50")

    html = signed_in.get(HOME_URL).content.decode()

    assert 'aria-valuetext="119.50 EUR to Silver"' in html
    assert "Your spending in the last 12 months counts." in html


@pytest.mark.django_db
def test_home_at_the_highest_tier_shows_no_progress_bar(signed_in, customer, partner):
    buy(customer, partner, "600.00")

    html = signed_in.get(HOME_URL).content.decode()

    assert '<dd class="stat-value">Gold</dd>' in html
    assert "You have reached the highest tier." in html
    assert "<li>Free coffee every day</li>" in html
    assert 'role="progressbar"' not in html


@pytest.mark.django_db
def test_home_of_a_customer_without_points_shows_zero_and_the_way_to_the_next_tier(signed_in):
    response = signed_in.get(HOME_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<dd class="stat-value">0</dd>' in html
    assert 'aria-valuetext="200 points to Silver"' in html
    assert "No vouchers yet." in html


@pytest.mark.django_db
def test_home_shows_points_expiring_soon(signed_in, customer, partner):
    program_set(points_expiry_months=1, expiry_warning_days=45)
    buy(customer, partner, "30.00")
    expires = PointsAccount.objects.get(customer=customer).lots.get().expires_at

    html = signed_in.get(HOME_URL).content.decode()

    warning_until = date_filter(timezone.localtime(timezone.now() + datetime.timedelta(days=45)), "DATE_FORMAT")
    assert expires < timezone.now() + datetime.timedelta(days=45)
    assert f"30 points expire before {warning_until}." in html


@pytest.mark.django_db
def test_home_shows_pending_points(signed_in, customer, partner):
    program_set(pending_points_enabled=True, return_window_days=14)
    buy(customer, partner, "25.00")

    html = signed_in.get(HOME_URL).content.decode()

    assert '<dd class="stat-value">0</dd>' in html
    assert "25 points are pending" in html


@pytest.mark.django_db
def test_home_lists_the_latest_three_vouchers_with_their_codes(signed_in, customer, partner):
    buy(customer, partner, "100.00")
    reward = RewardFactory(name="Coffee", points_cost=10)
    vouchers = [redeem(customer, reward) for _ in range(4)]

    html = signed_in.get(HOME_URL).content.decode()

    for voucher in vouchers[1:]:
        assert services.voucher_code_display(voucher.code) in html
        assert f'href="{voucher_url(voucher.code)}"' in html
    assert services.voucher_code_display(vouchers[0].code) not in html
    shown = re.findall(r'<span class="code">([A-Z0-9-]{14})</span>', html)
    assert shown == [services.voucher_code_display(voucher.code) for voucher in reversed(vouchers[1:])]


# --- History ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("page", "shown_page"),
    [("", 1), ("1", 1), ("2", 2), ("3", 2), ("999", 2), ("0", 2), ("-1", 2), ("abc", 1), ("1.5", 1)],
)
def test_history_pages_by_twenty_and_a_bad_page_shows_the_first_or_last(signed_in, customer, partner, page, shown_page):
    orders = [buy(customer, partner, "10.00") for _ in range(25)]

    response = signed_in.get(HISTORY_URL, {"page": page} if page else {})

    assert response.status_code == 200
    shown = response.context["page"]
    assert shown.number == shown_page
    expected = list(reversed(orders))[(shown_page - 1) * 20 : shown_page * 20]
    assert [entry.reason for entry in shown.object_list] == [f"Purchase {order}" for order in expected]
    html = response.content.decode()
    assert html.count("<tr>") == len(expected) + 1  # the header row
    assert f"Page {shown_page} of 2" in html


@pytest.mark.django_db
def test_history_row_shows_date_kind_reason_points_and_balance_after(signed_in, customer, partner):
    order = buy(customer, partner, "120.00")
    reward = RewardFactory(name="Cinnamon bun", points_cost=45)
    redeem(customer, reward)

    html = signed_in.get(HISTORY_URL).content.decode()

    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.DOTALL)[1:]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.DOTALL) for row in rows]
    today = date_filter(timezone.localtime(), "SHORT_DATE_FORMAT")
    assert [[re.sub(r"<[^>]+>", "", cell).strip() for cell in row] for row in cells] == [
        [today, "Redeemed", "Reward: Cinnamon bun", "-45", "75"],
        [today, "Earned", f"Purchase {order}", "+120", "120"],
    ]
    assert 'class="number debit">-45<' in html
    assert 'class="number credit">+120<' in html


@pytest.mark.django_db
def test_history_shows_only_the_signed_in_customers_entries(signed_in, customer, partner):
    other = make_customer(email="bertta@example.fi")
    mine = buy(customer, partner, "10.00")
    theirs = buy(other, partner, "20.00")

    html = signed_in.get(HISTORY_URL).content.decode()

    assert f"Purchase {mine}" in html
    assert f"Purchase {theirs}" not in html


# --- Rewards ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rewards_list_only_what_the_customer_may_redeem_with_cost_and_affordability(
    signed_in, customer, partner, tiers
):
    buy(customer, partner, "80.00")  # Bronze, 80 points
    now = timezone.now()
    cheap = RewardFactory(name="Filter coffee", points_cost=50)
    dear = RewardFactory(name="Coffee beans", points_cost=100, stock=3)
    bronze = RewardFactory(name="Bronze mug", points_cost=60, min_tier=tiers["Bronze"])
    RewardFactory(name="Gold-only tasting", points_cost=10, min_tier=tiers["Gold"])
    RewardFactory(name="Retired reward", points_cost=10, is_active=False)
    RewardFactory(name="Sold out reward", points_cost=10, stock=0)
    RewardFactory(name="Future reward", points_cost=10, valid_from=now + datetime.timedelta(days=1))
    RewardFactory(name="Past reward", points_cost=10, valid_until=now - datetime.timedelta(days=1))

    response = signed_in.get(REWARDS_URL)

    assert response.status_code == 200
    assert [item["reward"] for item in response.context["catalogue"]] == [cheap, bronze, dear]
    assert [item["points_missing"] for item in response.context["catalogue"]] == [0, 0, 20]
    html = response.content.decode()
    assert "You have 80 points to spend." in html
    for name in ("Gold-only tasting", "Retired reward", "Sold out reward", "Future reward", "Past reward"):
        assert name not in html
    assert html.count("You have enough points.") == 2
    assert "You need 20 more points." in html
    for reward in (cheap, bronze, dear):
        assert f'href="{redeem_url(reward)}"' in html


# --- Redeeming -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_redeem_confirm_page_shows_the_cost_and_a_fresh_nonce(signed_in, customer, partner):
    buy(customer, partner, "80.00")
    reward = RewardFactory(name="Filter coffee", points_cost=50)

    first = signed_in.get(redeem_url(reward))
    second = signed_in.get(redeem_url(reward))

    assert first.status_code == 200
    html = first.content.decode()
    assert "Filter coffee" in html
    assert "<dd>50 points</dd>" in html
    assert "<dd>30</dd>" in html  # points after
    assert uuid.UUID(nonce_of(first)) != uuid.UUID(nonce_of(second))
    assert Voucher.objects.count() == 0


@pytest.mark.django_db
def test_redeem_post_issues_one_voucher_debits_the_points_and_shows_the_voucher(signed_in, customer, partner):
    buy(customer, partner, "80.00")
    reward = RewardFactory(name="Filter coffee", points_cost=50, stock=5)
    nonce = nonce_of(signed_in.get(redeem_url(reward)))

    response = signed_in.post(redeem_url(reward), {"nonce": nonce})

    voucher = Voucher.objects.get()
    assert response.status_code == 302
    assert response["Location"] == voucher_url(voucher.code)
    assert (voucher.customer, voucher.reward, voucher.points_spent) == (customer, reward, 50)
    assert voucher.idempotency_key == f"portal:{customer.pk}:{nonce}"
    assert balance(customer) == 30
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM, voucher=voucher).get().amount == -50
    assert Reward.objects.get(pk=reward.pk).stock == 4
    page = signed_in.get(response["Location"]).content.decode()
    assert "Your voucher for Filter coffee is ready." in page


@pytest.mark.django_db
@pytest.mark.parametrize("stock", [None, 1])
def test_submitting_the_same_confirm_page_twice_redeems_once(signed_in, customer, partner, stock):
    buy(customer, partner, "200.00")
    reward = RewardFactory(name="Filter coffee", points_cost=50, stock=stock)
    nonce = nonce_of(signed_in.get(redeem_url(reward)))

    first = signed_in.post(redeem_url(reward), {"nonce": nonce})
    second = signed_in.post(redeem_url(reward), {"nonce": nonce})

    voucher = Voucher.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == voucher_url(voucher.code)
    assert balance(customer) == 150
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM).count() == 1


@pytest.mark.django_db
def test_a_new_confirm_page_redeems_again(signed_in, customer, partner):
    buy(customer, partner, "200.00")
    reward = RewardFactory(name="Filter coffee", points_cost=50)

    for _ in range(2):
        signed_in.post(redeem_url(reward), {"nonce": nonce_of(signed_in.get(redeem_url(reward)))})

    assert Voucher.objects.filter(customer=customer).count() == 2
    assert balance(customer) == 100


@pytest.mark.django_db
def test_redeem_with_too_few_points_shows_the_error_and_writes_nothing(signed_in, customer, partner):
    buy(customer, partner, "80.00")
    reward = RewardFactory(name="Coffee beans", points_cost=100, stock=3)
    confirm = signed_in.get(redeem_url(reward))
    assert "You need 20 more points for this reward." in confirm.content.decode()
    before = written_state()

    response = signed_in.post(redeem_url(reward), {"nonce": str(uuid.uuid4())})

    assert response.status_code == 200
    assert response.context["form"].errors.as_data()["__all__"][0].code == "insufficient_points"
    assert '<div class="errors" role="alert"><p>Not enough points.</p></div>' in response.content.decode()
    assert written_state() == before
    assert balance(customer) == 80


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"stock": 0}, "out_of_stock", "This reward is out of stock."),
        ({"min_tier_rank": 2}, "not_eligible", "This reward needs a higher tier."),
        ({"is_active": False}, "reward_unavailable", "This reward is not available now."),
        ({"valid_until_days": -1}, "reward_unavailable", "This reward is not available now."),
    ],
)
def test_reward_changed_after_the_confirm_page_shows_the_refusal_and_writes_nothing(
    signed_in, customer, partner, change, code, message
):
    """The catalogue showed the reward; staff changed it before the customer pressed the button."""
    buy(customer, partner, "80.00")
    reward = RewardFactory(name="Filter coffee", points_cost=50, stock=2)
    nonce = nonce_of(signed_in.get(redeem_url(reward)))
    if "min_tier_rank" in change:
        reward.min_tier = Tier.objects.get(rank=change["min_tier_rank"])
    if "valid_until_days" in change:
        reward.valid_until = timezone.now() + datetime.timedelta(days=change["valid_until_days"])
    for field in ("stock", "is_active"):
        if field in change:
            setattr(reward, field, change[field])
    reward.save()
    before = written_state()

    # The page was built from the catalogue as it was: the service is the one to refuse.
    with mock.patch("loyalty.selectors.rewards_for_customer", return_value=Reward.objects.all()):
        response = signed_in.post(redeem_url(reward), {"nonce": nonce})

    assert response.status_code == 200
    assert response.context["form"].errors.as_data()["__all__"][0].code == code
    assert message in response.content.decode()
    assert nonce_of(response) == nonce  # nothing was written under it: the same page may try again
    assert written_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("data", [{}, {"nonce": ""}, {"nonce": "not-a-uuid"}])
def test_redeem_with_a_missing_or_altered_nonce_asks_again_and_writes_nothing(signed_in, customer, partner, data):
    buy(customer, partner, "80.00")
    reward = RewardFactory(name="Filter coffee", points_cost=50)
    before = written_state()

    response = signed_in.post(redeem_url(reward), data)

    assert response.status_code == 200
    assert "Something went wrong with the form. Please confirm again." in response.content.decode()
    uuid.UUID(nonce_of(response))
    assert written_state() == before


@pytest.mark.django_db
def test_a_nonce_used_for_another_reward_asks_again_and_writes_nothing(signed_in, customer, partner):
    buy(customer, partner, "200.00")
    coffee = RewardFactory(name="Filter coffee", points_cost=50)
    bun = RewardFactory(name="Cinnamon bun", points_cost=40)
    nonce = nonce_of(signed_in.get(redeem_url(coffee)))
    signed_in.post(redeem_url(coffee), {"nonce": nonce})
    before = written_state()

    response = signed_in.post(redeem_url(bun), {"nonce": nonce})

    assert response.status_code == 200
    assert "Please confirm again." in response.content.decode()
    assert nonce_of(response) != nonce
    assert written_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("which", ["unknown", "higher_tier", "inactive"])
def test_redeem_of_an_unknown_or_closed_reward_is_404_and_writes_nothing(
    signed_in, customer, partner, tiers, method, which
):
    buy(customer, partner, "80.00")
    rewards = {
        "unknown": 999_999,
        "higher_tier": RewardFactory(name="Gold tasting", points_cost=10, min_tier=tiers["Gold"]),
        "inactive": RewardFactory(name="Retired", points_cost=10, is_active=False),
    }
    before = written_state()

    response = getattr(signed_in, method)(redeem_url(rewards[which]), {"nonce": str(uuid.uuid4())})

    assert response.status_code == 404
    assert written_state() == before


@pytest.mark.django_db
def test_redeem_post_without_a_csrf_token_is_refused(customer, partner):
    buy(customer, partner, "80.00")
    reward = RewardFactory(name="Filter coffee", points_cost=50)
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer.user)
    nonce = nonce_of(client.get(redeem_url(reward)))
    before = written_state()

    refused = client.post(redeem_url(reward), {"nonce": nonce})

    assert refused.status_code == 403
    assert written_state() == before
    accepted = client.post(
        redeem_url(reward), {"nonce": nonce, "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    )
    assert accepted.status_code == 302
    assert Voucher.objects.filter(customer=customer).count() == 1


# --- Vouchers --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_vouchers_list_shows_code_reward_status_and_expiry(signed_in, customer, partner):
    buy(customer, partner, "100.00")
    coffee = RewardFactory(name="Filter coffee", points_cost=10, kind=Reward.Kind.FIXED_DISCOUNT, value="3.50")
    percent = RewardFactory(name="Tenth off", points_cost=10, kind=Reward.Kind.PERCENT_DISCOUNT, value="10")
    used = redeem(customer, coffee)
    services.voucher_use(code=used.code, partner=partner, order_id="till-1")
    fresh = redeem(customer, percent)
    other = make_customer(email="bertta@example.fi")
    buy(other, partner, "100.00")
    theirs = redeem(other, coffee)

    response = signed_in.get(VOUCHERS_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert [shown.voucher for shown in response.context["vouchers"]] == [fresh, used]
    assert [shown.status_label for shown in response.context["vouchers"]] == ["Issued", "Redeemed"]
    for voucher in (fresh, used):
        display = services.voucher_code_display(voucher.code)
        assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", display)
        assert f'href="{voucher_url(voucher.code)}">{display}</a>' in html
    assert "3.50 EUR off" in html
    assert "10 % off" in html
    assert date_filter(timezone.localtime(fresh.expires_at), "SHORT_DATE_FORMAT") in html
    assert services.voucher_code_display(theirs.code) not in html


@pytest.mark.django_db
def test_an_issued_voucher_past_its_expiry_shows_as_expired(signed_in, customer, partner):
    buy(customer, partner, "100.00")
    voucher = redeem(customer, RewardFactory(name="Filter coffee", points_cost=10))
    Voucher.objects.filter(pk=voucher.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))

    response = signed_in.get(voucher_url(voucher.code))

    assert response.context["shown"].status_label == "Expired"
    assert "Show this code at the checkout" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("form", ["stored", "display", "lower"])
def test_voucher_page_shows_the_code_and_its_qr_code(signed_in, customer, partner, form):
    buy(customer, partner, "100.00")
    voucher = redeem(customer, RewardFactory(name="Filter coffee", points_cost=10))
    display = services.voucher_code_display(voucher.code)
    typed = {"stored": voucher.code, "display": display, "lower": display.lower()}[form]

    response = signed_in.get(voucher_url(typed))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<div class="qr" role="img" aria-label="QR code of voucher {display}"><svg ' in html
    assert 'class="segno"' in html
    assert f">{display}</p>" in html
    assert "Filter coffee" in html
    assert "Show this code at the checkout" in html


@pytest.mark.django_db
@pytest.mark.parametrize("whose", ["another_customer", "nobody"])
def test_voucher_page_of_another_customers_or_an_unknown_code_is_404(signed_in, customer, partner, whose):
    other = make_customer(email="bertta@example.fi")
    buy(other, partner, "100.00")
    theirs = redeem(other, RewardFactory(name="Filter coffee", points_cost=10))
    code = {"another_customer": theirs.code, "nobody": "ABCDEFGHJKMN"}[whose]

    response = signed_in.get(voucher_url(code))

    assert response.status_code == 404
    assert "Filter coffee" not in response.content.decode()


# --- Access ----------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url", [HISTORY_URL, REWARDS_URL, redeem_url(1), VOUCHERS_URL, voucher_url("ABCDEFGHJKMN")])
def test_anonymous_visitors_are_sent_to_the_login_page(client, url, method):
    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next={url}"


@pytest.mark.django_db
def test_navigation_links_every_page_and_marks_the_current_one(signed_in):
    html = signed_in.get(REWARDS_URL).content.decode()

    for url in (HOME_URL, REWARDS_URL, VOUCHERS_URL, HISTORY_URL, "/portal/profile/"):
        assert f'<a href="{url}"' in html
    assert f'<a href="{REWARDS_URL}" aria-current="page">Rewards</a>' in html
    assert html.count('aria-current="page"') == 1


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fi", "ru"])
def test_pages_render_in_every_portal_language(signed_in, customer, partner, language):
    buy(customer, partner, "80.00")
    reward = RewardFactory(name="Filter coffee", points_cost=50)
    voucher = redeem(customer, reward)

    for url in (HOME_URL, HISTORY_URL, REWARDS_URL, redeem_url(reward), VOUCHERS_URL, voucher_url(voucher.code)):
        response = signed_in.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        assert response["Content-Language"] == language


# --- Query counts ----------------------------------------------------------------------------------


def fill(customer: Customer, partner: Partner, reward: Reward, *, purchases: int, vouchers: int) -> list[Voucher]:
    for _ in range(purchases):
        buy(customer, partner, "20.00")
    return [redeem(customer, reward) for _ in range(vouchers)]


# session, user, customer; then per page. Programme settings and tiers come from the cache.
QUERY_COUNTS = [
    # loyalty summary (account, tier window, expiring, pending), latest vouchers; then the referrals
    # panel (1) and the gifts panel (3)
    ("home", 3 + 4 + 1 + 1 + 3),
    ("history", 3 + 2),  # count, page
    ("rewards", 3 + 4 + 2),  # summary, then the account's tier and the catalogue
    ("redeem", 3 + 2 + 4),  # the reward as this customer may see it, the summary
    ("vouchers", 3 + 2),  # count, page
    ("voucher", 3 + 1),  # the voucher, scoped to the customer
]


@pytest.mark.django_db
@pytest.mark.parametrize(("page", "queries"), QUERY_COUNTS)
def test_portal_pages_use_a_constant_number_of_queries(
    client, django_assert_num_queries, tiers, partner, page, queries
):
    reward = RewardFactory(name="Filter coffee", points_cost=10)
    few = make_customer(email="few@example.fi", language="en")
    many = make_customer(email="many@example.fi", language="en")
    bystander = make_customer(email="bystander@example.fi", language="en")
    fill(bystander, partner, reward, purchases=3, vouchers=2)
    made = {
        few: fill(few, partner, reward, purchases=1, vouchers=1),
        many: fill(many, partner, reward, purchases=30, vouchers=25),
    }
    assert LedgerEntry.objects.filter(account__customer=many).count() == 55

    for customer, vouchers in made.items():
        url = {
            "home": HOME_URL,
            "history": HISTORY_URL,
            "rewards": REWARDS_URL,
            "redeem": redeem_url(reward),
            "vouchers": VOUCHERS_URL,
            "voucher": voucher_url(vouchers[0].code),
        }[page]
        client.force_login(customer.user)
        with django_assert_num_queries(queries):
            response = client.get(url)
        assert response.status_code == 200, (customer.email, page)
