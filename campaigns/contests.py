"""Contests and sweepstakes: entries, a fair draw anyone can replay, winners who accept or decline.

Entries come from three sources, each counted once by its ``source_key``: purchases in the
contest's window (one ticket per ``entry_spend_unit`` spent, rounded down; ``purchase:<id>``), the
portal's "enter" action (``portal``, one ticket, when ``portal_entry`` is on) and the free route
(``free``, one ticket, open to every member even outside the contest's audience: no purchase
necessary). Entering locks the contest row in share mode and the draw locks it exclusively, so
no entry can slip in while the contest is being drawn.

The draw (``contest_draw``) is recorded once, with everything needed to replay it:

1. Entrants are snapshotted at draw time: the customers with entries created at or before the
   draw who are still active (not blocked, not erased), each with the sum of their tickets.
2. The entrant list is serialised canonically as compact JSON, ``[[customer_id,tickets],...]``
   sorted by customer id (``[[3,2],[7,1]]``), and hashed with SHA-256 (``entrants_hash``).
3. The seed is 32 random bytes from ``secrets`` (64 hex characters), drawn after the list is fixed.
4. Winners are picked without replacement, weighted by tickets (``ALGORITHM``): for counter
   0, 1, 2, ... compute ``HMAC-SHA256(key=bytes.fromhex(seed), msg=ascii(str(counter)))`` as a
   256-bit big-endian integer ``v``; with ``T`` the tickets still in the pool, reject ``v`` when
   ``v >= 2**256 - (2**256 % T)`` (so every ticket is exactly equally likely), else ticket
   ``v % T`` falls in one entrant's cumulative range (entrants in id order); that entrant wins the
   next rank and leaves the pool with all their tickets. Repeat until ``winners_count`` winners
   or no entrants are left.

``contest_draw_replay`` repeats steps 1, 2 and 4 from the stored seed and reports whether the
entrant list still hashes to the recorded value, so an auditor needs only the record and the
entries (and can check by hand with the recipe above).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import re
import secrets
import zoneinfo
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    CharField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns.models import Campaign, ContestDraw, ContestEntry, ContestWinner
from core.errors import Conflict, DomainError, NotFound
from customers import outbox
from customers.models import Customer, MessagePurpose, SegmentMember, User
from loyalty import services as loyalty_services
from loyalty.models import LedgerEntry, Purchase

logger = logging.getLogger(__name__)

ALGORITHM = "hmac-sha256-weighted-v1"
SEED_PATTERN = re.compile(r"^[0-9a-f]{64}$")
SOURCE_KEY_PORTAL = "portal"
SOURCE_KEY_FREE = "free"
_TWO_256 = 1 << 256


# --- Errors ------------------------------------------------------------------------------------------


class NotAContest(DomainError):
    code = "not_a_contest"
    default_message = _("This campaign is not a contest.")


class ContestNotOpen(Conflict):
    code = "contest_not_open"
    default_message = _("This contest is not open for entries.")


class ContestEntryRefused(Conflict):
    code = "contest_entry_refused"
    default_message = _("You cannot enter this contest this way.")


class ContestEntryInvalid(DomainError):
    code = "contest_entry_invalid"
    default_message = _("The entry is not valid.")


class ContestAlreadyDrawn(Conflict):
    code = "contest_already_drawn"
    default_message = _("This contest has already been drawn.")


class ContestNotDrawable(Conflict):
    code = "contest_not_drawable"
    default_message = _("Only a running or completed contest can be drawn.")


class ContestStillOpen(Conflict):
    code = "contest_still_open"
    default_message = _("The contest is still open for entries; draw it after it ends.")


class InvalidSeed(DomainError):
    code = "invalid_seed"
    default_message = _("A seed is 64 lowercase hexadecimal characters.")


class ContestWinClosed(Conflict):
    code = "contest_win_closed"
    default_message = _("This prize has already been answered for.")


class ContestWinExpired(Conflict):
    code = "contest_win_expired"
    default_message = _("The time to accept this prize has passed.")


# --- Entries -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContestEntered:
    entry: ContestEntry
    created: bool


def contest_is_open(campaign: Campaign, now: datetime.datetime) -> bool:
    """Running and inside its window (``starts_at`` included, ``ends_at`` excluded). Not drawn is
    checked apart (a drawn contest is completed, so it is no longer running either)."""
    return (
        campaign.kind == Campaign.Kind.CONTEST
        and campaign.status == Campaign.Status.RUNNING
        and (campaign.starts_at is None or campaign.starts_at <= now)
        and (campaign.ends_at is None or now < campaign.ends_at)
    )


def _open_contests(now: datetime.datetime) -> QuerySet[Campaign]:
    return (
        Campaign.objects.filter(kind=Campaign.Kind.CONTEST, status=Campaign.Status.RUNNING)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .exclude(Exists(ContestDraw.objects.filter(campaign=OuterRef("pk"))))
    )


def _share_lock(campaign_id: int) -> None:
    """Hold the contest row in share mode until commit: entries run side by side, but the draw's
    exclusive lock waits for them (and they for it). SQLite runs one writer at a time anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {Campaign._meta.db_table} WHERE id = %s FOR SHARE", [campaign_id])  # noqa: S608


