"""Customer self-service pages. Every read is scoped to the logged-in customer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from customers import outbox, services
from customers.errors import CustomerNotActive
from customers.models import ConsentSource, Customer, User
from customers.portal import limits
from customers.portal.forms import MagicLinkRequestForm, PasswordResetRequestForm, PortalLoginForm, ProfileForm
from customers.portal.lockout import lockout_clear_for_login
from customers.portal.panels import home_panels
from customers.portal.tokens import magic_link_token_check, magic_link_token_make
from customers.selectors import customer_get_by_email

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def customer_required(view: View) -> View:
    """Only a logged-in, active customer gets through; the customer is passed to the view."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        customer = Customer.objects.filter(user=cast(User, request.user), status=Customer.Status.ACTIVE).first()
        if customer is None:
            logout(request)
            messages.error(request, _("This account cannot use the portal."))
            return redirect("portal:login")
        return view(request, customer, *args, **kwargs)

    return wrapper


def _activate_language(request: HttpRequest, response: HttpResponse, language: str) -> None:
    translation.activate(language)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)


class PortalLoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    authentication_form = PortalLoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        customer = form.get_user().customer
        _activate_language(self.request, response, customer.language)
        return response


def _too_many_requests(request: HttpRequest) -> HttpResponse:
    """429 for a network address that asked for too many e-mails: it says nothing of accounts."""
    response = render(request, "portal/too_many_requests.html", {"minutes": limits.window_minutes()}, status=429)
    response["Retry-After"] = str(settings.PORTAL_MAIL_LIMIT_WINDOW)
    return response


def _member_to_mail(email: str, purpose: str) -> Customer | None:
    """The active customer with ``email`` when one more e-mail of ``purpose`` may go to them.
    Over their limit the visitor still sees "sent" (the limit is per mailbox, and telling would
    say the address has an account): the mail is just not sent again."""
    customer = customer_get_by_email(email)
    if customer is None or customer.status != Customer.Status.ACTIVE:
        return None
    if not limits.account_allowed(customer, purpose):
        logger.info("portal: %s not sent to customer %s: limit reached", purpose, customer.public_id)
        return None
    return customer


@require_http_methods(["GET", "POST"])
def magic_link_request(request: HttpRequest) -> HttpResponse:
    form = MagicLinkRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not limits.client_allowed(request, limits.MAGIC_LINK):
            return _too_many_requests(request)
        customer = _member_to_mail(form.cleaned_data["email"], limits.MAGIC_LINK)
        if customer is not None:
            _send_magic_link(request, customer)
        # The same answer whether or not the address is known: no account enumeration.
        return render(request, "portal/magic_link_sent.html", {"email": form.cleaned_data["email"]})
    return render(request, "portal/magic_link_request.html", {"form": form})


