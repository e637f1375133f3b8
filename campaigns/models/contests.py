"""Contests and sweepstakes: entries, an auditable draw, winners."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns.models.gifting import Campaign


class ContestEntry(models.Model):
    """Entries a customer holds in a contest, from one source. ``source_key`` makes each source
    count once: ``purchase:<id>``, ``portal`` (the portal action) or ``free`` (no purchase needed)."""

    class Source(models.TextChoices):
        PURCHASE = "purchase", _("Purchase")
        PORTAL = "portal", _("Portal action")
        FREE = "free", _("Free entry (no purchase)")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="entries")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="contest_entries")
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    source_key = models.CharField(_("source key"), max_length=64)
    tickets = models.PositiveIntegerField(_("entries"), default=1)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("contest entry")
        verbose_name_plural = _("contest entries")
        ordering = ["campaign", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer", "source_key"], name="campaigns_entry_once"),
            models.CheckConstraint(condition=models.Q(tickets__gte=1), name="campaigns_entry_tickets_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.tickets} ({self.source})"


class ContestDraw(models.Model):
    """The record of a draw, enough to replay it: the seed, the hash of the entrant list (customer
    id and tickets, in id order) and the winners in rank order. One per contest."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="draw")
    algorithm = models.CharField(_("algorithm"), max_length=32)
    seed = models.CharField(_("seed"), max_length=64)
    entrants_hash = models.CharField(_("entrant list hash (SHA-256)"), max_length=64)
    entrant_count = models.PositiveIntegerField(_("entrants"))
    ticket_count = models.PositiveIntegerField(_("entries"))
    winner_ids = models.JSONField(_("winners (customer ids, by rank)"), default=list)
    drawn_at = models.DateTimeField(_("drawn"))
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("contest draw")
        verbose_name_plural = _("contest draws")

    def __str__(self) -> str:
        return f"{self.campaign}: {self.drawn_at:%Y-%m-%d}"


class ContestWinner(models.Model):
    class Status(models.TextChoices):
        NOTIFIED = "notified", _("Notified")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")

    draw = models.ForeignKey(ContestDraw, on_delete=models.CASCADE, related_name="winners")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="contest_wins")
    rank = models.PositiveSmallIntegerField(_("rank"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NOTIFIED)
    accept_by = models.DateTimeField(_("accept by"))
    responded_at = models.DateTimeField(_("responded"), null=True, blank=True)
    prize_points = models.PositiveIntegerField(_("prize points given"), default=0)

    class Meta:
        verbose_name = _("contest winner")
        verbose_name_plural = _("contest winners")
        ordering = ["draw", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "customer"], name="campaigns_winner_once"),
            models.UniqueConstraint(fields=["draw", "rank"], name="campaigns_winner_rank_once"),
        ]

    def __str__(self) -> str:
        return f"{self.rank}. {self.customer_id}"
