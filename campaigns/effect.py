"""The reciprocation effect of a campaign: treated against holdout over a window after the launch.

For each group and window (30, 60, 90 days after ``launched_at``):

- **reciprocation rate**: the share of the group who bought at least once in the window;
- **revenue per customer** (purchases in the window, gross of refunds) and **purchase frequency**
  (purchases per customer);
- **uplift**: treated minus holdout, for the rate (95 % interval from the normal approximation with
  unpooled variances: ``d +/- 1.96 * sqrt(p1 (1 - p1) / n1 + p2 (1 - p2) / n2)``) and for revenue per
  customer (Welch: ``d +/- 1.96 * sqrt(s1^2 / n1 + s2^2 / n2)``, sample variances);
- **incremental revenue**: revenue-per-customer uplift x treated size; **cost**: what the campaign
  spent, split into the **points cost** (points given, at the programme's point value) and the
  **gift cost** (the rest: vouchers, shipped gifts and samples); **return on cost**: incremental
  revenue / cost;
- for samples, the **sample-to-full-size conversion**: the share who bought one of the products
  the sample introduces.

Intention to treat: the treated group is everyone the draw put in it, including those the stock,
the budget or their gift limits left without a gift. Comparing only the customers who got one with
the whole holdout would be biased (the limits leave out the customers who already got the most
gifts, the stock the ones last in line), so a gift that ran short shows as a smaller effect, not a
skewed one. Each window is one query over a per-customer subquery, whatever the audience size.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, GiftKind
from loyalty.models import Purchase, PurchaseLine
from loyalty.program import program_get

WINDOWS = (30, 60, 90)
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class GroupStats:
    size: int
    buyers: int
    purchases: int
    revenue: Decimal
    reciprocation_rate: float
    revenue_per_customer: float
    revenue_variance: float
    frequency: float
    sample_buyers: int | None
    sample_conversion: float | None


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class WindowEffect:
    days: int
    ends_at: datetime.datetime
    is_complete: bool
    treated: GroupStats
    holdout: GroupStats
    rate_uplift: Interval | None
    revenue_uplift: Interval | None
    incremental_revenue: Decimal | None
    cost: Decimal
    points_cost: Decimal
    gift_cost: Decimal
    return_on_cost: float | None


@dataclass(frozen=True)
class CampaignEffect:
    campaign_id: int
    currency: str
    launched_at: datetime.datetime | None
    windows: list[WindowEffect]

    def as_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


def rate_uplift(treated_buyers: int, treated_n: int, holdout_buyers: int, holdout_n: int) -> Interval | None:
    """Difference in proportions with its 95 % interval (None without both groups)."""
    if treated_n == 0 or holdout_n == 0:
        return None
    p1, p2 = treated_buyers / treated_n, holdout_buyers / holdout_n
    diff = p1 - p2
    margin = Z_95 * math.sqrt(p1 * (1 - p1) / treated_n + p2 * (1 - p2) / holdout_n)
    return Interval(diff, diff - margin, diff + margin)


def mean_uplift(treated: tuple[float, float, int], holdout: tuple[float, float, int]) -> Interval | None:
    """Difference in means with Welch's 95 % interval (normal quantile; None without both groups).
    Each group is ``(mean, sample variance, size)``."""
    (treated_mean, treated_var, treated_n), (holdout_mean, holdout_var, holdout_n) = treated, holdout
    if treated_n == 0 or holdout_n == 0:
        return None
    diff = treated_mean - holdout_mean
    margin = Z_95 * math.sqrt(treated_var / treated_n + holdout_var / holdout_n)
    return Interval(diff, diff - margin, diff + margin)


def _sample_variance(total: float, total_sq: float, n: int) -> float:
    if n < 2:
        return 0.0
    return max((total_sq - total * total / n) / (n - 1), 0.0)


def _group_rows(campaign: Campaign, start: datetime.datetime, end: datetime.datetime) -> dict[str, dict[str, Any]]:
    """Per group: size, buyers, purchases, revenue and the sum of squared per-customer revenue
    (and sample buyers for a sample campaign), in one query."""
    recipients = connection.ops.quote_name(CampaignRecipient._meta.db_table)
    purchases = connection.ops.quote_name(Purchase._meta.db_table)
    lines = connection.ops.quote_name(PurchaseLine._meta.db_table)
    skus = [str(sku) for sku in campaign.introduces_skus or []] if campaign.gift_kind == GiftKind.SAMPLE else []
    sample_sql = "0"
    sample_params: list[Any] = []
    if skus:
        placeholders = ", ".join(["%s"] * len(skus))
        sample_sql = (
            f"CASE WHEN EXISTS (SELECT 1 FROM {purchases} sp JOIN {lines} sl ON sl.purchase_id = sp.id "  # noqa: S608
            f"WHERE sp.customer_id = r.customer_id AND sp.occurred_at > %s AND sp.occurred_at <= %s "
            f"AND sl.sku IN ({placeholders})) THEN 1 ELSE 0 END"
        )
        sample_params = [start, end, *skus]
    sql = (
        "SELECT g, COUNT(*), SUM(CASE WHEN n > 0 THEN 1 ELSE 0 END), SUM(n), SUM(revenue), "  # noqa: S608
        "SUM(revenue * revenue), SUM(sample) FROM ("
        f'SELECT r."group" AS g, r.customer_id, COUNT(p.id) AS n, COALESCE(SUM(p.amount), 0) AS revenue, '
        f"MAX({sample_sql}) AS sample "
        f"FROM {recipients} r LEFT JOIN {purchases} p ON p.customer_id = r.customer_id "
        "AND p.occurred_at > %s AND p.occurred_at <= %s "
        "WHERE r.campaign_id = %s "
        'GROUP BY r."group", r.customer_id) per_customer GROUP BY g'
    )
    params = [
        *sample_params,
        start,
        end,
        campaign.pk,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        row[0]: {
            "size": int(row[1]),
            "buyers": int(row[2] or 0),
            "purchases": int(row[3] or 0),
            "revenue": Decimal(row[4] or 0),
            "revenue_sq": float(row[5] or 0),
            "sample_buyers": int(row[6] or 0) if skus else None,
        }
        for row in rows
    }


def _stats(row: dict[str, Any] | None) -> GroupStats:
    row = row or {
        "size": 0,
        "buyers": 0,
        "purchases": 0,
        "revenue": Decimal(0),
        "revenue_sq": 0.0,
        "sample_buyers": None,
    }
    n = row["size"]
    revenue = float(row["revenue"])
    return GroupStats(
        size=n,
        buyers=row["buyers"],
        purchases=row["purchases"],
        revenue=Decimal(row["revenue"]).quantize(Decimal("0.01")),
        reciprocation_rate=row["buyers"] / n if n else 0.0,
        revenue_per_customer=revenue / n if n else 0.0,
        revenue_variance=_sample_variance(revenue, row["revenue_sq"], n),
        frequency=row["purchases"] / n if n else 0.0,
        sample_buyers=row["sample_buyers"],
        sample_conversion=(row["sample_buyers"] / n if n else 0.0) if row["sample_buyers"] is not None else None,
    )


def campaign_effect(
    campaign: Campaign, *, windows: tuple[int, ...] = WINDOWS, now: datetime.datetime | None = None
) -> CampaignEffect:
    """The treated-against-holdout effect for each window; empty for a campaign not launched."""
    now = now or timezone.now()
    if campaign.launched_at is None:
        return CampaignEffect(campaign.pk, campaign.currency, None, [])
    cost = campaign.spent
    points_given = CampaignRecipient.objects.filter(campaign=campaign).aggregate(total=Sum("points"))["total"] or 0
    points_cost = min((Decimal(points_given) * program_get().point_value).quantize(Decimal("0.01")), cost)
    results = []
    for days in windows:
        end = campaign.launched_at + datetime.timedelta(days=days)
        rows = _group_rows(campaign, campaign.launched_at, min(end, now))
        treated = _stats(rows.get(CampaignRecipient.Group.TREATED))
        holdout = _stats(rows.get(CampaignRecipient.Group.HOLDOUT))
        rate = rate_uplift(treated.buyers, treated.size, holdout.buyers, holdout.size)
        revenue = mean_uplift(
            (treated.revenue_per_customer, treated.revenue_variance, treated.size),
            (holdout.revenue_per_customer, holdout.revenue_variance, holdout.size),
        )
        incremental = (
            (Decimal(str(revenue.estimate)) * treated.size).quantize(Decimal("0.01")) if revenue is not None else None
        )
        results.append(
            WindowEffect(
                days=days,
                ends_at=end,
                is_complete=end <= now,
                treated=treated,
                holdout=holdout,
                rate_uplift=rate,
                revenue_uplift=revenue,
                incremental_revenue=incremental,
                cost=cost,
                points_cost=points_cost,
                gift_cost=cost - points_cost,
                return_on_cost=float(incremental / cost) if incremental is not None and cost > 0 else None,
            )
        )
    return CampaignEffect(campaign.pk, campaign.currency, campaign.launched_at, results)