def _source_key_valid(source: str, source_key: str) -> bool:
    if source == ContestEntry.Source.PORTAL:
        return source_key == SOURCE_KEY_PORTAL
    if source == ContestEntry.Source.FREE:
        return source_key == SOURCE_KEY_FREE
    if source == ContestEntry.Source.PURCHASE:
        return re.fullmatch(r"purchase:[1-9][0-9]{0,18}", source_key) is not None
    return False


def _find_entry(campaign: Campaign, customer: Customer, source_key: str) -> ContestEntry | None:
    return ContestEntry.objects.filter(campaign=campaign, customer=customer, source_key=source_key).first()


@transaction.atomic
def contest_enter(
    *, campaign: Campaign, customer: Customer, source: str, source_key: str, tickets: int
) -> ContestEntered:
    """Give ``customer`` ``tickets`` entries in ``campaign`` from one source, once per
    ``source_key`` (``purchase:<id>``, ``portal`` or ``free``): a repeat returns the first entry
    (``created=False``) and writes nothing, whatever the contest's state now.

    Refused, writing nothing: not a contest (``NotAContest``); not running, outside its window or
    drawn (``ContestNotOpen``); a customer who is not active, a portal entry when the contest has
    none, or a purchase or portal entry from outside the contest's audience
    (``ContestEntryRefused``; the free route is open to every member); a source key that does not
    match the source, or tickets below one (``ContestEntryInvalid``).

    Holds the contest row in share mode (PostgreSQL) until commit, so an entry either lands before
    the draw or is refused after it.
    """
    if source not in ContestEntry.Source.values or not _source_key_valid(source, source_key):
        raise ContestEntryInvalid(source=source, source_key=source_key)
    if isinstance(tickets, bool) or not isinstance(tickets, int) or tickets < 1:
        raise ContestEntryInvalid(_("An entry has at least one ticket."), tickets=tickets)
    if source != ContestEntry.Source.PURCHASE and tickets != 1:
        raise ContestEntryInvalid(_("A portal or free entry is one ticket."), tickets=tickets)
    existing = _find_entry(campaign, customer, source_key)
    if existing is not None:
        return ContestEntered(entry=existing, created=False)
    if campaign.kind != Campaign.Kind.CONTEST:
        raise NotAContest()
    _share_lock(campaign.pk)
    campaign = Campaign.objects.get(pk=campaign.pk)
    existing = _find_entry(campaign, customer, source_key)
    if existing is not None:  # entered meanwhile, by a parallel request for the same source
        return ContestEntered(entry=existing, created=False)
    now = timezone.now()
    if not contest_is_open(campaign, now) or ContestDraw.objects.filter(campaign=campaign).exists():
        raise ContestNotOpen()
    if not Customer.objects.filter(pk=customer.pk, status=Customer.Status.ACTIVE).exists():
        raise ContestEntryRefused(_("Only active members can enter."), code="customer_not_active")
    if source == ContestEntry.Source.PORTAL and not campaign.portal_entry:
        raise ContestEntryRefused(_("This contest cannot be entered from the portal."), code="contest_portal_entry_off")
    if (
        source != ContestEntry.Source.FREE
        and campaign.segment_id is not None
        and not SegmentMember.objects.filter(segment_id=campaign.segment_id, customer=customer).exists()
    ):
        raise ContestEntryRefused(_("This contest is for another audience."), code="contest_not_in_audience")
    entry = ContestEntry(campaign=campaign, customer=customer, source=source, source_key=source_key, tickets=tickets)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        existing = _find_entry(campaign, customer, source_key)
        if existing is None:  # pragma: no cover - the integrity error was about something else
            raise
        return ContestEntered(entry=existing, created=False)
    return ContestEntered(entry=entry, created=True)


