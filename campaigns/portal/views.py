"""The campaigns app's customer pages: "My gifts" (gifts received, gifts to choose, contests), the
gift choice, contest entries and the winner's answer. Every read is scoped to the signed-in
customer; each write is one service call whose refusal is shown as a message or form error."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from campaigns import choices, contests
from campaigns.models import Campaign, CampaignRecipient
from campaigns.portal.forms import ContestWinRespondForm, GiftChooseForm
from core.errors import DomainError, NotFound
from customers.models import Customer
from customers.portal.views import customer_required

GIFTS = "campaigns-portal:gifts"


@customer_required
@require_safe
def gifts(request: HttpRequest, customer: Customer) -> HttpResponse:
    """Gifts to choose, contests open and entered, gifts received. A constant number of queries."""
    now = timezone.now()
    awaiting = [
        (
            recipient,
            GiftChooseForm(options=recipient.campaign.options.all(), preferred_kind=customer.preferred_reward_kind),
        )
        for recipient in choices.gifts_awaiting_choice_for_customer(customer, now=now)
    ]
    context = {
        "customer": customer,
        "now": now,
        "awaiting": awaiting,
        "contests_open": list(contests.contests_open_for_customer(customer, now=now)),
        "contests_entered": contests.contests_entered_for_customer(customer),
        "received": list(choices.gifts_received_for_customer(customer)),
    }
    return render(request, "portal/campaigns/gifts.html", context)


@customer_required
@require_http_methods(["GET", "POST"])
def gift_choose(request: HttpRequest, customer: Customer, recipient_id: int) -> HttpResponse:
    """GET: the options as radio cards, the customer's preference selected. POST: choose once; a
    repeat of the same choice is a success, a refusal (deadline passed, chosen already) a form
    error. Another customer's gift is a 404."""
    try:
        recipient = choices.gift_choice_for_customer(customer, recipient_id)
    except NotFound as missing:
        raise Http404 from missing
    options = list(recipient.campaign.options.all())
    posted = request.POST if request.method == "POST" else None
    form = GiftChooseForm(posted, options=options, preferred_kind=customer.preferred_reward_kind)
    if request.method == "POST":
        if form.is_valid():
            option = form.cleaned_data["option"]
            try:
                choices.gift_choose(recipient=recipient, option=option, by_customer=True)
            except DomainError as refusal:
                form.add_error(None, refusal.message)
            else:
                messages.success(request, _("Thank you! Your gift: %(gift)s.") % {"gift": option.label})
                return redirect(GIFTS)
    elif recipient.status != CampaignRecipient.Status.AWAITING_CHOICE:
        messages.info(request, _("You have already chosen this gift."))
        return redirect(GIFTS)
    deadline = recipient.campaign.choice_deadline
    context = {
        "customer": customer,
        "recipient": recipient,
        "campaign": recipient.campaign,
        "form": form,
        "options": options,
        "is_past_deadline": deadline is not None and deadline < timezone.now(),
    }
    return render(request, "portal/campaigns/gift_choose.html", context)


def _contest_or_404(campaign_id: int) -> Campaign:
    try:
        return contests.contest_visible(campaign_id)
    except NotFound as missing:
        raise Http404 from missing


@customer_required
@require_POST
def contest_enter(request: HttpRequest, customer: Customer, campaign_id: int) -> HttpResponse:
    """The "enter" button (one ticket, once). A contest that is not public is a 404."""
    campaign = _contest_or_404(campaign_id)
    try:
        entered = contests.contest_enter_portal(campaign=campaign, customer=customer)
    except DomainError as refusal:
        messages.error(request, refusal.message)
    else:
        if entered.created:
            messages.success(request, _("You are in the draw for %(contest)s. Good luck!") % {"contest": campaign.name})
        else:
            messages.info(request, _("You have already entered %(contest)s.") % {"contest": campaign.name})
    return redirect(GIFTS)


@customer_required
@require_http_methods(["GET", "POST"])
def contest_free_entry(request: HttpRequest, customer: Customer, campaign_id: int) -> HttpResponse:
    """The free entry route, no purchase necessary: a page that says so and a button (one ticket,
    once per customer), open to every member whatever the contest's audience."""
    campaign = _contest_or_404(campaign_id)
    if request.method == "POST":
        try:
            entered = contests.contest_enter_free(campaign=campaign, customer=customer)
        except DomainError as refusal:
            messages.error(request, refusal.message)
        else:
            if entered.created:
                messages.success(request, _("Your free entry is in the draw. Good luck!"))
            else:
                messages.info(request, _("You have already used your free entry for this contest."))
            return redirect(GIFTS)
    shown = contests.contests_open_for_customer(customer).filter(pk=campaign.pk).first()
    context = {"customer": customer, "campaign": shown or campaign, "is_open": shown is not None}
    return render(request, "portal/campaigns/free_entry.html", context)


@customer_required
@require_POST
def contest_win_respond(request: HttpRequest, customer: Customer, winner_id: int) -> HttpResponse:
    """Accept or decline a prize; the same answer twice is harmless. Another customer's win is a 404."""
    try:
        winner = contests.contest_win_for_customer(customer, winner_id)
    except NotFound as missing:
        raise Http404 from missing
    form = ContestWinRespondForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to accept or decline the prize."))
        return redirect(GIFTS)
    try:
        contests.contest_winner_respond(winner=winner, accept=form.is_accept)
    except DomainError as refusal:
        messages.error(request, refusal.message)
    else:
        if form.is_accept:
            messages.success(request, _("Congratulations! Your prize is confirmed."))
        else:
            messages.info(request, _("You have declined the prize. Thank you for taking part."))
    return redirect(GIFTS)
