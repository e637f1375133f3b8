"""The reciprocation effect, checked against numbers worked out by hand, and shown in the admin and
the API."""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.effect import campaign_effect, mean_uplift, rate_uplift
from campaigns.models import Campaign, CampaignRecipient, GiftKind
from customers.models import Customer, User
from loyalty.earning import Line
from loyalty.program import program_cache_clear
from tests.customers.factories import CustomerFactory, PartnerFactory
from tests.loyalty.factories import purchase_make

LAUNCH = timezone.now() - datetime.timedelta(days=100)


@pytest.fixture(autouse=True)
def _program_cache_cleared() -> Iterator[None]:
    program_cache_clear()
    yield
    program_cache_clear()


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser(username="boss", email="boss@example.fi", password="x"))
    return client


@pytest.fixture
def api_client_for(make_api_client):
    return lambda *scopes: make_api_client(list(scopes))


def test_rate_uplift_matches_the_hand_computed_interval():
    interval = rate_uplift(3, 4, 1, 4)
    assert interval is not None
    margin = 1.959963984540054 * math.sqrt(0.75 * 0.25 / 4 + 0.25 * 0.75 / 4)
    assert interval.estimate == pytest.approx(0.5)
    assert (interval.low, interval.high) == (pytest.approx(0.5 - margin), pytest.approx(0.5 + margin))
    assert margin == pytest.approx(0.600114, abs=1e-6)
    assert rate_uplift(1, 0, 1, 4) is None


def test_revenue_uplift_is_welch_with_the_normal_quantile():
    interval = mean_uplift((17.5, 225.0, 4), (2.5, 25.0, 4))
    assert interval is not None
    assert interval.estimate == pytest.approx(15.0)
    assert interval.low == pytest.approx(15 - 1.959963984540054 * math.sqrt(62.5))
    assert interval.high == pytest.approx(30.49488, abs=1e-4)


def recipients(campaign: Campaign, group: str, count: int) -> list[Customer]:
    customers = CustomerFactory.create_batch(count)
    status = "given" if group == "treated" else "held_out"
    CampaignRecipient.objects.bulk_create(
        [CampaignRecipient(campaign=campaign, customer=c, group=group, status=status) for c in customers]
    )
    return customers


def buy(customer: Customer, days_after: float, amount: str, partner, sku: str = "") -> None:
    lines = [Line(sku=sku, category="", quantity=1, unit_price=Decimal(amount))] if sku else []
    purchase_make(
        customer=customer,
        partner=partner,
        amount=amount,
        occurred_at=LAUNCH + datetime.timedelta(days=days_after),
        lines=lines,
    )


@pytest.fixture
def measured() -> Campaign:
    """4 treated (3 buy in 30 days: 10, 20+10, 30; the 4th buys at day 45) and 4 held out (1 buys 10)."""
    partner = PartnerFactory()
    campaign = Campaign.objects.create(
        name="Autumn gift",
        status="completed",
        gift_kind=GiftKind.SAMPLE,
        introduces_skus=["TEA-FULL"],
        launched_at=LAUNCH,
        spent=Decimal("20.00"),
    )
    t1, t2, t3, t4 = recipients(campaign, "treated", 4)
    h1, *_others = recipients(campaign, "holdout", 4)
    buy(t1, 1, "10", partner, sku="TEA-FULL")
    buy(t2, 2, "20", partner)
    buy(t2, 3, "10", partner)
    buy(t3, 29, "30", partner)
    buy(t4, 45, "40", partner, sku="TEA-FULL")
    buy(h1, 5, "10", partner)
    buy(t1, -1, "500", partner)  # before the launch: not counted
    return campaign


@pytest.mark.django_db
def test_the_effect_of_a_campaign_matches_the_hand_computed_case(measured, django_assert_num_queries):
    with django_assert_num_queries(4):  # the points given, then one per window (the point value is cached)
        effect = campaign_effect(measured, now=LAUNCH + datetime.timedelta(days=100))
    thirty, sixty, _ninety = effect.windows
    assert (thirty.treated.size, thirty.treated.buyers, thirty.treated.purchases) == (4, 3, 4)
    assert thirty.treated.revenue == Decimal("70.00")
    assert thirty.treated.revenue_per_customer == pytest.approx(17.5)
    assert thirty.treated.revenue_variance == pytest.approx(225.0)
    assert thirty.treated.frequency == pytest.approx(1.0)
    assert (thirty.holdout.size, thirty.holdout.buyers, thirty.holdout.revenue_variance) == (4, 1, pytest.approx(25.0))
    assert thirty.rate_uplift.estimate == pytest.approx(0.5)
    assert thirty.revenue_uplift.estimate == pytest.approx(15.0)
    assert thirty.incremental_revenue == Decimal("60.00")
    assert thirty.return_on_cost == pytest.approx(3.0)
    assert (thirty.cost, thirty.points_cost, thirty.gift_cost) == (Decimal("20.00"), Decimal("0.00"), Decimal("20.00"))
    assert (thirty.treated.sample_buyers, thirty.treated.sample_conversion) == (1, 0.25)
    assert thirty.holdout.sample_conversion == 0.0
    assert thirty.is_complete
    assert (sixty.treated.buyers, sixty.treated.sample_buyers, sixty.treated.revenue) == (4, 2, Decimal("110.00"))