def contest_enter_portal(*, campaign: Campaign, customer: Customer) -> ContestEntered:
    """The portal's "enter" button: one ticket, once, for the contest's audience."""
    return contest_enter(
        campaign=campaign,
        customer=customer,
        source=ContestEntry.Source.PORTAL,
        source_key=SOURCE_KEY_PORTAL,
        tickets=1,
    )


def contest_enter_free(*, campaign: Campaign, customer: Customer) -> ContestEntered:
    """The free entry route (no purchase necessary): one ticket, once, for every member."""
    return contest_enter(
        campaign=campaign, customer=customer, source=ContestEntry.Source.FREE, source_key=SOURCE_KEY_FREE, tickets=1
    )


def purchase_key(purchase_id: int) -> str:
    return f"purchase:{purchase_id}"


def _contests_for_purchase(purchase: Purchase) -> QuerySet[Campaign]:
    """Running, undrawn contests with purchase entries whose window holds the purchase."""
    return (
        Campaign.objects.filter(
            kind=Campaign.Kind.CONTEST,
            status=Campaign.Status.RUNNING,
            entry_spend_unit__isnull=False,
            currency=purchase.currency,
        )
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=purchase.occurred_at))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=purchase.occurred_at))
        .exclude(Exists(ContestDraw.objects.filter(campaign=OuterRef("pk"))))
        .order_by("pk")
    )


