"""Customer self-service pages. Every read is scoped to the logged-in customer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from customers import outbox, services
from customers.errors import CustomerNotActive
from customers.models import ConsentSource, Customer
from customers.portal.forms import MagicLinkRequestForm, PortalLoginForm, ProfileForm
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
        customer = Customer.objects.filter(user=request.user, status=Customer.Status.ACTIVE).first()
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

    def form_valid(self, form: PortalLoginForm) -> HttpResponse:
        response = super().form_valid(form)
        customer = form.get_user().customer
        _activate_language(self.request, response, customer.language)
        return response


@require_http_methods(["GET", "POST"])
def magic_link_request(request: HttpRequest) -> HttpResponse:
    form = MagicLinkRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer = customer_get_by_email(form.cleaned_data["email"])
        if customer is not None and customer.status == Customer.Status.ACTIVE:
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
    response = redirect("portal:home")
    _activate_language(request, response, user.customer.language)
    return response


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
        services.customer_update(customer=customer, source=ConsentSource.PORTAL, by=request.user, **data)
        response = redirect("portal:profile")
        _activate_language(request, response, data["language"])
        messages.success(request, _("Your profile has been saved."))
        return response
    return render(request, "portal/profile.html", {"customer": customer, "form": form})


@customer_required
@require_http_methods(["GET", "POST"])
def password(request: HttpRequest, customer: Customer) -> HttpResponse:
    form = SetPasswordForm(request.user, request.POST or None)
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
