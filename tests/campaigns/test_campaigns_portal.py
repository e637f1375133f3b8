"""The customer's "My gifts" pages: gifts received, gifts to choose (radio cards, the deadline),
contests open (enter, free entry) and entered (tickets, the result, accept or decline), and the
home panel. Reads are scoped to the signed-in customer: another customer's ids are a 404.

This module is also the URL conf of its tests: the project's, with the campaigns portal mounted
under /portal/ when the project does not mount it yet."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import include, path
from django.utils import timezone

from campaigns import choices, contests
from campaigns.admin_contests import ContestEntryInline, GiftChoiceRecipientInline, contest_draw_action
from campaigns.models import Campaign, CampaignRecipient, ContestEntry, ContestWinner, GiftKind, GiftOption
from campaigns.portal import panels as campaign_panels
from config import urls as project_urls
from customers.models import Customer, Segment, SegmentMember
from customers.portal import panels
from customers.services import customer_portal_login_ensure, customer_register
from loyalty.models import LedgerEntry, Reward
from loyalty.program import program_cache_clear
from tests.customers.factories import PartnerFactory
from tests.loyalty.factories import RewardFactory, base_rate, purchase_make


class CampaignWithContestsAdmin(admin.ModelAdmin):
    """The campaign admin as ``campaigns.admin`` wires the contest pieces in (on a test site)."""

    inlines = [ContestEntryInline, GiftChoiceRecipientInline]
    actions = [contest_draw_action]
    # Django's own pages: the project's overrides for campaigns link to its campaign admin's views.
    change_list_template = "admin/change_list.html"
    change_form_template = "admin/change_form.html"


contests_admin_site = admin.AdminSite(name="contests_admin")
contests_admin_site.register(Campaign, CampaignWithContestsAdmin)

_mounted = any(getattr(pattern, "namespace", None) == "campaigns-portal" for pattern in project_urls.urlpatterns)
urlpatterns = [
    *([] if _mounted else [path("portal/", include("campaigns.portal.urls"))]),
    path("contests-admin/", contests_admin_site.urls),
    *project_urls.urlpatterns,
]
pytestmark = pytest.mark.urls(__name__)

GIFTS_URL = "/portal/gifts/"
HOME_URL = "/portal/"
SEED = "c0ffee" * 10 + "c0ff"


def choose_url(recipient: CampaignRecipient | int) -> str:
    return f"/portal/gifts/{getattr(recipient, 'pk', recipient)}/choose/"


def enter_url(campaign: Campaign) -> str:
    return f"/portal/contests/{campaign.pk}/enter/"


def free_entry_url(campaign: Campaign) -> str:
    return f"/portal/contests/{campaign.pk}/free-entry/"


def respond_url(winner: ContestWinner | int) -> str:
    return f"/portal/contests/wins/{getattr(winner, 'pk', winner)}/"


@pytest.fixture(autouse=True)
def _program_cache_cleared() -> Iterator[None]:
    program_cache_clear()
    yield
    program_cache_clear()


@pytest.fixture(autouse=True)
def _campaigns_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    """The home panel, registered for these tests only (the app registers it in ``ready()``)."""
    monkeypatch.setattr(panels, "_panels", dict(panels._panels))
    campaign_panels.portal_panels_register()


def make_customer(email: str, **profile: object) -> Customer:
    name = email.split("@", maxsplit=1)[0].title()
    customer = customer_register(email=email, first_name=name, language="en", **profile).customer  # type: ignore[arg-type]
    customer_portal_login_ensure(customer=customer)
    customer.refresh_from_db()
    return customer


def choice_campaign_make(name: str, *, deadline: datetime.datetime | None = None) -> Campaign:
    campaign = Campaign.objects.create(
        name=name,
        gift_kind=GiftKind.CHOICE,
        status=Campaign.Status.RUNNING,
        holdout_percent=Decimal(0),
        choice_deadline=deadline or timezone.now() + datetime.timedelta(days=7),
    )
    reward = RewardFactory(name=f"5 EUR off ({name})", kind=Reward.Kind.FIXED_DISCOUNT, points_cost=0)
    GiftOption.objects.create(campaign=campaign, kind="discount", label="5 EUR off", reward=reward)
    GiftOption.objects.create(campaign=campaign, kind="bonus_points", label="250 bonus points", points=250)
    GiftOption.objects.create(campaign=campaign, kind="cashback", label="Cashback as 200 points", points=200)
    return campaign


def awaiting(campaign: Campaign, customer: Customer) -> CampaignRecipient:
    return CampaignRecipient.objects.create(
        campaign=campaign,
        customer=customer,
        group=CampaignRecipient.Group.TREATED,
        status=CampaignRecipient.Status.AWAITING_CHOICE,
    )


def contest_make(name: str, **fields: object) -> Campaign:
    now = timezone.now()
    defaults: dict[str, object] = {
        "name": name,
        "kind": Campaign.Kind.CONTEST,
        "status": Campaign.Status.RUNNING,
        "starts_at": now - datetime.timedelta(days=1),
        "ends_at": now + datetime.timedelta(days=7),
        "entry_spend_unit": Decimal("10.00"),
        "prize_description": "A weekend in Levi",
        "prize_points": 300,
        "winners_count": 1,
    }
    defaults.update(fields)
    return Campaign.objects.create(**defaults)


def drawn_contest(name: str, winner: Customer) -> ContestWinner | None:
    """A contest that only ``winner`` entered, drawn: they win it."""
    campaign = contest_make(name, starts_at=None, ends_at=None)
    contests.contest_enter_free(campaign=campaign, customer=winner)
    draw = contests.contest_draw(campaign=campaign, seed=SEED)
    return ContestWinner.objects.filter(draw=draw, customer=winner).first()


@pytest.fixture
def aino(db: None) -> Customer:
    base_rate()
    return make_customer("aino@example.fi")


@pytest.fixture
def signed_in(client: Client, aino: Customer) -> Client:
    client.force_login(aino.user)
    return client


def html_of(response) -> str:
    return response.content.decode()


# --- My gifts ------------------------------------------------------------------------------------


def test_my_gifts_shows_choices_contests_and_gifts_received(signed_in, aino):
    waiting = awaiting(choice_campaign_make("Thank you for a great year"), aino)
    given = awaiting(choice_campaign_make("Summer thanks"), aino)
    choices.gift_choose(recipient=given, option=given.campaign.options.get(kind="bonus_points"), by_customer=True)
    open_contest = contest_make("Winter sweepstake")
    entered = contest_make("Spring sweepstake")
    contests.contest_enter_portal(campaign=entered, customer=aino)
    win = drawn_contest("Autumn sweepstake", aino)
    assert win is not None

    response = signed_in.get(GIFTS_URL)

    assert response.status_code == 200
    html = html_of(response)
    assert f'action="{choose_url(waiting)}"' in html
    assert html.count('type="radio" name="option"') == 3
    assert 'value="{}" required checked'.format(waiting.campaign.options.get(kind="bonus_points").pk) in html
    assert "Choose by " in html
    assert f'action="{enter_url(open_contest)}"' in html
    assert f'href="{free_entry_url(open_contest)}"' in html
    assert f'action="{enter_url(entered)}"' not in html  # entered already
    assert "Entered" in html
    assert f'action="{respond_url(win)}"' in html
    assert 'name="answer" value="accept"' in html
    assert "250 bonus points" in html  # received
    assert "Summer thanks" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_my_gifts_shows_nothing_of_other_customers(signed_in, aino):
    eero = make_customer("eero@example.fi")
    theirs = awaiting(choice_campaign_make("Eero's thanks"), eero)
    win = drawn_contest("Eero's sweepstake", eero)
    assert win is not None

    html = html_of(signed_in.get(GIFTS_URL))

    assert choose_url(theirs) not in html
    assert respond_url(win) not in html
    assert "Eero's sweepstake" not in html
    assert "No gifts waiting for your choice right now." in html
    assert "You have not entered any contests yet." in html


# --- Choosing ------------------------------------------------------------------------------------


def test_choosing_a_gift_grants_it_and_records_the_preference(signed_in, aino):
    recipient = awaiting(choice_campaign_make("Thank you"), aino)
    cashback = recipient.campaign.options.get(kind="cashback")

    page = signed_in.get(choose_url(recipient))
    response = signed_in.post(choose_url(recipient), {"option": cashback.pk})
    again = signed_in.post(choose_url(recipient), {"option": cashback.pk}, follow=True)

    assert page.status_code == 200
    assert html_of(page).count('type="radio" name="option"') == 3
    assert (response.status_code, response["Location"]) == (302, GIFTS_URL)
    recipient.refresh_from_db()
    assert (recipient.status, recipient.option_id, recipient.chosen_by_customer, recipient.points) == (
        "given",
        cashback.pk,
        True,
        200,
    )
    assert LedgerEntry.objects.filter(kind="gift").count() == 1
    assert Customer.objects.get(pk=aino.pk).preferred_reward_kind == "bonus_points"
    assert "Thank you! Your gift: Cashback as 200 points." in html_of(again)


def test_a_choice_after_the_deadline_is_a_form_error_and_writes_nothing(signed_in, aino):
    campaign = choice_campaign_make("Late", deadline=timezone.now() - datetime.timedelta(minutes=1))
    recipient = awaiting(campaign, aino)

    response = signed_in.post(choose_url(recipient), {"option": campaign.options.get(kind="discount").pk})

    assert response.status_code == 200
    assert "The time to choose has passed" in html_of(response)
    recipient.refresh_from_db()
    assert recipient.status == "awaiting_choice"
    assert LedgerEntry.objects.count() == 0


@pytest.mark.parametrize("posted", [{}, {"option": "x"}, {"option": "999999"}])
def test_a_choice_of_no_offered_option_is_a_form_error(signed_in, aino, posted):
    recipient = awaiting(choice_campaign_make("Thank you"), aino)
    other = choice_campaign_make("Other")
    data = posted or {}
    if posted.get("option") == "999999":
        data = {"option": other.options.get(kind="discount").pk}

    response = signed_in.post(choose_url(recipient), data)

    assert response.status_code == 200
    assert 'role="alert"' in html_of(response)
    assert CampaignRecipient.objects.get(pk=recipient.pk).status == "awaiting_choice"


def test_a_chosen_gift_page_sends_back_to_my_gifts(signed_in, aino):
    recipient = awaiting(choice_campaign_make("Thank you"), aino)
    choices.gift_choose(recipient=recipient, option=recipient.campaign.options.first(), by_customer=True)

    response = signed_in.get(choose_url(recipient))

    assert (response.status_code, response["Location"]) == (302, GIFTS_URL)


def test_another_customers_gift_is_a_404(signed_in):
    eero = make_customer("eero@example.fi")
    theirs = awaiting(choice_campaign_make("Eero's thanks"), eero)
    option = theirs.campaign.options.first()

    assert signed_in.get(choose_url(theirs)).status_code == 404
    assert signed_in.post(choose_url(theirs), {"option": option.pk}).status_code == 404
    assert signed_in.get(choose_url(987654)).status_code == 404
    assert CampaignRecipient.objects.get(pk=theirs.pk).status == "awaiting_choice"


# --- Contests ------------------------------------------------------------------------------------


def test_entering_from_the_portal_counts_once(signed_in, aino):
    campaign = contest_make("Winter sweepstake")

    first = signed_in.post(enter_url(campaign), follow=True)
    signed_in.post(enter_url(campaign))

    assert "You are in the draw for Winter sweepstake. Good luck!" in html_of(first)
    assert list(ContestEntry.objects.values_list("customer", "source", "tickets")) == [(aino.pk, "portal", 1)]
    assert signed_in.get(enter_url(campaign)).status_code == 405


def test_a_contest_for_another_audience_refuses_the_portal_entry_but_not_the_free_one(signed_in, aino):
    segment = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    SegmentMember.objects.create(segment=segment, customer=make_customer("vip@example.fi"))
    campaign = contest_make("VIP sweepstake", segment=segment)

    refused = signed_in.post(enter_url(campaign), follow=True)
    page = signed_in.get(free_entry_url(campaign))
    entered = signed_in.post(free_entry_url(campaign), follow=True)

    assert "This contest is for another audience." in html_of(refused)
    assert "No purchase necessary" in html_of(page)
    assert "Your free entry is in the draw. Good luck!" in html_of(entered)
    assert list(ContestEntry.objects.values_list("customer", "source")) == [(aino.pk, "free")]
    gifts = html_of(signed_in.get(GIFTS_URL))
    assert f'action="{enter_url(campaign)}"' not in gifts
    assert "Free entry used" in gifts


@pytest.mark.parametrize("status", [Campaign.Status.DRAFT, Campaign.Status.CANCELLED, Campaign.Status.SCHEDULED])
def test_a_contest_that_is_not_public_is_a_404(signed_in, status):
    campaign = contest_make("Secret", status=status)
    gift = Campaign.objects.create(name="A gift campaign", status=Campaign.Status.RUNNING)

    for url in (enter_url(campaign), free_entry_url(campaign), enter_url(gift), free_entry_url(gift)):
        assert signed_in.post(url).status_code == 404, url
    assert signed_in.get(free_entry_url(campaign)).status_code == 404
    assert ContestEntry.objects.count() == 0


def test_a_closed_contest_shows_it_is_closed(signed_in, aino):
    campaign = contest_make("Closed", ends_at=timezone.now() - datetime.timedelta(minutes=1))
    Campaign.objects.filter(pk=campaign.pk).update(starts_at=timezone.now() - datetime.timedelta(days=3))

    page = signed_in.get(free_entry_url(campaign))
    posted = signed_in.post(free_entry_url(campaign), follow=True)

    assert "This contest is closed for entries." in html_of(page)
    assert "This contest is not open for entries." in html_of(posted)
    assert ContestEntry.objects.count() == 0


def test_the_winner_accepts_once_and_gets_the_prize_points(signed_in, aino):
    win = drawn_contest("Autumn sweepstake", aino)
    assert win is not None

    accepted = signed_in.post(respond_url(win), {"answer": "accept"}, follow=True)
    signed_in.post(respond_url(win), {"answer": "accept"})

    assert "Congratulations! Your prize is confirmed." in html_of(accepted)
    assert "You won: prize accepted" in html_of(accepted)
    assert list(LedgerEntry.objects.filter(kind="gift").values_list("amount", flat=True)) == [300]
    win.refresh_from_db()
    assert win.status == "accepted"


def test_the_winner_may_decline(signed_in, aino):
    win = drawn_contest("Autumn sweepstake", aino)
    assert win is not None

    declined = signed_in.post(respond_url(win), {"answer": "decline"}, follow=True)
    refused = signed_in.post(respond_url(win), {"answer": "accept"}, follow=True)

    assert "You have declined the prize." in html_of(declined)
    assert "This prize has already been answered for." in html_of(refused)
    assert LedgerEntry.objects.filter(kind="gift").count() == 0


@pytest.mark.parametrize("answer", ["", "maybe"])
def test_an_answer_that_is_neither_is_refused(signed_in, aino, answer):
    win = drawn_contest("Autumn sweepstake", aino)
    assert win is not None

    response = signed_in.post(respond_url(win), {"answer": answer}, follow=True)

    assert "Choose to accept or decline the prize." in html_of(response)
    win.refresh_from_db()
    assert win.status == "notified"


def test_another_customers_win_is_a_404(signed_in):
    eero = make_customer("eero@example.fi")
    win = drawn_contest("Eero's sweepstake", eero)
    assert win is not None

    assert signed_in.post(respond_url(win), {"answer": "accept"}).status_code == 404
    assert signed_in.post(respond_url(987654), {"answer": "accept"}).status_code == 404
    win.refresh_from_db()
    assert win.status == "notified"
    assert LedgerEntry.objects.count() == 0


# --- CSRF, languages, login ----------------------------------------------------------------------


def test_posts_without_a_csrf_token_are_refused(aino):
    client = Client(enforce_csrf_checks=True)
    client.force_login(aino.user)
    recipient = awaiting(choice_campaign_make("Thank you"), aino)
    campaign = contest_make("Winter sweepstake")
    option = recipient.campaign.options.first()

    assert client.post(choose_url(recipient), {"option": option.pk}).status_code == 403
    assert client.post(enter_url(campaign)).status_code == 403
    assert client.post(free_entry_url(campaign)).status_code == 403
    assert CampaignRecipient.objects.get(pk=recipient.pk).status == "awaiting_choice"
    assert ContestEntry.objects.count() == 0

    client.get(GIFTS_URL)
    token = client.cookies["csrftoken"].value
    assert client.post(choose_url(recipient), {"option": option.pk, "csrfmiddlewaretoken": token}).status_code == 302


def test_the_pages_need_a_signed_in_customer(client, aino):
    campaign = contest_make("Winter sweepstake")
    for url in (GIFTS_URL, free_entry_url(campaign)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/login/")


@pytest.mark.parametrize("language", ["fi", "ru"])
def test_the_pages_render_in_every_portal_language(signed_in, aino, language):
    recipient = awaiting(choice_campaign_make("Thank you"), aino)
    campaign = contest_make("Winter sweepstake")

    for url in (GIFTS_URL, choose_url(recipient), free_entry_url(campaign), HOME_URL):
        response = signed_in.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        assert response["Content-Language"] == language


# --- Home panel ----------------------------------------------------------------------------------


def test_the_home_panel_counts_choices_contests_and_wins(signed_in, aino, django_assert_num_queries):
    awaiting(choice_campaign_make("Thank you"), aino)
    awaiting(choice_campaign_make("Late", deadline=timezone.now() - datetime.timedelta(days=1)), aino)
    contest_make("Winter sweepstake")
    contest_make("Spring sweepstake")
    assert drawn_contest("Autumn sweepstake", aino) is not None

    with django_assert_num_queries(3):
        context = campaign_panels.home_panel_context(aino)

    assert context == {"awaiting": 1, "contests": 2, "wins": 1}
    html = html_of(signed_in.get(HOME_URL))
    assert "You won a contest! Accept your prize in time." in html
    assert "A gift is waiting for your choice." in html
    assert "2 contests are open: enter for a chance to win." in html
    assert f'href="{GIFTS_URL}"' in html


# --- Query counts --------------------------------------------------------------------------------


def fill(customer: Customer, count: int) -> None:
    """``count`` of everything the page lists, for one customer."""
    partner = PartnerFactory(name="Kahvila")
    for index in range(count):
        awaiting(choice_campaign_make(f"{customer.email} choice {index}"), customer)
        given = awaiting(choice_campaign_make(f"{customer.email} given {index}"), customer)
        choices.gift_choose(recipient=given, option=given.campaign.options.get(kind="discount"), by_customer=True)
        campaign = contest_make(f"{customer.email} contest {index}")
        purchase = purchase_make(customer=customer, partner=partner, amount="25.00")
        contests.contest_entries_for_purchase(purchase_id=purchase.pk)
        contests.contest_enter_portal(campaign=campaign, customer=customer)
        drawn_contest(f"{customer.email} drawn {index}", customer)


@pytest.mark.django_db
def test_my_gifts_uses_a_constant_number_of_queries(client, django_assert_num_queries):
    base_rate()
    few, many = make_customer("few@example.fi"), make_customer("many@example.fi")
    fill(few, 1)
    fill(many, 6)
    assert ContestEntry.objects.filter(customer=many).count() > 6

    for customer in (few, many):
        client.force_login(customer.user)
        # session, user, customer; awaiting choices and their options; open contests; entered
        # contests and their wins; gifts received
        with django_assert_num_queries(3 + 2 + 1 + 2 + 1):
            response = client.get(GIFTS_URL)
        assert response.status_code == 200
        assert len(response.context["awaiting"]) == (1 if customer == few else 6)


@pytest.mark.django_db
def test_the_choice_and_free_entry_pages_use_a_constant_number_of_queries(client, django_assert_num_queries):
    base_rate()
    customer = make_customer("aino@example.fi")
    fill(customer, 3)
    recipient = CampaignRecipient.objects.filter(customer=customer, status="awaiting_choice").first()
    campaign = Campaign.objects.filter(kind="contest", status="running").first()
    assert recipient is not None
    assert campaign is not None
    client.force_login(customer.user)

    with django_assert_num_queries(3 + 2):  # session, user, customer; the gift, its options
        assert client.get(choose_url(recipient)).status_code == 200
    with django_assert_num_queries(3 + 2):  # session, user, customer; the contest, as this customer sees it
        assert client.get(free_entry_url(campaign)).status_code == 200


# --- The admin pieces, wired into a campaign admin -------------------------------------------------


@pytest.mark.django_db
def test_the_campaign_admin_shows_entries_and_choices_and_draws_contests(admin_client):
    base_rate()
    aino, eero = make_customer("aino@example.fi"), make_customer("eero@example.fi")
    campaign = contest_make("Winter sweepstake", starts_at=None, ends_at=None, winners_count=2)
    contests.contest_enter_portal(campaign=campaign, customer=aino)
    contests.contest_enter_free(campaign=campaign, customer=eero)
    choice = choice_campaign_make("Thank you")
    recipient = awaiting(choice, aino)
    choices.gift_choose(recipient=recipient, option=choice.options.get(kind="bonus_points"), by_customer=True)

    contest_page = admin_client.get(f"/contests-admin/campaigns/campaign/{campaign.pk}/change/")
    choice_page = admin_client.get(f"/contests-admin/campaigns/campaign/{choice.pk}/change/")
    drawn = admin_client.post(
        "/contests-admin/campaigns/campaign/",
        {"action": "contest_draw_action", "_selected_action": [campaign.pk, choice.pk]},
        follow=True,
    )

    assert contest_page.status_code == choice_page.status_code == 200
    assert ">portal<" in contest_page.content.decode()
    assert ">free<" in contest_page.content.decode()
    assert "250 bonus points" in choice_page.content.decode()
    html = drawn.content.decode()
    assert "Winter sweepstake: drawn from 2 entrants, 2 winners." in html
    assert "Thank you: This campaign is not a contest." in html
    assert sorted(campaign.draw.winner_ids) == sorted([aino.pk, eero.pk])