@pytest.mark.django_db
def test_the_treated_group_counts_everyone_drawn_into_it_also_those_the_stock_left_out(measured):
    """Intention to treat: leaving out the treated who got no gift would bias the comparison."""
    short = CustomerFactory()
    CampaignRecipient.objects.create(campaign=measured, customer=short, group="treated", status="out_of_stock")
    buy(short, 1, "30", PartnerFactory())
    thirty = campaign_effect(measured, now=LAUNCH + datetime.timedelta(days=100)).windows[0]
    assert (thirty.treated.size, thirty.treated.buyers, thirty.treated.revenue) == (5, 4, Decimal("100.00"))
    assert thirty.holdout.size == 4


@pytest.mark.django_db
def test_the_cost_splits_into_points_at_their_value_and_gifts(measured):
    from tests.loyalty.factories import program_set

    program_set(point_value=Decimal("0.01"))
    CampaignRecipient.objects.filter(campaign=measured, group="treated").update(points=500)  # 4 x 500 points
    thirty = campaign_effect(measured, now=LAUNCH + datetime.timedelta(days=100)).windows[0]
    assert (thirty.points_cost, thirty.gift_cost) == (Decimal("20.00"), Decimal("0.00"))


@pytest.mark.django_db
def test_a_window_still_running_is_flagged_and_a_campaign_not_launched_has_no_effect(measured):
    effect = campaign_effect(measured, now=LAUNCH + datetime.timedelta(days=40))
    assert [w.is_complete for w in effect.windows] == [True, False, False]
    assert effect.windows[1].treated.buyers == 3  # day 45 has not come yet
    draft = Campaign.objects.create(name="Draft")
    assert campaign_effect(draft).windows == []


@pytest.mark.django_db
def test_the_api_serves_campaigns_and_the_effect_as_json(measured, api_client_for):
    client = api_client_for("campaigns:read")
    response = client.get("/api/v1/campaigns/")
    assert response.status_code == 200
    assert response.json()["results"][0]["name"] == "Autumn gift"
    response = client.get(f"/api/v1/campaigns/{measured.pk}/effect/")
    assert response.status_code == 200
    body = response.json()
    thirty = body["windows"][0]
    assert (thirty["days"], thirty["treated"]["buyers"], thirty["holdout"]["buyers"]) == (30, 3, 1)
    assert thirty["rate_uplift"]["estimate"] == pytest.approx(0.5)
    assert thirty["incremental_revenue"] == "60.00"
    missing = client.get("/api/v1/campaigns/999999/effect/")
    assert missing.status_code == 404
    assert missing["Content-Type"].startswith("application/problem+json")


@pytest.mark.django_db
def test_the_effect_needs_the_campaigns_scope(measured, api_client_for):
    response = api_client_for("customers:read").get(f"/api/v1/campaigns/{measured.pk}/effect/")
    assert response.status_code == 403


