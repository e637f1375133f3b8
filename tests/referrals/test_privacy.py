"""The referrals section of the data export (the member's code and link opens, the referrals they
made with each friend by first name and initial, the referral that brought them in) and what
erasure does to referral data: rows kept, the erased side shown as erased, open referrals closed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from customers.privacy import ErasureSource, customer_erase
from loyalty.verification import ledger_verify
from referrals import services
from referrals.models import Referral
from referrals.privacy import ERASURE_NOTE, referrals_data_erase, referrals_data_export
from tests.customers.factories import PartnerFactory
from tests.loyalty.factories import base_rate
from tests.referrals.factories import buy, member, program_set, refer


@pytest.fixture
def programme(db, templates):
    base_rate()
    program_set()
    return PartnerFactory(name="Kahvila")


def rewarded(referrer: Customer, friend: Customer, partner) -> Referral:
    referral = refer(referrer, friend)
    buy(friend, partner, "30.00")
    result = services.referral_process(referral_id=referral.pk)
    assert result is not None
    assert result.status == Referral.Status.REWARDED
    return result


def test_export_holds_the_code_the_referrals_made_and_the_referrer(programme, clock):
    aino = member(first_name="Aino", last_name="Virtanen")
    mikko = member(first_name="Mikko", last_name="Nieminen")
    olga = member(first_name="Olga", last_name="Smirnova")
    rewarded(aino, mikko, programme)
    refer(aino, olga)
    services.referral_link_open(code=services.referral_code_for(aino).code)
    services.referral_link_open(code=services.referral_code_for(aino).code)

    data = referrals_data_export(aino)

    assert data["code"]["code"] == services.referral_code_for(aino).code
    assert data["code"]["link_opens"] == 2
    assert [(row["friend"], row["status"], row["points"], row["voucher"]) for row in data["referrals_made"]] == [
        ({"name": "Mikko N.", "erased": False}, "rewarded", 200, None),
        ({"name": "Olga S.", "erased": False}, "pending", 0, None),
    ]
    assert data["referred_by"] is None
    friend_side = referrals_data_export(mikko)
    assert friend_side["referrals_made"] == []
    assert friend_side["referred_by"]["referrer"] == {"name": "Aino V.", "erased": False}
    assert (friend_side["referred_by"]["status"], friend_side["referred_by"]["points"]) == ("rewarded", 100)


def test_export_reads_four_queries_whatever_the_referrals(programme, clock, django_assert_num_queries):
    aino = member(first_name="Aino")
    refer(aino)
    with CaptureQueriesContext(connection) as few:
        referrals_data_export(aino)
    for _ in range(4):
        refer(aino)

    # code, its link opens, referrals made (with friend and voucher), referred by
    with django_assert_num_queries(4):
        data = referrals_data_export(aino)

    assert len(few.captured_queries) == 4
    assert len(data["referrals_made"]) == 5


def test_erasing_a_referrer_closes_the_open_referrals_and_keeps_the_rewarded(programme, clock):
    aino = member(first_name="Aino")
    mikko, olga = member(first_name="Mikko"), member(first_name="Olga")
    done = rewarded(aino, mikko, programme)
    Referral.objects.filter(pk=done.pk).update(note="Approved: same family, checked by phone")
    waiting = refer(aino, olga)

    referrals_data_erase(aino)

    done.refresh_from_db()
    waiting.refresh_from_db()
    assert (done.status, done.note, done.referrer_points, done.friend_points) == ("rewarded", "", 200, 100)
    assert (waiting.status, waiting.reason, waiting.note) == ("rejected", "", ERASURE_NOTE)
    assert waiting.rejected_at is not None
    # the friend's purchase no longer rewards the erased referrer
    buy(olga, programme, "30.00")
    assert services.referral_process(referral_id=waiting.pk).status == Referral.Status.REJECTED


def test_an_erased_friend_shows_as_erased_to_the_referrer(programme, clock):
    aino = member(first_name="Aino")
    mikko = member(first_name="Mikko", last_name="Nieminen")
    referral = refer(aino, mikko, network_address="93.184.216.34")
    assert Referral.objects.get(pk=referral.pk).address_hash != ""

    customer_erase(customer=mikko, source=ErasureSource.PORTAL)

    referral.refresh_from_db()
    assert (referral.status, referral.address_hash) == ("rejected", "")
    (made,) = referrals_data_export(aino)["referrals_made"]
    assert made["friend"] == {"name": None, "erased": True}
    assert ledger_verify() == []


def test_erasing_twice_changes_nothing_more_and_spares_other_referrals(programme, clock):
    aino = member(first_name="Aino")
    olga = member(first_name="Olga")
    refer(aino)
    others = refer(olga)
    Referral.objects.filter(pk=others.pk).update(note="Olga's friend, checked")
    referrals_data_erase(aino)
    rows = list(Referral.objects.order_by("pk").values())

    referrals_data_erase(aino)

    assert list(Referral.objects.order_by("pk").values()) == rows
    others.refresh_from_db()
    assert (others.status, others.note) == ("pending", "Olga's friend, checked")


def test_an_erased_members_code_no_longer_opens(programme, clock):
    aino = member(first_name="Aino")
    code = services.referral_code_for(aino).code

    customer_erase(customer=aino, source=ErasureSource.ADMIN)

    assert services.referral_code_find(code) is None
    assert referrals_data_export(aino)["code"]["code"] == code
