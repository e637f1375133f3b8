"""Benchmark a gift campaign at scale on PostgreSQL: the launch (segment snapshot and seeded
holdout), the batches that give the gifts, and the effect report.

    .venv/bin/python scripts/bench_campaign.py            # BENCH_CAMPAIGN_CUSTOMERS=20000 by default

Creates (and afterwards drops) the database ``vastavuoro_bench_campaign`` on the local PostgreSQL,
migrates it, inserts the customers and one purchase each with COPY-speed bulk inserts, then times
each step in this process (one core; a real deployment spreads the batches over its workers).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://root@127.0.0.1:5432")
DB = "vastavuoro_bench_campaign"
CUSTOMERS = int(os.environ.get("BENCH_CAMPAIGN_CUSTOMERS", "20000"))


def psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG}/postgres", "-q", "-c", sql], check=True, capture_output=True)


def main() -> None:
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    os.environ.update({"DATABASE_URL": f"{PG}/{DB}", "DJANGO_ENV": "test", "DJANGO_SETTINGS_MODULE": "config.settings"})
    sys.path.insert(0, str(ROOT))
    try:
        run()
    finally:
        from django.db import connections

        connections.close_all()
        if not os.environ.get("BENCH_KEEP"):
            psql(f"DROP DATABASE IF EXISTS {DB}")


def run() -> None:
    import django

    django.setup()
    import datetime
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from campaigns import launch
    from campaigns.effect import campaign_effect
    from campaigns.models import Campaign, GiftKind
    from core.events import events_muted
    from customers.models import Customer, Partner
    from loyalty.models import Purchase

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    Customer.objects.bulk_create(
        [Customer(email=f"bench{n}@example.fi", first_name=f"B{n}") for n in range(CUSTOMERS)], batch_size=5000
    )
    partner = Partner.objects.create(name="Bench POS")
    ids = list(Customer.objects.values_list("pk", flat=True))
    launched_at = timezone.now() - datetime.timedelta(days=40)
    Purchase.objects.bulk_create(
        [
            Purchase(
                partner=partner,
                external_id=f"b-{pk}",
                customer_id=pk,
                amount=Decimal("12.50"),
                currency="EUR",
                occurred_at=launched_at + datetime.timedelta(days=1 + pk % 30),
                payload_hash="",
            )
            for pk in ids[::3]
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # a live database has its statistics; a fresh bulk load has none yet
    print(f"setup: {CUSTOMERS} customers, {len(ids[::3])} purchases in {time.perf_counter() - started:.1f} s")

    campaign = Campaign.objects.create(
        name="Bench gift", gift_kind=GiftKind.POINTS, gift_points=50, holdout_percent=Decimal("10"), is_surprise=True
    )
    started = time.perf_counter()
    batches = launch.campaign_launch(campaign_id=campaign.pk, now=launched_at)
    took = time.perf_counter() - started
    print(f"launch (snapshot + seeded holdout): {took:.2f} s for {CUSTOMERS} customers, {len(batches)} batches")

    started = time.perf_counter()
    given = 0
    with events_muted():
        for batch in batches[:5]:
            given += launch.campaign_batch_give(campaign_id=campaign.pk, recipient_ids=batch, now=launched_at).given
    took = time.perf_counter() - started
    print(f"gifts: {given} in {took:.2f} s on one core ({given / took:.0f} gifts/s: points, ledger entry, message)")

    campaign.refresh_from_db()
    started = time.perf_counter()
    effect = campaign_effect(campaign)
    took = time.perf_counter() - started
    thirty = effect.windows[0]
    print(
        f"effect report (3 windows): {took:.2f} s; 30 days: treated {thirty.treated.size}, "
        f"holdout {thirty.holdout.size}, rate {thirty.treated.reciprocation_rate:.3f} vs "
        f"{thirty.holdout.reciprocation_rate:.3f}"
    )


if __name__ == "__main__":
    main()