@pytest.mark.django_db
def test_the_admin_page_shows_treated_against_holdout_the_interval_and_the_chart(measured, admin_client):
    response = admin_client.get(reverse("admin:campaigns_campaign_change", args=[measured.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Reciprocation effect" in page
    assert "<svg" in page
    assert "15.00 (-0.49 … 30.49)" in page
    assert "60.00 EUR" in page


@pytest.mark.django_db
def test_the_admin_previews_a_draft_and_launches_it(admin_client, celery_eager, django_capture_on_commit_callbacks):
    CustomerFactory.create_batch(10)
    campaign = Campaign.objects.create(name="Welcome gift", gift_points=20, holdout_percent=Decimal("20"))
    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "Before launch" in page
    assert "Projected cost" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:campaigns_campaign_launch", args=[campaign.pk]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.status, campaign.holdout_size, campaign.allocated_count) == ("completed", 2, 8)


@pytest.mark.django_db
def test_the_admin_refuses_a_budget_smaller_than_one_gift_with_the_reason(admin_client):
    response = admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        {
            "name": "Too small",
            "kind": "gift",
            "holdout_percent": "10",
            "gift_kind": "points",
            "gift_points": "10",
            "introduces_skus": "[]",
            "currency": "EUR",
            "cost_per_gift": "5.00",
            "budget": "2.00",
            "points_multiplier": "1",
            "winners_count": "1",
            "prize_points": "0",
            "accept_days": "14",
            "options-TOTAL_FORMS": "0",
            "options-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "smaller than one gift" in response.content.decode()
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_the_calendar_shows_the_planned_days(admin_client):
    starts = timezone.now().replace(day=10, hour=9)
    Campaign.objects.create(
        name="Double points weekend",
        kind="special_day",
        status="scheduled",
        starts_at=starts,
        ends_at=starts + datetime.timedelta(days=2),
    )
    response = admin_client.get(reverse("admin:campaigns_campaign_calendar"), {"month": f"{starts:%Y-%m}"})
    assert response.status_code == 200
    assert response.content.decode().count("Double points weekend") == 3


@pytest.mark.django_db
def test_the_campaign_changelist_takes_a_constant_number_of_queries(admin_client, django_assert_max_num_queries):
    for n in range(5):
        Campaign.objects.create(name=f"Campaign {n}")
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:campaigns_campaign_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("month", ["9999-12", "1-1", "2026-13", "x"])
@pytest.mark.django_db
def test_the_calendar_falls_back_to_this_month_on_a_bad_month(admin_client, month):
    response = admin_client.get(reverse("admin:campaigns_campaign_calendar"), {"month": month})
    assert response.status_code == 200
    assert f"<strong>{timezone.localdate():%B %Y}</strong>" in response.content.decode()  # this month


@pytest.mark.django_db
def test_staff_who_may_only_view_campaigns_cannot_launch_one(client):
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user(username="viewer", email="viewer@example.fi", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client.force_login(viewer)
    campaign = Campaign.objects.create(name="Welcome gift", gift_points=20)
    response = client.post(reverse("admin:campaigns_campaign_launch", args=[campaign.pk]))
    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == "draft"


@pytest.mark.django_db
def test_a_big_campaign_links_its_recipients_instead_of_listing_them_and_its_page_still_saves(admin_client):
    from campaigns import launch
    from campaigns.models import GiftOption

    Customer.objects.bulk_create([Customer(email=f"big{n}@example.fi", first_name="B") for n in range(250)])
    campaign = Campaign.objects.create(
        name="Big gift",
        gift_kind=GiftKind.CHOICE,
        choice_deadline=timezone.now() + datetime.timedelta(days=7),
        holdout_percent=Decimal("0"),
    )
    options = [
        GiftOption.objects.create(campaign=campaign, kind="bonus_points", label="Points", points=100),
        GiftOption.objects.create(campaign=campaign, kind="cashback", label="Cashback", points=100),
    ]
    launch.campaign_launch(campaign_id=campaign.pk)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    page = admin_client.get(url).content.decode()
    assert f"campaignrecipient/?campaign__id__exact={campaign.pk}" in page
    assert 'name="recipients-TOTAL_FORMS"' not in page  # 250 choices: linked, not inlined
    assert 'name="options-TOTAL_FORMS"' in page
    response = admin_client.post(
        url,
        {
            "name": "Big gift, renamed",
            "details": "",
            "starts_at_0": "",
            "starts_at_1": "",
            "ends_at_0": "",
            "ends_at_1": "",
            "gift_description": "",
            "introduces_skus": "[]",
            "currency": "EUR",
            "portal_entry": "on",
            "prize_description": "",
            "winners_count": "1",
            "prize_points": "0",
            "accept_days": "14",
            "choice_deadline_0": f"{campaign.choice_deadline:%Y-%m-%d}",
            "choice_deadline_1": "12:00:00",
            "options-TOTAL_FORMS": "2",
            "options-INITIAL_FORMS": "2",
            "options-0-id": str(options[0].pk),
            "options-0-campaign": str(campaign.pk),
            "options-1-id": str(options[1].pk),
            "options-1-campaign": str(campaign.pk),
        },
    )
    assert response.status_code == 302
    assert Campaign.objects.get(pk=campaign.pk).name == "Big gift, renamed"
    assert GiftOption.objects.filter(campaign=campaign).count() == 2  # launched: the options stay


@pytest.mark.django_db
def test_the_recipient_list_filters_one_campaign_in_a_constant_number_of_queries(
    admin_client, django_assert_max_num_queries
):
    from campaigns import launch

    CustomerFactory.create_batch(30)
    campaign = Campaign.objects.create(name="Gift", gift_points=5, holdout_percent=Decimal("10"))
    launch.campaign_launch(campaign_id=campaign.pk)
    url = reverse("admin:campaigns_campaignrecipient_changelist")
    with django_assert_max_num_queries(12):
        response = admin_client.get(url, {"campaign__id__exact": campaign.pk, "group": "holdout"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 3