def contest_entries_for_purchase(*, purchase_id: int) -> list[ContestEntry]:
    """Enter the purchase's customer in every running contest with purchase entries whose window
    holds the purchase: ``floor((amount - refunded) / entry_spend_unit)`` tickets, keyed
    ``purchase:<id>``, each contest in its own transaction. A purchase below one unit, in another
    currency, or from a customer outside a contest's audience earns nothing there. Returns the
    entries the purchase holds (new or earlier); safe to run any number of times."""
    purchase = Purchase.objects.select_related("customer").filter(pk=purchase_id).first()
    if purchase is None:
        return []
    entries = []
    net = purchase.amount - purchase.refunded_amount
    for contest in _contests_for_purchase(purchase):
        assert contest.entry_spend_unit is not None  # filtered above
        tickets = int(net // contest.entry_spend_unit)
        if tickets < 1:
            continue
        try:
            entered = contest_enter(
                campaign=contest,
                customer=purchase.customer,
                source=ContestEntry.Source.PURCHASE,
                source_key=purchase_key(purchase.pk),
                tickets=tickets,
            )
        except (ContestNotOpen, ContestEntryRefused):
            continue
        entries.append(entered.entry)
    return entries


def contest_purchases_without_entries(*, now: datetime.datetime | None = None, limit: int = 500) -> list[int]:
    """Purchases that should hold entries in an open contest but do not: their event was lost
    (broker down, worker killed). One query per open contest with purchase entries; the sweep
    enqueues them. The audience and currency rules are the same as ``contest_entries_for_purchase``."""
    now = now or timezone.now()
    found: set[int] = set()
    contests = _open_contests(now).filter(entry_spend_unit__isnull=False).order_by("pk")
    for contest in contests:
        purchases = Purchase.objects.filter(currency=contest.currency, customer__status=Customer.Status.ACTIVE)
        if contest.starts_at is not None:
            purchases = purchases.filter(occurred_at__gte=contest.starts_at)
        if contest.ends_at is not None:
            purchases = purchases.filter(occurred_at__lt=contest.ends_at)
        if contest.segment_id is not None:
            purchases = purchases.filter(
                Exists(SegmentMember.objects.filter(segment_id=contest.segment_id, customer=OuterRef("customer")))
            )
        keyed = purchases.annotate(
            net=F("amount") - F("refunded_amount"),
            entry_key=Concat(Value("purchase:"), Cast("pk", output_field=CharField()), output_field=CharField()),
        ).filter(net__gte=contest.entry_spend_unit)
        entered = ContestEntry.objects.filter(
            campaign=contest, customer=OuterRef("customer"), source_key=OuterRef("entry_key")
        )
        found.update(keyed.exclude(Exists(entered)).order_by("pk").values_list("pk", flat=True)[:limit])
    return sorted(found)[:limit]


# --- The draw ----------------------------------------------------------------------------------------


def contest_entrants(campaign: Campaign, *, as_of: datetime.datetime) -> list[tuple[int, int]]:
    """The entrant list as of a moment: ``(customer id, tickets)`` of every active customer with
    entries created at or before ``as_of``, in customer id order. One query."""
    rows = (
        ContestEntry.objects.filter(campaign=campaign, created_at__lte=as_of, customer__status=Customer.Status.ACTIVE)
        .values("customer_id")
        .annotate(total=Sum("tickets"))
        .order_by("customer_id")
        .values_list("customer_id", "total")
    )
    return [(int(customer_id), int(total)) for customer_id, total in rows]


def entrants_serialise(entrants: Sequence[tuple[int, int]]) -> str:
    """The canonical form that is hashed: compact JSON ``[[customer_id,tickets],...]`` in id order."""
    return json.dumps([[customer_id, tickets] for customer_id, tickets in sorted(entrants)], separators=(",", ":"))


def entrants_hash(entrants: Sequence[tuple[int, int]]) -> str:
    return hashlib.sha256(entrants_serialise(entrants).encode("utf-8")).hexdigest()


def contest_winners_pick(*, seed: str, entrants: Sequence[tuple[int, int]], count: int) -> list[int]:
    """The winners, by rank, that ``seed`` picks from ``entrants`` (see the module's docstring for
    the algorithm). Deterministic: the same seed and list always give the same winners."""
    if not SEED_PATTERN.match(seed):
        raise InvalidSeed()
    key = bytes.fromhex(seed)
    pool = sorted(entrants)
    winners: list[int] = []
    counter = 0
    while pool and len(winners) < count:
        cumulative = list(accumulate(tickets for _customer_id, tickets in pool))
        total = cumulative[-1]
        value = int.from_bytes(hmac.new(key, str(counter).encode("ascii"), hashlib.sha256).digest(), "big")
        counter += 1
        if value >= _TWO_256 - (_TWO_256 % total):
            continue  # rejection sampling: no ticket is favoured by the modulo
        index = bisect_right(cumulative, value % total)
        winners.append(pool.pop(index)[0])
    return winners


def contest_portal_link() -> str:
    """The absolute link to the customer's gifts and contests page (the portal home until the
    campaigns portal is mounted)."""
    try:
        path = reverse("campaigns-portal:gifts")
    except NoReverseMatch:
        path = reverse("portal:home")
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def contest_prize_text(campaign: Campaign) -> str:
    """What the winner gets, in the active language: the prize as staff wrote it, else the points."""
    if campaign.prize_description:
        return campaign.prize_description
    if campaign.prize_points:
        return ngettext("%(points)s bonus point", "%(points)s bonus points", campaign.prize_points) % {
            "points": campaign.prize_points
        }
    return ""


def _local(moment: datetime.datetime, customer: Customer) -> datetime.datetime:
    try:
        zone = zoneinfo.ZoneInfo(customer.time_zone) if customer.time_zone else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = None
    return timezone.localtime(moment, zone)


def _winner_notify(winner: ContestWinner, campaign: Campaign, customer: Customer, link: str) -> None:
    with translation.override(customer.language):
        context = {
            "campaign": campaign.name,
            "prize": contest_prize_text(campaign),
            "deadline": formats.date_format(_local(winner.accept_by, customer), "SHORT_DATE_FORMAT"),
            "link": link,
        }
    outbox.message_queue(
        customer=customer,
        purpose=MessagePurpose.CONTEST_WINNER,
        idempotency_key=f"contest-winner:{winner.pk}",
        context=context,
        is_marketing=False,  # the winner's notice is part of the contest they entered
    )


@transaction.atomic
def contest_draw(*, campaign: Campaign, by: User | None = None, seed: str | None = None) -> ContestDraw:
    """Draw the winners of a contest, once, and record the draw so anyone can replay it.

    Locks the contest row (waiting for entries being written), snapshots the entrants, hashes
    the list, takes a fresh ``secrets`` seed (or ``seed``, for tests and re-enactments), picks
    ``winners_count`` winners (fewer when fewer entered) and writes the ``ContestDraw``, a
    ``ContestWinner`` per winner (``accept_by`` = now + ``accept_days``), marks the contest
    completed, and queues each winner's ``contest_winner`` message (transactional, sent after
    commit). A contest with no entrants is drawn too, with no winners, which closes it.

    Refused, writing nothing: not a contest; drawn already (``ContestAlreadyDrawn``, also for a
    draw running in parallel); not running or completed (``ContestNotDrawable``); ``ends_at``
    still ahead (``ContestStillOpen``); a malformed seed (``InvalidSeed``).
    """
    if seed is not None and not SEED_PATTERN.match(seed):
        raise InvalidSeed()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.kind != Campaign.Kind.CONTEST:
        raise NotAContest()
    if ContestDraw.objects.filter(campaign=campaign).exists():
        raise ContestAlreadyDrawn()
    if campaign.status not in (Campaign.Status.RUNNING, Campaign.Status.COMPLETED):
        raise ContestNotDrawable()
    now = timezone.now()
    if campaign.ends_at is not None and campaign.ends_at > now:
        raise ContestStillOpen(ends_at=campaign.ends_at.isoformat())
    entrants = contest_entrants(campaign, as_of=now)
    seed = seed or secrets.token_hex(32)
    winner_ids = contest_winners_pick(seed=seed, entrants=entrants, count=campaign.winners_count)
    draw = ContestDraw.objects.create(
        campaign=campaign,
        algorithm=ALGORITHM,
        seed=seed,
        entrants_hash=entrants_hash(entrants),
        entrant_count=len(entrants),
        ticket_count=sum(tickets for _customer_id, tickets in entrants),
        winner_ids=winner_ids,
        drawn_at=now,
        drawn_by=by,
    )
    accept_by = now + datetime.timedelta(days=campaign.accept_days)
    winners = ContestWinner.objects.bulk_create(
        ContestWinner(draw=draw, customer_id=customer_id, rank=rank, accept_by=accept_by)
        for rank, customer_id in enumerate(winner_ids, start=1)
    )
    if campaign.status != Campaign.Status.COMPLETED:
        campaign.status = Campaign.Status.COMPLETED
        campaign.completed_at = now
        campaign.save(update_fields=["status", "completed_at", "updated_at"])
    customers = Customer.objects.in_bulk(winner_ids)
    link = contest_portal_link()
    for winner in winners:
        _winner_notify(winner, campaign, customers[winner.customer_id], link)
    logger.info(
        "campaigns: contest %s drawn: %s entrants, %s tickets, winners %s",
        campaign.pk,
        draw.entrant_count,
        draw.ticket_count,
        winner_ids,
    )
    return draw


class DrawReplay(list[int]):
    """The winners a replay picks, by rank (equal to ``draw.winner_ids`` when all is well), with
    what the audit found: the hash of the entrant list as it is now, and whether it matches."""

    entrants_hash: str
    hash_matches: bool
    entrant_count: int
    ticket_count: int
    draw_winner_ids: list[int]

    @property
    def is_confirmed(self) -> bool:
        """The same entrants (by hash) and the same winners as recorded."""
        return self.hash_matches and list(self) == self.draw_winner_ids


def contest_draw_replay(draw: ContestDraw) -> DrawReplay:
    """Replay a recorded draw: the entrants as of ``drawn_at`` (the same snapshot rules), hashed,
    and the winners picked from the stored seed. A list of winner ids (compare with
    ``draw.winner_ids``) carrying ``hash_matches``: False when entries of the draw's time were
    added, changed or removed since, or an entrant's status changed (blocked, erased). Reads
    only."""
    entrants = contest_entrants(draw.campaign, as_of=draw.drawn_at)
    # As many winners as were drawn (the campaign's ``winners_count`` may be edited afterwards).
    replay = DrawReplay(contest_winners_pick(seed=draw.seed, entrants=entrants, count=len(draw.winner_ids)))
    replay.entrants_hash = entrants_hash(entrants)
    replay.hash_matches = hmac.compare_digest(replay.entrants_hash, draw.entrants_hash)
    replay.entrant_count = len(entrants)
    replay.ticket_count = sum(tickets for _customer_id, tickets in entrants)
    replay.draw_winner_ids = [int(customer_id) for customer_id in draw.winner_ids]
    return replay


# --- Winners -----------------------------------------------------------------------------------------


def prize_key(winner_id: int) -> str:
    return f"contest-prize:{winner_id}"


@transaction.atomic
def contest_winner_respond(
    *, winner: ContestWinner, accept: bool, now: datetime.datetime | None = None
) -> ContestWinner:
    """The winner accepts or declines the prize, once. Accepting grants ``prize_points`` (if any)
    with ``points_earn`` (kind gift, keyed per winner); the physical prize is staff's to send.

    Locks the winner row. The same answer again (a double click) returns the row unchanged and
    grants nothing more; another answer after the first, or any answer after ``accept_by``, is
    refused (``ContestWinClosed``, ``ContestWinExpired``) and writes nothing.
    """
    now = now or timezone.now()
    winner = (
        ContestWinner.objects.select_for_update(of=("self",))
        .select_related("draw__campaign", "customer")
        .get(pk=winner.pk)
    )
    wanted = ContestWinner.Status.ACCEPTED if accept else ContestWinner.Status.DECLINED
    if winner.status == wanted:
        return winner
    if winner.status != ContestWinner.Status.NOTIFIED:
        raise ContestWinClosed(status=winner.status)
    if now > winner.accept_by:
        raise ContestWinExpired(accept_by=winner.accept_by.isoformat())
    campaign = winner.draw.campaign
    if accept and campaign.prize_points:
        loyalty_services.points_earn(
            customer=winner.customer,
            amount=campaign.prize_points,
            kind=LedgerEntry.Kind.GIFT,
            reason=f"Contest prize: {campaign.name}"[:255],
            idempotency_key=prize_key(winner.pk),
        )
        winner.prize_points = campaign.prize_points
    winner.status = wanted
    winner.responded_at = now
    winner.save(update_fields=["status", "responded_at", "prize_points"])
    return winner


def contest_wins_expire(*, now: datetime.datetime | None = None) -> int:
    """Mark every win not answered by its ``accept_by`` as expired; one UPDATE. Returns how many.
    Safe to run any number of times (only ``notified`` rows past their date change)."""
    now = now or timezone.now()
    return ContestWinner.objects.filter(status=ContestWinner.Status.NOTIFIED, accept_by__lt=now).update(
        status=ContestWinner.Status.EXPIRED
    )


# --- Reads for the portal ----------------------------------------------------------------------------


def _my_tickets(customer: Customer) -> Coalesce:
    mine = (
        ContestEntry.objects.filter(campaign=OuterRef("pk"), customer=customer)
        .values("campaign")
        .annotate(total=Sum("tickets"))
        .values("total")
    )
    return Coalesce(Subquery(mine, output_field=IntegerField()), Value(0))


def contests_open_for_customer(customer: Customer, *, now: datetime.datetime | None = None) -> QuerySet[Campaign]:
    """Contests open now (running, in their window, not drawn), each annotated for this customer:
    ``in_audience`` (may enter by purchase or portal), ``tickets`` held, ``has_portal_entry`` and
    ``has_free_entry``. Every member sees every open contest: the free route is open to all. One query."""
    now = now or timezone.now()
    mine = ContestEntry.objects.filter(campaign=OuterRef("pk"), customer=customer)
    return (
        _open_contests(now)
        .annotate(
            in_audience=Q(segment__isnull=True)
            | Exists(SegmentMember.objects.filter(segment=OuterRef("segment"), customer=customer)),
            tickets=_my_tickets(customer),
            has_portal_entry=Exists(mine.filter(source_key=SOURCE_KEY_PORTAL)),
            has_free_entry=Exists(mine.filter(source_key=SOURCE_KEY_FREE)),
        )
        .order_by(F("ends_at").asc(nulls_last=True), "pk")
    )


def contest_visible(campaign_id: int) -> Campaign:
    """A contest members may see in the portal: running or completed (drafts, scheduled and
    cancelled contests are not public); ``NotFound`` otherwise."""
    found = (
        Campaign.objects.filter(
            pk=campaign_id,
            kind=Campaign.Kind.CONTEST,
            status__in=(Campaign.Status.RUNNING, Campaign.Status.COMPLETED),
        )
        .select_related("segment")
        .first()
    )
    if found is None:
        raise NotFound()
    return found


def contest_wins_awaiting_answer_for_customer(
    customer: Customer, *, now: datetime.datetime | None = None
) -> QuerySet[ContestWinner]:
    """This customer's wins still waiting for their answer (before ``accept_by``), soonest first."""
    now = now or timezone.now()
    return (
        ContestWinner.objects.filter(customer=customer, status=ContestWinner.Status.NOTIFIED, accept_by__gte=now)
        .select_related("draw__campaign")
        .order_by("accept_by", "pk")
    )


@dataclass(frozen=True)
class ContestEnteredView:
    campaign: Campaign
    tickets: int
    is_drawn: bool
    win: ContestWinner | None


def contests_entered_for_customer(customer: Customer, *, limit: int = 20) -> list[ContestEnteredView]:
    """The contests this customer entered, newest first, with their tickets, whether drawn, and
    their win (if any). Two queries, whatever the number of contests and entries."""
    campaigns = list(
        Campaign.objects.filter(Exists(ContestEntry.objects.filter(campaign=OuterRef("pk"), customer=customer)))
        .annotate(
            tickets=_my_tickets(customer),
            is_drawn=Exists(ContestDraw.objects.filter(campaign=OuterRef("pk"))),
        )
        .order_by("-created_at", "-pk")[:limit]
    )
    wins = {
        win.draw.campaign_id: win
        for win in ContestWinner.objects.filter(
            customer=customer, draw__campaign__in=[campaign.pk for campaign in campaigns]
        ).select_related("draw")
    }
    return [
        ContestEnteredView(
            campaign=campaign,
            tickets=campaign.tickets,
            is_drawn=campaign.is_drawn,
            win=wins.get(campaign.pk),
        )
        for campaign in campaigns
    ]


def contest_win_for_customer(customer: Customer, winner_id: int) -> ContestWinner:
    """One of this customer's wins; ``NotFound`` for anyone else's."""
    found = ContestWinner.objects.select_related("draw__campaign").filter(pk=winner_id, customer=customer).first()
    if found is None:
        raise NotFound()
    return found
