"""The referral reads: a member's summary reads only (a member without a code gets an empty one),
in a known number of queries."""

from __future__ import annotations

import pytest

from referrals import selectors, services
from referrals.models import ReferralCode
from tests.referrals.factories import member, program_set, refer

pytestmark = pytest.mark.django_db


@pytest.fixture
def aino(db):
    program_set()
    return member(first_name="Aino", last_name="Virtanen")


def test_the_summary_of_a_member_without_a_code_is_empty_and_writes_nothing(aino, django_assert_num_queries):
    with django_assert_num_queries(2):
        summary = selectors.referral_summary_for_customer(aino)

    assert (summary.code, summary.link, summary.total, summary.points_earned) == ("", "", 0, 0)
    assert ReferralCode.objects.count() == 0


def test_the_summary_reads_the_members_code(aino, settings, django_assert_num_queries):
    settings.PUBLIC_BASE_URL = "https://kahvila.example"
    refer(aino)
    refer(aino)
    code = ReferralCode.objects.get(customer=aino).code

    with django_assert_num_queries(2):
        summary = selectors.referral_summary_for_customer(aino)

    assert (summary.code, summary.link) == (code, f"https://kahvila.example/r/{code}/")
    assert (summary.counts["pending"], summary.total) == (2, 2)


def test_a_code_the_caller_holds_saves_its_read(aino, django_assert_num_queries):
    code = services.referral_code_for(aino)

    with django_assert_num_queries(1):
        summary = selectors.referral_summary_for_customer(aino, code=code)

    assert summary.code == code.code


def test_another_members_code_is_refused(aino):
    other = services.referral_code_for(member())

    with pytest.raises(ValueError, match="another member's"):
        selectors.referral_summary_for_customer(aino, code=other)
