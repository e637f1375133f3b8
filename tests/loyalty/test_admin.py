"""The loyalty part of the staff admin: adjust points, the earning preview, vouchers, read-only
ledger and purchases, and the customer page's loyalty section."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import User
from loyalty import services
from loyalty.models import LedgerEntry, Purchase, Voucher
from tests.customers.factories import CustomerFactory, PartnerFactory
from tests.loyalty.factories import EarningRuleFactory, RewardFactory, TierFactory, base_rate, purchase_make


@pytest.fixture
def staff(db):
    return User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="not-used")


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def customer_with_points(db):
    base_rate()
    customer = CustomerFactory(email="aino@example.fi", first_name="Aino")
    purchase_make(customer=customer, partner=PartnerFactory(), amount="120.00", external_id="K-1")
    return customer


def adjust_url(customer) -> str:
    return reverse("admin:customers_customer_adjust_points", args=[customer.pk])


@pytest.mark.django_db
def test_adjust_points_adds_an_entry_with_the_reason_and_the_staff_member(admin_client, staff, customer_with_points):
    data = {"amount": "25", "reason": "Cold coffee, sorry", "nonce": "7d4a1c52-5f0e-4f7e-9a62-1b2f1f9c0a11"}
    response = admin_client.post(adjust_url(customer_with_points), data)
    again = admin_client.post(adjust_url(customer_with_points), data)  # a double submit

    assert (response.status_code, again.status_code) == (302, 302)
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUST).count() == 1
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.ADJUST)
    assert (entry.amount, entry.reason, entry.created_by, entry.balance_after) == (25, "Cold coffee, sorry", staff, 145)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "25", "reason": "   "}, "reason"),
        ({"amount": "0", "reason": "nothing"}, "amount"),
        ({"amount": "-500", "reason": "too much"}, "amount"),
        ({"amount": "ten", "reason": "typo"}, "amount"),
    ],
)
def test_adjust_points_refuses_bad_input_with_a_form_error(admin_client, customer_with_points, data, field):
    entries = LedgerEntry.objects.count()

    response = admin_client.post(
        adjust_url(customer_with_points), {**data, "nonce": "0b7e6a34-3a8e-4d55-8f1e-0d5f6c1a2b3c"}
    )

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert LedgerEntry.objects.count() == entries


@pytest.mark.django_db
def test_adjust_points_needs_a_staff_login(client, customer_with_points):
    response = client.post(adjust_url(customer_with_points), {"amount": "25", "reason": "x"})

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUST).count() == 0


@pytest.mark.django_db
def test_customer_page_shows_points_tier_and_statement(admin_client, customer_with_points):
    TierFactory(name="Bronze", rank=0)

    response = admin_client.get(reverse("admin:customers_customer_change", args=[customer_with_points.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "120</strong> points" in html
    assert "Purchase K-1" in html
    assert adjust_url(customer_with_points) in html
    assert "K-1" in html  # the purchases inline


@pytest.mark.django_db
def test_earning_preview_explains_each_rules_share(admin_client):
    base_rate()
    EarningRuleFactory(name="Coffee bonus", kind="category", category="coffee", points_per_unit=Decimal(1))
    gold = TierFactory(name="Gold", rank=2, multiplier=Decimal("1.50"))

    response = admin_client.get(
        reverse("admin:loyalty_earningrule_preview"),
        {"amount": "20.00", "lines": "ESP-1, coffee, 2, 4.00", "tier": gold.pk},
    )

    assert response.status_code == 200
    result = response.context["result"]
    assert result.points == 42  # (20 base + 8 coffee) x 1.5
    assert [(share.rule, share.points) for share in result.shares] == [("Base", 20), ("Coffee bonus", 8), ("Gold", 14)]
    assert Purchase.objects.count() == 0


@pytest.mark.django_db
def test_earning_preview_names_a_bad_line(admin_client):
    response = admin_client.get(reverse("admin:loyalty_earningrule_preview"), {"amount": "20", "lines": "ESP-1, 2"})

    assert response.status_code == 200
    assert "lines" in response.context["form"].errors
    assert response.context["result"] is None


@pytest.mark.django_db
def test_voucher_search_by_code_in_any_form_and_cancel_action(admin_client, customer_with_points):
    reward = RewardFactory(points_cost=100, stock=5)
    voucher = services.reward_redeem(customer=customer_with_points, reward=reward, idempotency_key="a-1").voucher
    typed = services.voucher_code_display(voucher.code).lower()

    found = admin_client.get(reverse("admin:loyalty_voucher_changelist"), {"q": typed})
    assert list(found.context["cl"].result_list) == [voucher]

    response = admin_client.post(
        reverse("admin:loyalty_voucher_changelist"),
        {"action": "cancel_vouchers", "_selected_action": [voucher.pk]},
        follow=True,
    )
    assert response.status_code == 200
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.CANCELLED
    reward.refresh_from_db()
    assert reward.stock == 5
    assert customer_with_points.points_account.__class__.objects.get(customer=customer_with_points).balance == 120


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["ledgerentry", "purchase", "voucher", "pointsaccount"])
def test_the_books_are_read_only_in_the_admin(admin_client, customer_with_points, name):
    changelist = admin_client.get(reverse(f"admin:loyalty_{name}_changelist"))
    add = admin_client.get(reverse(f"admin:loyalty_{name}_add"))

    assert changelist.status_code == 200
    assert add.status_code == 403


@pytest.mark.django_db
def test_ledger_changelist_uses_a_constant_number_of_queries(admin_client, django_assert_num_queries):
    base_rate()
    partner = PartnerFactory()
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=partner, amount="10.00")
    url = reverse("admin:loyalty_ledgerentry_changelist")
    admin_client.get(url)

    with django_assert_num_queries(4):
        admin_client.get(url)
    for _ in range(10):
        purchase_make(customer=CustomerFactory(), partner=partner, amount="10.00")
    with django_assert_num_queries(4):
        response = admin_client.get(url)
    assert len(response.context["cl"].result_list) == 11


@pytest.mark.django_db
def test_programme_settings_open_on_the_single_row(admin_client):
    response = admin_client.get(reverse("admin:loyalty_program_changelist"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:loyalty_program_change", args=[1])
