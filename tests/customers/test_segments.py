"""Segments: the condition registry (customers' and loyalty's conditions), compilation into one
query, validation, materialised refresh, static uploads, the API list and the admin."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Segment, SegmentMember, User
from customers.segments import (
    segment_condition_register,
    segment_emails_parse,
    segment_members_add,
    segment_queryset,
    segment_refresh,
    segment_rules_queryset,
)
from customers.services import customer_consent_set, customer_tags_set
from customers.tasks import segments_refresh_task
from loyalty.models import LedgerEntry, TierChange
from loyalty.services import account_lock, points_earn, refund_record, tier_set
from tests.customers.factories import CustomerFactory, PartnerFactory
from tests.loyalty.factories import TierFactory, base_rate, purchase_make

LIST_URL = "/api/v1/segments/"
CHANGELIST_URL = reverse("admin:customers_segment_changelist")
ADD_URL = reverse("admin:customers_segment_add")


def emails(rules: list[dict], match: str = "all") -> list[str]:
    return sorted(customer.email for customer in segment_rules_queryset(match=match, rules=rules))


def segment_make(rules: list[dict], *, match: str = "all", name: str = "Segment", **fields: object) -> Segment:
    segment = Segment(name=name, rules=rules, match=match, **fields)
    segment.full_clean()
    segment.save()
    return segment


def member_emails(segment: Segment) -> list[str]:
    return sorted(SegmentMember.objects.filter(segment=segment).values_list("customer__email", flat=True))


# --- customers' conditions ------------------------------------------------------------------------


@pytest.fixture
def people(db: None) -> dict[str, Customer]:
    """Three customers that differ in every customer condition."""
    now = timezone.now()
    aino = CustomerFactory(
        email="aino@example.fi", language="fi", birth_date=datetime.date(1990, 5, 17), signup_source="portal"
    )
    boris = CustomerFactory(
        email="boris@example.fi", language="ru", birth_date=datetime.date(1985, 12, 1), signup_source="api"
    )
    cecilia = CustomerFactory(email="cecilia@example.fi", language="en", status=Customer.Status.BLOCKED)
    customer_tags_set(customer=aino, names=["Coffee", "tea"])
    customer_tags_set(customer=boris, names=["tea"])
    customer_consent_set(customer=aino, channel="email", granted=True, source="admin")
    customer_consent_set(customer=boris, channel="sms", granted=True, source="admin")
    Customer.objects.filter(pk=cecilia.pk).update(created_at=now - datetime.timedelta(days=40))
    return {"aino": aino, "boris": boris, "cecilia": cecilia}


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("language", "fi", ["aino"]),
        ("language", "ru", ["boris"]),
        ("tag", "coffee", ["aino"]),
        ("tag", "TEA", ["aino", "boris"]),
        ("tag", "nothing", []),
        ("email_consent", True, ["aino"]),
        ("email_consent", False, ["boris", "cecilia"]),
        ("sms_consent", True, ["boris"]),
        ("birthday_month", 5, ["aino"]),
        ("birthday_month", 12, ["boris"]),
        ("signup_source", "portal", ["aino"]),
        ("status", "blocked", ["cecilia"]),
        ("status", "active", ["aino", "boris"]),
        ("created_within_days", 30, ["aino", "boris"]),
        ("created_within_days", 60, ["aino", "boris", "cecilia"]),
    ],
)
def test_customer_condition_selects(people, condition, value, expected):
    assert emails([{"condition": condition, "value": value}]) == [f"{name}@example.fi" for name in expected]


def test_no_rules_select_every_customer_but_never_the_erased(people):
    Customer.objects.filter(pk=people["cecilia"].pk).update(status=Customer.Status.ERASED)

    assert emails([]) == ["aino@example.fi", "boris@example.fi"]


@pytest.mark.parametrize(
    ("match", "expected"),
    [("all", ["aino@example.fi"]), ("any", ["aino@example.fi", "boris@example.fi"])],
)
def test_match_all_or_any(people, match, expected):
    rules = [{"condition": "tag", "value": "tea"}, {"condition": "language", "value": "fi"}]

    assert emails(rules, match=match) == expected


def test_any_with_a_condition_that_matches_everyone_keeps_everyone(people):
    rules = [{"condition": "points_balance_at_least", "value": 0}, {"condition": "language", "value": "fi"}]

    assert len(emails(rules, match="any")) == 3


# --- loyalty's conditions -----------------------------------------------------------------------


@pytest.fixture
def shoppers(db: None) -> dict[str, Customer]:
    """ville: 3 recent purchases (300 EUR, 50 refunded) and Gold; kaisa: one purchase 100 days
    ago; tuuli: never bought, 40 bonus points."""
    base_rate()
    TierFactory(name="Basic", rank=0, threshold=Decimal(0))
    gold = TierFactory(name="Gold", rank=1, threshold=Decimal(1000))
    partner = PartnerFactory(name="Shop")
    now = timezone.now()
    ville = CustomerFactory(email="ville@example.fi")
    kaisa = CustomerFactory(email="kaisa@example.fi")
    tuuli = CustomerFactory(email="tuuli@example.fi")
    first = purchase_make(customer=ville, partner=partner, amount="100", occurred_at=now - datetime.timedelta(days=2))
    purchase_make(customer=ville, partner=partner, amount="100", occurred_at=now - datetime.timedelta(days=5))
    purchase_make(customer=ville, partner=partner, amount="100", occurred_at=now - datetime.timedelta(days=40))
    refund_record(purchase=first, external_id="r1", amount=Decimal(50))
    purchase_make(customer=kaisa, partner=partner, amount="20", occurred_at=now - datetime.timedelta(days=100))
    points_earn(customer=tuuli, amount=40, kind=LedgerEntry.Kind.BONUS, reason="Welcome", idempotency_key="t-1")
    with transaction.atomic():
        account = account_lock(ville)
        tier_set(account=account, tier=gold, reason=TierChange.Reason.STAFF, value=Decimal(250))
    return {"ville": ville, "kaisa": kaisa, "tuuli": tuuli}


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("tier", 1, ["ville"]),
        ("tier", "gold", ["ville"]),
        ("tier", "Platinum", []),
        ("tier_rank_at_least", 1, ["ville"]),
        ("points_balance_at_least", 40, ["tuuli", "ville"]),
        ("points_balance_at_least", 100, ["ville"]),
        ("points_balance_at_least", 0, ["kaisa", "tuuli", "ville"]),
        ("points_balance_at_most", 20, ["kaisa"]),
        ("points_balance_at_most", 40, ["kaisa", "tuuli"]),
        ("days_since_last_purchase_at_least", 30, ["kaisa"]),
        ("days_since_last_purchase_at_least", 1, ["kaisa", "ville"]),
        ("days_since_last_purchase_at_least", 200, []),
        ("purchase_count_in_days_at_least", {"count": 2, "days": 30}, ["ville"]),
        ("purchase_count_in_days_at_least", {"count": 3, "days": 30}, []),
        ("purchase_count_in_days_at_least", {"count": 3, "days": 60}, ["ville"]),
        ("purchase_count_in_days_at_least", {"count": 1, "days": 365}, ["kaisa", "ville"]),
        ("spend_in_days_at_least", {"amount": "150", "days": 30}, ["ville"]),
        ("spend_in_days_at_least", {"amount": "150.01", "days": 30}, []),  # 200 less the 50 refunded
        ("spend_in_days_at_least", {"amount": 250, "days": 60}, ["ville"]),
        ("spend_in_days_at_least", {"amount": "20", "days": 365}, ["kaisa", "ville"]),
    ],
)
def test_loyalty_condition_selects(shoppers, condition, value, expected):
    assert emails([{"condition": condition, "value": value}]) == [f"{name}@example.fi" for name in expected]


def test_a_segment_of_every_kind_of_condition_is_one_query(shoppers, django_assert_num_queries):
    customer_tags_set(customer=shoppers["ville"], names=["coffee"])
    segment = segment_make(
        [
            {"condition": "tag", "value": "coffee"},
            {"condition": "language", "value": "fi"},
            {"condition": "tier", "value": "Gold"},
            {"condition": "points_balance_at_least", "value": 10},
            {"condition": "points_balance_at_most", "value": 10_000},
            {"condition": "days_since_last_purchase_at_least", "value": 1},
            {"condition": "purchase_count_in_days_at_least", "value": {"count": 2, "days": 30}},
            {"condition": "spend_in_days_at_least", "value": {"amount": "100", "days": 60}},
            {"condition": "created_within_days", "value": 5},
        ]
    )

    with django_assert_num_queries(1):
        customers = list(segment_queryset(segment))

    assert [customer.email for customer in customers] == ["ville@example.fi"]


def test_a_static_segment_is_one_query(people, django_assert_num_queries):
    segment = segment_make([], kind=Segment.Kind.STATIC)
    segment_members_add(segment=segment, emails=["boris@example.fi"])

    with django_assert_num_queries(1):
        customers = list(segment_queryset(segment))

    assert [customer.email for customer in customers] == ["boris@example.fi"]


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"condition": "shoe_size", "value": 42}], "Rule 1: unknown condition “shoe_size”."),
        ([{"condition": "language", "value": "de"}], "Rule 1 (language): choose one of en, fi, ru."),
        (
            [{"condition": "birthday_month", "value": 13}],
            "Rule 1 (birthday_month): enter a whole number of at most 12.",
        ),
        ([{"condition": "birthday_month", "value": "5"}], "Rule 1 (birthday_month): enter a whole number."),
        ([{"condition": "email_consent", "value": "yes"}], "Rule 1 (email_consent): enter true or false."),
        ([{"condition": "tag", "value": "  "}], "Rule 1 (tag): enter a text."),
        (
            [{"condition": "purchase_count_in_days_at_least", "value": {"count": 0, "days": 30}}],
            "Rule 1 (purchase_count_in_days_at_least): count must be a whole number of at least 1.",
        ),
        (
            [{"condition": "spend_in_days_at_least", "value": {"amount": "lots", "days": 30}}],
            "Rule 1 (spend_in_days_at_least): enter an amount.",
        ),
        (
            [{"condition": "spend_in_days_at_least", "value": 100}],
            "Rule 1 (spend_in_days_at_least): enter an object with the keys amount, days.",
        ),
        ([{"condition": "language"}], 'Rule 1: write it as {"condition": ..., "value": ...}.'),
        (
            {"condition": "language", "value": "fi"},
            'Write the rules as a list: [{"condition": "language", "value": "fi"}].',
        ),
    ],
)
def test_clean_refuses_bad_rules_naming_them(db, rules, message):
    segment = Segment(name="Bad", rules=rules)

    with pytest.raises(ValidationError) as raised:
        segment.full_clean()

    assert message in raised.value.message_dict["rules"][0]
    assert not Segment.objects.exists()


def test_clean_reports_every_bad_rule_with_its_number(db):
    segment = Segment(
        name="Bad",
        rules=[
            {"condition": "language", "value": "fi"},
            {"condition": "nope", "value": 1},
            {"condition": "tier", "value": -1},
        ],
    )

    with pytest.raises(ValidationError) as raised:
        segment.full_clean()

    errors = raised.value.message_dict["rules"]
    assert len(errors) == 2
    assert errors[0].startswith("Rule 2: unknown condition “nope”.")
    assert errors[1] == "Rule 3 (tier): enter a whole number of at least 0."


def test_a_static_segment_with_rules_is_refused(db):
    segment = Segment(name="Picked", kind=Segment.Kind.STATIC, rules=[{"condition": "language", "value": "fi"}])

    with pytest.raises(ValidationError) as raised:
        segment.full_clean()

    assert raised.value.message_dict["rules"] == ["A static segment has no rules: pick or upload its members."]


def test_a_taken_condition_key_cannot_be_registered_by_another_builder():
    with pytest.raises(ImproperlyConfigured, match="'language' is already registered"):
        segment_condition_register("language", label="Other", value_type="text", build=lambda value: Q())


def test_an_unknown_value_type_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="unknown value type 'colour'"):
        segment_condition_register("colour", label="Colour", value_type="colour", build=lambda value: Q())


# --- refresh -------------------------------------------------------------------------------------


def test_refresh_adds_and_removes_members_and_is_idempotent(people):
    segment = segment_make([{"condition": "tag", "value": "tea"}])

    first = segment_refresh(segment=segment)
    assert (first.added, first.removed, first.member_count) == (2, 0, 2)
    assert member_emails(segment) == ["aino@example.fi", "boris@example.fi"]
    added_at = dict(SegmentMember.objects.values_list("customer_id", "added_at"))

    again = segment_refresh(segment=segment)
    assert (again.added, again.removed, again.member_count) == (0, 0, 2)
    assert dict(SegmentMember.objects.values_list("customer_id", "added_at")) == added_at

    customer_tags_set(customer=people["boris"], names=[])
    customer_tags_set(customer=people["cecilia"], names=["tea"])
    changed = segment_refresh(segment=segment)

    assert (changed.added, changed.removed, changed.member_count) == (1, 1, 2)
    assert member_emails(segment) == ["aino@example.fi", "cecilia@example.fi"]
    segment.refresh_from_db()
    assert segment.member_count == 2
    assert segment.refreshed_at == changed.refreshed_at


def test_refresh_of_a_static_segment_keeps_picked_members_and_drops_the_erased(people):
    segment = segment_make([], kind=Segment.Kind.STATIC)
    segment_members_add(segment=segment, emails=["aino@example.fi", "boris@example.fi"])
    Customer.objects.filter(pk=people["boris"].pk).update(status=Customer.Status.ERASED)

    result = segment_refresh(segment=segment)

    assert (result.added, result.removed, result.member_count) == (0, 1, 1)
    assert member_emails(segment) == ["aino@example.fi"]


def test_task_refreshes_active_dynamic_segments_and_skips_broken_ones(people):
    tea = segment_make([{"condition": "tag", "value": "tea"}], name="Tea")
    inactive = segment_make([], name="Off", is_active=False)
    static = segment_make([], name="Picked", kind=Segment.Kind.STATIC)
    broken = segment_make([], name="Broken")
    Segment.objects.filter(pk=broken.pk).update(rules=[{"condition": "gone_with_its_app", "value": 1}])

    assert segments_refresh_task() == 1
    assert segments_refresh_task() == 1

    assert member_emails(tea) == ["aino@example.fi", "boris@example.fi"]
    for segment in (inactive, static, broken):
        segment.refresh_from_db()
        assert (segment.member_count, segment.refreshed_at) == (0, None)
    assert SegmentMember.objects.count() == 2


# --- static segments: e-mails --------------------------------------------------------------------


def test_emails_are_parsed_from_any_column_without_the_header():
    found, invalid = segment_emails_parse(
        b"\xef\xbb\xbfname;email\nAino;AINO@example.fi\nBoris;boris@example.fi\nAgain;aino@example.fi\nX;not@an@address\n"
    )

    assert found == ["aino@example.fi", "boris@example.fi"]
    assert invalid == ["not@an@address"]


def test_members_add_reports_unknown_emails_and_repeats_safely(people):
    segment = segment_make([], kind=Segment.Kind.STATIC)

    result = segment_members_add(segment=segment, emails=["Aino@Example.fi", "nobody@example.fi"])
    again = segment_members_add(segment=segment, emails=["aino@example.fi", "boris@example.fi"])

    assert (result.added, result.already_members, result.unknown_emails) == (1, 0, ["nobody@example.fi"])
    assert (again.added, again.already_members, again.unknown_emails) == (1, 1, [])
    segment.refresh_from_db()
    assert segment.member_count == 2
    assert member_emails(segment) == ["aino@example.fi", "boris@example.fi"]


def test_members_cannot_be_added_to_a_dynamic_segment(people):
    from customers.segments import SegmentNotStatic

    segment = segment_make([])

    with pytest.raises(SegmentNotStatic):
        segment_members_add(segment=segment, emails=["aino@example.fi"])
    assert not SegmentMember.objects.exists()


# --- API -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_list_needs_a_key(client):
    response = client.get(LIST_URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_api_list_needs_the_segments_scope(api_client):
    response = api_client.get(LIST_URL)

    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"


def test_api_lists_active_segments_with_size_and_refresh_time(people, make_api_client, django_assert_num_queries):
    client = make_api_client(["segments:read"])
    tea = segment_make([{"condition": "tag", "value": "tea"}], name="Tea")
    segment_make([], name="Picked", kind=Segment.Kind.STATIC)
    segment_make([], name="Off", is_active=False)
    refreshed = segment_refresh(segment=tea)
    client.get(LIST_URL)  # the key's last-used stamp is written on first use only

    # key look-up, one page of segments
    with django_assert_num_queries(2):
        response = client.get(LIST_URL)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [row["name"] for row in results] == ["Picked", "Tea"]
    picked = Segment.objects.get(name="Picked")
    assert results[0] == {
        "id": picked.pk,
        "name": "Picked",
        "kind": "static",
        "member_count": 0,
        "refreshed_at": None,
    }
    assert results[1]["member_count"] == 2
    assert results[1]["refreshed_at"] == timezone.localtime(refreshed.refreshed_at).isoformat()


# --- admin ---------------------------------------------------------------------------------------


@pytest.fixture
def admin(client, db):
    staff = User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="not-used-here")
    client.force_login(staff)
    return client


def change_url(segment: Segment) -> str:
    return reverse("admin:customers_segment_change", args=[segment.pk])


def form_data(**fields: object) -> dict:
    return {"name": "Tea drinkers", "description": "", "kind": "dynamic", "match": "all", "is_active": "on", **fields}


def test_admin_changelist_query_count(admin, people, django_assert_num_queries):
    for index in range(3):
        segment_make([{"condition": "tag", "value": "tea"}], name=f"Segment {index}")
    admin.get(CHANGELIST_URL)

    # session, user, count, full count, the page of segments
    with django_assert_num_queries(5):
        response = admin.get(CHANGELIST_URL)

    assert response.status_code == 200
    assert [segment.name for segment in response.context["cl"].result_list] == [
        "Segment 0",
        "Segment 1",
        "Segment 2",
    ]


def test_admin_add_refuses_bad_rules_on_the_form(admin, people):
    response = admin.post(ADD_URL, form_data(rules='[{"condition": "shoe_size", "value": 42}]'))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["rules"]
    assert errors[0].startswith("Rule 1: unknown condition “shoe_size”.")
    assert not Segment.objects.exists()


def test_admin_add_saves_and_materialises_membership(admin, people):
    response = admin.post(ADD_URL, form_data(rules='[{"condition": "tag", "value": "tea"}]'))

    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.rules == [{"condition": "tag", "value": "tea"}]
    assert segment.member_count == 2
    assert member_emails(segment) == ["aino@example.fi", "boris@example.fi"]


def test_admin_preview_shows_count_and_sample_of_unsaved_rules(admin, people):
    response = admin.post(ADD_URL, form_data(rules='[{"condition": "language", "value": "ru"}]', _preview="1"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "1 customer matches." in content
    assert "boris@example.fi" in content
    assert "aino@example.fi" not in content
    assert "Preview only: nothing was saved." in [str(message) for message in get_messages(response.wsgi_request)]
    assert not Segment.objects.exists()


def test_admin_preview_of_a_saved_segment_does_not_change_it(admin, people):
    segment = segment_make([{"condition": "tag", "value": "tea"}], name="Tea drinkers")

    shown = admin.get(change_url(segment)).content.decode()
    previewed = admin.post(
        change_url(segment), form_data(rules='[{"condition": "status", "value": "blocked"}]', _preview="1")
    ).content.decode()

    assert "2 customers match." in shown
    assert "1 customer matches." in previewed
    assert "cecilia@example.fi" in previewed
    segment.refresh_from_db()
    assert segment.rules == [{"condition": "tag", "value": "tea"}]


def test_admin_refresh_action(admin, people):
    segment = segment_make([{"condition": "tag", "value": "tea"}])

    response = admin.post(CHANGELIST_URL, {"action": "refresh_now", "_selected_action": [segment.pk]}, follow=True)

    assert "1 segment refreshed." in [str(message) for message in get_messages(response.wsgi_request)]
    segment.refresh_from_db()
    assert segment.member_count == 2


def test_admin_csv_upload_adds_known_and_reports_unknown_emails(admin, people):
    segment = segment_make([], kind=Segment.Kind.STATIC, name="Picked")
    upload_url = reverse("admin:customers_segment_upload", args=[segment.pk])
    assert upload_url in admin.get(change_url(segment)).content.decode()
    csv_file = SimpleUploadedFile(
        "list.csv", b"email\nAINO@example.fi\nstranger@example.fi\ncecilia@example.fi\n", content_type="text/csv"
    )

    response = admin.post(upload_url, {"file": csv_file, "emails": ""}, follow=True)

    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert shown == [
        "2 customers added; 0 were members already.",
        "1 e-mail matched no customer: stranger@example.fi",
    ]
    segment.refresh_from_db()
    assert segment.member_count == 2
    assert member_emails(segment) == ["aino@example.fi", "cecilia@example.fi"]


def test_admin_upload_is_refused_for_a_dynamic_segment(admin, people):
    segment = segment_make([])
    upload_url = reverse("admin:customers_segment_upload", args=[segment.pk])

    response = admin.post(upload_url, {"emails": "aino@example.fi"}, follow=True)

    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "Only a static segment's members can be picked or uploaded."
    ]
    assert not SegmentMember.objects.exists()
