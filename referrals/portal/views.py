"""The referral pages: the link that opens the sign-up, the sign-up itself, and a member's own
referrals. Every read of a member's data is scoped to the signed-in customer."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from core.addresses import client_address
from core.errors import DomainError
from customers.models import Customer
from customers.portal.views import customer_required
from customers.services import email_verification_send
from referrals import selectors, services
from referrals.models import ReferralProgram
from referrals.portal.forms import JoinForm
from referrals.program import referral_program_get

COOKIE_NAME = "vv_referral"
COOKIE_SALT = "vastavuoro.referrals.code"
PAGE_SIZE = 20


def _cookie_max_age(program: ReferralProgram) -> int:
    return program.attribution_days * 24 * 60 * 60


def remembered_code(request: HttpRequest, program: ReferralProgram) -> str:
    """The code a referral link left in this browser, while the attribution window lasts."""
    value = request.get_signed_cookie(COOKIE_NAME, default="", salt=COOKIE_SALT, max_age=_cookie_max_age(program))
    return services.referral_code_normalise(value or "")


@require_safe
def link_open(request: HttpRequest, code: str) -> HttpResponse:
    """``/r/<code>/``: count the opening, remember the code in a signed cookie for the attribution
    window, and open the sign-up with the code filled in. An unknown code opens the sign-up too,
    with a gentle word and nothing remembered."""
    found = services.referral_link_open(code=code)
    join = reverse("referrals_portal:join")
    if found is None:
        messages.info(
            request, _("That invitation link is not valid any more, but you are welcome to join all the same.")
        )
        return redirect(join)
    response = HttpResponseRedirect(f"{join}?{urlencode({'code': found.code})}")
    response.set_signed_cookie(
        COOKIE_NAME,
        found.code,
        salt=COOKIE_SALT,
        max_age=_cookie_max_age(referral_program_get()),
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


def _signed_in_customer(request: HttpRequest) -> Customer | None:
    if not request.user.is_authenticated:
        return None
    return Customer.objects.filter(user=request.user, status=Customer.Status.ACTIVE).first()


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    """Sign up, with or without a friend's code (from the link's ``?code=``, the remembered
    cookie, or typed). A valid form calls ``services.member_join``; a refusal (the e-mail has an
    account, a code that is the member's own) is a form error and writes nothing. Then the new
    member is signed in: e-mail verification, when it comes, goes in ``_joined``."""
    if _signed_in_customer(request) is not None:
        return redirect("portal:home")
    program = referral_program_get()
    code = services.referral_code_normalise(request.GET.get("code", "")) or remembered_code(request, program)
    form = JoinForm(request.POST or None, initial={"language": translation.get_language(), "code": code})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            joined = services.member_join(
                email=data["email"],
                password=data["password"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                language=data["language"],
                email_consent=data["email_consent"],
                code=data["code"],
                network_address=client_address(request),
            )
        except DomainError as refusal:
            field = "email" if refusal.code == "email_taken" else "code"
            form.add_error(field, ValidationError(refusal.message, code=refusal.code))
        else:
            return _joined(request, joined)
    referrer = services.referral_code_find(form["code"].value() or "") if program.is_enabled else None
    context = {
        "form": form,
        "program": program,
        "referrer_name": services.friend_display_name(referrer.customer) if referrer else "",
    }
    return render(request, "portal/referrals/join.html", context)


def _joined(request: HttpRequest, joined: services.Joined) -> HttpResponse:
    login(request, joined.user, backend="customers.auth.CustomerBackend")
    email_verification_send(customer=joined.customer, request_base_url=request.build_absolute_uri("/"))
    language = joined.customer.language
    translation.activate(language)
    response = redirect("portal:home")
    response.delete_cookie(COOKIE_NAME, samesite="Lax")
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
    if joined.referral is not None:
        messages.success(
            request,
            _("Welcome! Your friend's code is saved: make your first purchase and you both get a reward."),
        )
    else:
        messages.success(request, _("Welcome! Your account is ready."))
    return response


def share_links(link: str) -> dict[str, str]:
    """Share the link by e-mail, WhatsApp and Telegram: plain links, no third-party script."""
    text = _("Join me at Vastavuoro: sign up with my link and we both get a reward.")
    subject = _("An invitation from a friend")
    return {
        "email": f"mailto:?{urlencode({'subject': subject, 'body': f'{text} {link}'}, quote_via=quote)}",
        "whatsapp": f"https://wa.me/?{urlencode({'text': f'{text} {link}'}, quote_via=quote)}",
        "telegram": f"https://t.me/share/url?{urlencode({'url': link, 'text': text}, quote_via=quote)}",
    }


@customer_required
@require_safe
def mine(request: HttpRequest, customer: Customer) -> HttpResponse:
    """My link and code with copy and share buttons, what my referrals earned, and my referrals
    (each friend shown by first name and initial only), newest first, 20 a page. The page
    always shows a code: the member's is made here on the first visit."""
    code = services.referral_code_for(customer)
    summary = selectors.referral_summary_for_customer(customer, code=code)
    page = Paginator(selectors.referrals_for_customer(customer), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {"referral": referral, "friend_name": services.friend_display_name(referral.friend)}
        for referral in page.object_list
    ]
    context = {
        "customer": customer,
        "summary": summary,
        "share": share_links(summary.link),
        "page": page,
        "rows": rows,
        "program": referral_program_get(),
    }
    return render(request, "portal/referrals/mine.html", context)