def _send_magic_link(request: HttpRequest, customer: Customer) -> None:
    try:
        user = services.customer_portal_login_ensure(customer=customer)
    except CustomerNotActive:
        return
    link = request.build_absolute_uri(reverse("portal:magic-link-login", args=[magic_link_token_make(user)]))
    with translation.override(customer.language):
        context = {"customer": customer, "link": link, "minutes": settings.MAGIC_LINK_MAX_AGE // 60}
        subject = _("Your sign-in link for Vastavuoro")
        body = render_to_string("portal/email/magic_link.txt", context)
    send_mail(subject, body, None, [customer.email])
    logger.info("portal: magic link sent to customer %s", customer.public_id)


@require_http_methods(["GET", "POST"])
def magic_link_login(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button; POST signs in. Mail scanners that follow links do not spend the token."""
    user = magic_link_token_check(token)
    if user is None or getattr(user, "customer", None) is None or user.customer.status != Customer.Status.ACTIVE:
        return render(request, "portal/magic_link_invalid.html", status=400)
    if request.method == "GET":
        return render(request, "portal/magic_link_confirm.html", {"email": user.email})
    login(request, user, backend="customers.auth.CustomerBackend")
    services.customer_email_verify(customer=user.customer)  # the link came through that mailbox
    response = redirect("portal:home")
    _activate_language(request, response, user.customer.language)
    return response


# --- Password reset --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def password_reset_request(request: HttpRequest) -> HttpResponse:
    """Ask for a link to set a new password. Like the sign-in link: the same answer whether or
    not the address has an account, limited per mailbox and per network address."""
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not limits.client_allowed(request, limits.PASSWORD_RESET):
            return _too_many_requests(request)
        customer = _member_to_mail(form.cleaned_data["email"], limits.PASSWORD_RESET)
        if customer is not None:
            _send_password_reset(request, customer)
        return render(request, "portal/password_reset_sent.html", {"email": form.cleaned_data["email"]})
    return render(request, "portal/password_reset_request.html", {"form": form})


def _send_password_reset(request: HttpRequest, customer: Customer) -> None:
    """Mail a link with Django's password-reset token. Sent directly, not through the outbox: the
    outbox keeps each message's text, and this one holds a credential."""
    try:
        user = services.customer_portal_login_ensure(customer=customer)
    except CustomerNotActive:
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = request.build_absolute_uri(
        reverse("portal:password-reset-confirm", args=[uid, default_token_generator.make_token(user)])
    )
    with translation.override(customer.language):
        context = {"customer": customer, "link": link, "hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)}
        subject = _("Set a new password for Vastavuoro")
        body = render_to_string("portal/email/password_reset.txt", context)
    send_mail(subject, body, None, [customer.email])
    logger.info("portal: password reset link sent to customer %s", customer.public_id)


class PortalPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The link from the e-mail: choose a new password, then sign in with it. Only a customer's
    portal login can be reset here; a staff login never."""

    template_name = "portal/password_reset_confirm.html"
    success_url = reverse_lazy("portal:login")
    post_reset_login = False

    def get_user(self, uidb64: str) -> Any:
        user = super().get_user(uidb64)
        if user is None or user.is_staff:
            return None
        if not Customer.objects.filter(user=user, status=Customer.Status.ACTIVE).exists():
            return None
        return user

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        customer = Customer.objects.get(user=form.user)
        services.customer_email_verify(customer=customer)  # the link came through that mailbox
        # Its owner has just proved the mailbox: failures someone else typed no longer lock them out.
        lockout_clear_for_login(customer.email)
        messages.success(self.request, _("Your new password is set. Sign in with it."))
        return response


# --- E-mail verification -----------------------------------------------------------------------------


@require_safe
def email_verify(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the verification e-mail. Opening it verifies the address, and opening it again
    says so again; a forged, tampered or expired link gets a page that offers a new one."""
    customer = services.email_verification_confirm(token=token)
    if customer is None:
        context = {"days": max(1, settings.EMAIL_VERIFY_MAX_AGE // 86400)}
        return render(request, "portal/email_verify_invalid.html", context, status=400)
    return render(request, "portal/email_verified.html", {"email": customer.email})


@customer_required
@require_POST
def email_verify_resend(request: HttpRequest, customer: Customer) -> HttpResponse:
    """The home page's "send the link again": a new verification e-mail, a few per window."""
    if customer.email_verified_at is not None:
        messages.info(request, _("Your e-mail address is already confirmed."))
    elif not limits.account_allowed(customer, limits.EMAIL_VERIFY):
        messages.error(
            request,
            _(
                "We have sent you several links already. Please check your inbox and spam folder, "
                "or ask again in %(minutes)s minutes."
            )
            % {"minutes": limits.window_minutes()},
        )
    else:
        services.email_verification_send(customer=customer, request_base_url=request.build_absolute_uri("/"))
        messages.success(request, _("We have sent a new link to %(email)s.") % {"email": customer.email})
    return redirect("portal:home")


@require_http_methods(["POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, _("You have signed out."))
    return redirect("portal:login")


@customer_required
def home(request: HttpRequest, customer: Customer) -> HttpResponse:
    """The greeting, then the panels the other apps registered (``customers.portal.panels``)."""
    return render(request, "portal/home.html", {"customer": customer, "panels": home_panels(customer)})


@customer_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest, customer: Customer) -> HttpResponse:
    form = ProfileForm(request.POST or None, initial=ProfileForm.initial_for(customer))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        interests = data.pop("interests")
        services.customer_update(customer=customer, source=ConsentSource.PORTAL, by=cast(User, request.user), **data)
        services.customer_interests_set(customer=customer, interests=interests)
        response = redirect("portal:profile")
        _activate_language(request, response, data["language"])
        messages.success(request, _("Your profile has been saved."))
        return response
    return render(request, "portal/profile.html", {"customer": customer, "form": form})


@customer_required
@require_http_methods(["GET", "POST"])
def password(request: HttpRequest, customer: Customer) -> HttpResponse:
    form = SetPasswordForm(cast(User, request.user), request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)
        messages.success(request, _("Your password has been set."))
        return redirect("portal:profile")
    return render(request, "portal/password.html", {"customer": customer, "form": form})


@csrf_exempt  # the link's signed token is the credential; mail clients post one-click without a session
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """One-click unsubscribe, no login: GET shows what will happen and a button; POST (the button,
    or a mail client's RFC 8058 one-click request) withdraws the marketing consent at once.
    The page speaks the language of the customer the link was made for."""
    found = outbox.unsubscribe_token_check(token)
    if found is None:
        return render(request, "portal/unsubscribe_invalid.html", status=400)
    customer, channel = found
    with translation.override(customer.language):
        if request.method == "POST":
            outbox.customer_unsubscribe(customer=customer, channel=channel)
            response = render(request, "portal/unsubscribe_done.html", {"channel": channel})
        else:
            context = {"channel": channel, "first_name": customer.first_name}
            response = render(request, "portal/unsubscribe.html", context)
    response.headers["Content-Language"] = customer.language
    return response
