"""Statement lines shown to the customer are built from what caused each entry, in their language."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from customers.models import User
from loyalty import services
from loyalty.models import LedgerEntry
from loyalty.selectors import ledger_for_customer
from loyalty.templatetags.loyalty_tags import statement_detail
from tests.customers.factories import CustomerFactory, PartnerFactory
from tests.loyalty.factories import base_rate, purchase_make


@pytest.mark.django_db
def test_statement_lines_describe_each_cause():
    base_rate()
    customer = CustomerFactory()
    purchase = purchase_make(customer=customer, partner=PartnerFactory(), amount="40.00", external_id="K-9")
    services.refund_record(purchase=purchase, external_id="R-1", amount=Decimal("10.00"))
    staff = User.objects.create_user(username="staff", is_staff=True)
    services.points_adjust(customer=customer, amount=5, reason="Spilled latte", by=staff)

    lines = [(entry.kind, statement_detail(entry)) for entry in ledger_for_customer(customer)]

    assert lines == [
        (LedgerEntry.Kind.ADJUST, "Spilled latte"),
        (LedgerEntry.Kind.REFUND, "Refund of purchase K-9"),
        (LedgerEntry.Kind.EARN, "Purchase K-9"),
    ]


@pytest.mark.django_db
def test_statement_lines_are_translated():
    base_rate()
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=PartnerFactory(), amount="40.00", external_id="K-9")
    entry = ledger_for_customer(customer).get()

    with translation.override("fi"):
        finnish = statement_detail(entry)
    with translation.override("ru"):
        russian = statement_detail(entry)

    assert "K-9" in finnish
    assert "K-9" in russian
    assert finnish != "Purchase K-9"
    assert russian != "Purchase K-9"
