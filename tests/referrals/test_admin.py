"""The referrals admin: the lists (constant queries), the review queue with approve and reject (a
reason asked for and recorded, the services doing the work), the funnel and top referrers, and the
programme settings as a single row."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import User
from loyalty.models import LedgerEntry
from referrals import services
from referrals.models import Referral, ReferralLinkOpen
from tests.customers.factories import PartnerFactory
from tests.loyalty.factories import base_rate
from tests.referrals.factories import buy, member, program_set, refer

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:referrals_referral_changelist")
QUEUE_URL = reverse("admin:referrals_referralawaitingreview_changelist")
FUNNEL_URL = reverse("admin:referrals_referral_funnel")


@pytest.fixture
def staff(db):
    return User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="not-used")


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def partner(db):
    base_rate()
    program_set()
    return PartnerFactory()


def held(partner, referrer=None) -> Referral:
    """A referral the fraud checks hold for review (the friend has the referrer's phone)."""
    referrer = referrer or member()
    friend = member(phone=referrer.phone)
    referral = refer(referrer, friend)
    buy(friend, partner, "30.00")
    assert services.referral_process(referral_id=referral.pk).status == "review"
    return referral


def rewarded(partner, referrer) -> Referral:
    referral = refer(referrer)
    buy(referral.friend, partner, "30.00")
    assert services.referral_process(referral_id=referral.pk).status == "rewarded"
    return referral


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        (LIST_URL, 2 + 4),  # session, user; count, page, the date hierarchy's range and its days
        (QUEUE_URL, 2 + 2),  # session, user; count, page
    ],
)
def test_the_lists_use_a_constant_number_of_queries(admin_client, partner, django_assert_num_queries, url, queries):
    held(partner)
    refer(member())
    admin_client.get(url)
    with django_assert_num_queries(queries):
        admin_client.get(url)
    for _ in range(5):
        held(partner)
        refer(member())
    with django_assert_num_queries(queries):
        response = admin_client.get(url)
    assert response.status_code == 200
    expected = 6 if url == QUEUE_URL else 12
    assert len(response.context["cl"].result_list) == expected


def test_the_queue_shows_only_referrals_awaiting_review_with_their_reasons(admin_client, partner):
    waiting = held(partner)
    other = refer(member())

    response = admin_client.get(QUEUE_URL)

    assert [referral.pk for referral in response.context["cl"].result_list] == [waiting.pk]
    assert "Same phone as the referrer" in response.content.decode()
    assert other.code in admin_client.get(LIST_URL).content.decode()


def test_approving_asks_for_a_reason_then_rewards_and_records_it(admin_client, staff, partner):
    referral = held(partner)
    selection = {"action": "approve", "_selected_action": [referral.pk]}

    asked = admin_client.post(QUEUE_URL, selection)
    done = admin_client.post(QUEUE_URL, {**selection, "apply": "1", "note": "Sisters sharing a phone."})

    assert asked.status_code == 200
    assert "Reason" in asked.content.decode()
    assert done.status_code == 302
    referral.refresh_from_db()
    assert (referral.status, referral.note, referral.reviewed_by) == ("rewarded", "Sisters sharing a phone.", staff)
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).count() == 2


def test_rejecting_without_a_reason_asks_again_and_changes_nothing(admin_client, partner):
    referral = held(partner)
    selection = {"action": "reject", "_selected_action": [referral.pk], "apply": "1"}

    response = admin_client.post(QUEUE_URL, {**selection, "note": "  "})

    assert response.status_code == 200
    assert response.context["form"].errors["note"]
    assert Referral.objects.get(pk=referral.pk).status == "review"
    done = admin_client.post(QUEUE_URL, {**selection, "note": "One person, two accounts."})
    assert done.status_code == 302
    referral.refresh_from_db()
    assert (referral.status, referral.reason, referral.note) == ("rejected", "staff", "One person, two accounts.")
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).count() == 0


def test_a_referral_no_longer_in_review_is_reported_and_left_alone(admin_client, partner):
    done = rewarded(partner, member())

    response = admin_client.post(
        LIST_URL, {"action": "approve", "_selected_action": [done.pk], "apply": "1", "note": "Sure"}, follow=True
    )

    assert "Only a referral awaiting review" in response.content.decode()
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).count() == 2


def test_a_staff_member_without_the_change_permission_sees_no_actions(client, partner):
    viewer = User.objects.create_user(username="viewer", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_referral"))
    client.force_login(viewer)
    held(partner)

    response = client.get(QUEUE_URL)

    assert response.status_code == 200
    assert response.context["action_form"] is None  # approve and reject need the change permission
    assert "Same phone as the referrer" in response.content.decode()


def test_the_funnel_counts_each_step_and_ranks_the_top_referrers(admin_client, partner, django_assert_num_queries):
    aino = member(first_name="Aino", last_name="Virtanen")
    ville = member(first_name="Ville", last_name="Laine")
    rewarded(partner, aino)
    rewarded(partner, aino)
    rewarded(partner, ville)
    refer(ville)
    refer(ville)
    held(partner, ville)
    code = services.referral_code_for(aino)
    ReferralLinkOpen.objects.create(code=code, day=timezone.localdate(), opens=12)
    ReferralLinkOpen.objects.create(code=code, day=timezone.localdate() - datetime.timedelta(days=60), opens=99)
    admin_client.get(FUNNEL_URL)

    with django_assert_num_queries(5):  # session, user; opens, the three counts, the top referrers
        response = admin_client.get(FUNNEL_URL)

    funnel = response.context["funnel"]
    assert (funnel.links_opened, funnel.signups, funnel.qualified, funnel.rewarded) == (12, 6, 4, 3)
    top = response.context["top"]
    assert [(row.name, row.signups, row.rewarded, row.points_earned) for row in top] == [
        ("Aino Virtanen", 2, 2, 400),
        ("Ville Laine", 4, 1, 200),
    ]


def test_the_funnel_takes_a_date_range_and_refuses_an_inverted_one(admin_client, partner):
    rewarded(partner, member())
    today = timezone.localdate()

    earlier = admin_client.get(FUNNEL_URL, {"start": "2020-01-01", "end": "2020-01-31"})
    inverted = admin_client.get(FUNNEL_URL, {"start": today.isoformat(), "end": "2020-01-01"})

    assert earlier.context["funnel"].signups == 0
    assert inverted.context["form"].errors
    assert inverted.context["funnel"].signups == 1  # the default range instead


def test_the_programme_settings_open_on_the_single_row(admin_client):
    response = admin_client.get(reverse("admin:referrals_referralprogram_changelist"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:referrals_referralprogram_change", args=[1])
    assert admin_client.get(response["Location"]).status_code == 200


def test_the_admin_needs_a_staff_login(client, db):
    response = client.get(FUNNEL_URL)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
