"""Re-derive every cached number of the points ledger from the rows it caches, set-based.

Used by ``manage.py verify_ledger`` (and the tests): a handful of GROUP BY queries whatever the
number of accounts, returning only what does not match.
"""

from __future__ import annotations

from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from loyalty.models import LedgerEntry, PointsAccount, PointsLot
from loyalty.services.ledger import LIFETIME_KINDS


def _total(rows: QuerySet[LedgerEntry] | QuerySet[PointsLot], field: str) -> Coalesce:
    """The sum of ``field`` over ``rows`` of the outer account (0 when none), as a subquery."""
    grouped = rows.filter(account_id=OuterRef("pk")).order_by().values("account_id").annotate(total=Sum(field))
    return Coalesce(Subquery(grouped.values("total"), output_field=IntegerField()), Value(0))


def ledger_verify() -> list[str]:
    """Human-readable lines, one per mismatch; empty when the ledger is consistent.

    Checks, for every account: balance == sum of its entries == sum of its lots' remaining points;
    lifetime earned == sum of its entries of the lifetime kinds; balance and points owed not
    negative. And for every lot: 0 <= remaining <= initial.
    """
    problems: list[str] = []
    accounts = (
        PointsAccount.objects.annotate(
            entries_total=_total(LedgerEntry.objects.all(), "amount"),
            lots_total=_total(PointsLot.objects.all(), "remaining"),
            lifetime_total=_total(LedgerEntry.objects.filter(kind__in=LIFETIME_KINDS), "amount"),
        )
        .filter(
            ~Q(balance=F("entries_total"))
            | ~Q(balance=F("lots_total"))
            | ~Q(lifetime_earned=F("lifetime_total"))
            | Q(balance__lt=0)
            | Q(owed__lt=0)
        )
        .order_by("pk")
        .values_list(
            "pk", "customer_id", "balance", "lifetime_earned", "owed", "entries_total", "lots_total", "lifetime_total"
        )
    )
    for pk, customer_id, balance, lifetime, owed, entries_total, lots_total, lifetime_total in accounts:
        label = f"account {pk} (customer {customer_id})"
        if balance != entries_total:
            problems.append(f"{label}: balance {balance} != sum of ledger entries {entries_total}")
        if balance != lots_total:
            problems.append(f"{label}: balance {balance} != points remaining in lots {lots_total}")
        if lifetime != lifetime_total:
            problems.append(f"{label}: lifetime earned {lifetime} != sum of earning entries {lifetime_total}")
        if balance < 0:
            problems.append(f"{label}: negative balance {balance}")
        if owed < 0:
            problems.append(f"{label}: negative points owed {owed}")
    lots = (
        PointsLot.objects.filter(Q(remaining__lt=0) | Q(remaining__gt=F("initial")))
        .order_by("pk")
        .values_list("pk", "account_id", "remaining", "initial")
    )
    for pk, account_id, remaining, initial in lots:
        problems.append(f"lot {pk} of account {account_id}: remaining {remaining} is outside 0..{initial}")
    return problems
