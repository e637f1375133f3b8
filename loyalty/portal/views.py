"""The loyalty programme's customer pages. Every read goes through a ``*_for_customer`` selector;
the one write is ``services.reward_redeem``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import segno
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from customers.models import Customer
from customers.portal.views import customer_required
from loyalty import selectors, services
from loyalty.errors import InsufficientPoints, NotEligible, OutOfStock, PayloadConflict, RewardUnavailable
from loyalty.models import Reward, Voucher
from loyalty.portal.forms import RewardRedeemForm

PAGE_SIZE = 20
REDEEM_REFUSALS = (InsufficientPoints, OutOfStock, NotEligible, RewardUnavailable)


@dataclass(frozen=True)
class VoucherShown:
    """A voucher as the pages show it: the code in groups of four, and its status as of now (an
    issued voucher past its expiry shows as expired before the nightly job marks it)."""

    voucher: Voucher
    code_display: str
    is_usable: bool
    status_label: str


def vouchers_shown(vouchers: Iterable[Voucher]) -> list[VoucherShown]:
    now = timezone.now()
    shown = []
    for voucher in vouchers:
        is_expired = voucher.status == Voucher.Status.ISSUED and voucher.expires_at <= now
        shown.append(
            VoucherShown(
                voucher=voucher,
                code_display=services.voucher_code_display(voucher.code),
                is_usable=voucher.status == Voucher.Status.ISSUED and not is_expired,
                status_label=str(Voucher.Status.EXPIRED.label if is_expired else voucher.get_status_display()),
            )
        )
    return shown


def voucher_qr_svg(code: str) -> SafeString:
    """The code as a QR code (a full QR, not a Micro QR: phone cameras read those), inline SVG."""
    qr = segno.make_qr(code, error="m")
    # segno draws the SVG from the code alone (letters and digits): nothing a user wrote reaches it.
    return mark_safe(qr.svg_inline(scale=6, dark="#000", light="#fff"))  # noqa: S308


def _redemption_key(customer: Customer, nonce: uuid.UUID) -> str:
    return f"portal:{customer.pk}:{nonce}"


@customer_required
@require_safe
def history(request: HttpRequest, customer: Customer) -> HttpResponse:
    """The statement, newest first, 20 a page. A page past the end shows the last page; a page
    that is not a number, the first."""
    page = Paginator(selectors.ledger_for_customer(customer), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/loyalty/history.html", {"customer": customer, "page": page})


@customer_required
@require_safe
def rewards(request: HttpRequest, customer: Customer) -> HttpResponse:
    """The rewards this customer's tier opens, each with its cost and whether the balance covers it."""
    summary = selectors.loyalty_summary_for_customer(customer)
    catalogue = [
        {"reward": reward, "points_missing": max(reward.points_cost - summary.balance, 0)}
        for reward in selectors.rewards_for_customer(customer)
    ]
    return render(
        request, "portal/loyalty/rewards.html", {"customer": customer, "summary": summary, "catalogue": catalogue}
    )


@customer_required
@require_http_methods(["GET", "POST"])
def reward_redeem(request: HttpRequest, customer: Customer, reward_id: int) -> HttpResponse:
    """GET: the confirm page with a fresh nonce. POST: redeem once per nonce, then show the voucher.
    A refusal (not enough points, out of stock, tier, unavailable) is a form error and writes
    nothing. A reward this customer cannot see in the catalogue is a 404."""
    reward: Reward | None = selectors.rewards_for_customer(customer).filter(pk=reward_id).first()
    form = RewardRedeemForm.fresh()
    if request.method == "POST":
        posted = RewardRedeemForm(request.POST)
        if posted.is_valid():
            key = _redemption_key(customer, posted.cleaned_data["nonce"])
            if reward is None:
                # This very form may have redeemed already, and taken the last one in stock.
                earlier = selectors.vouchers_for_customer(customer).filter(idempotency_key=key).first()
                if earlier is None:
                    raise Http404
                return redirect("loyalty_portal:voucher", code=earlier.code)
            try:
                result = services.reward_redeem(customer=customer, reward=reward, idempotency_key=key)
            except REDEEM_REFUSALS as refusal:
                posted.add_error(None, ValidationError(refusal.message, code=refusal.code))
                form = posted  # the same nonce: nothing was written under it
            except PayloadConflict:  # a nonce from another reward's page: ask again with a fresh one
                messages.error(request, _("Something went wrong with the form. Please confirm again."))
            else:
                if result.created:
                    messages.success(request, _("Your voucher for %(reward)s is ready.") % {"reward": reward.name})
                else:
                    messages.info(request, _("You have already redeemed this. Here is your voucher."))
                return redirect("loyalty_portal:voucher", code=result.voucher.code)
        elif reward is not None:
            messages.error(request, _("Something went wrong with the form. Please confirm again."))
    if reward is None:
        raise Http404
    summary = selectors.loyalty_summary_for_customer(customer)
    context = {
        "customer": customer,
        "reward": reward,
        "summary": summary,
        "form": form,
        "points_missing": max(reward.points_cost - summary.balance, 0),
        "balance_after": summary.balance - reward.points_cost,
    }
    return render(request, "portal/loyalty/reward_redeem.html", context)


@customer_required
@require_safe
def vouchers(request: HttpRequest, customer: Customer) -> HttpResponse:
    """The customer's vouchers, newest first, 20 a page."""
    page = Paginator(selectors.vouchers_for_customer(customer), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"customer": customer, "page": page, "vouchers": vouchers_shown(page.object_list)}
    return render(request, "portal/loyalty/vouchers.html", context)


@customer_required
@require_safe
def voucher(request: HttpRequest, customer: Customer, code: str) -> HttpResponse:
    """One of this customer's vouchers, with its QR code. Any other code is a 404."""
    found = selectors.vouchers_for_customer(customer).filter(code=services.voucher_code_normalise(code)).first()
    if found is None:
        raise Http404
    (shown,) = vouchers_shown([found])
    context = {"customer": customer, "voucher": found, "shown": shown, "qr_svg": voucher_qr_svg(found.code)}
    return render(request, "portal/loyalty/voucher.html", context)
