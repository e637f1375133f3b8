"""The customer's privacy rights in the portal: download my data, delete my account.

The download is the signed-in customer's own export (``customers.privacy.customer_data_export``),
never anyone else's. Deleting the account asks again for the password (or, for a customer who
signs in by e-mail link only and has none, the e-mail address typed out), then erases the
personal data (``customer_erase``), signs out and says goodbye.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from customers.models import Customer, User
from customers.portal.views import customer_required
from customers.privacy import ErasureSource, customer_data_export_json, customer_data_filename, customer_erase


class AccountDeleteForm(forms.Form):
    """Confirms the deletion: the current password, or the e-mail address for a login without one."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    email = forms.CharField(
        label=_("Type your e-mail address to confirm"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "email"}),
    )

    def __init__(self, *args: Any, user: User, customer: Customer, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.user = user
        self.customer = customer
        self.uses_password = user.has_usable_password()
        del self.fields["email" if self.uses_password else "password"]

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("That is not your password."), code="password_incorrect")
        return password

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].strip()
        if email.lower() != self.customer.email.lower():
            raise forms.ValidationError(_("That is not the e-mail address of your account."), code="email_mismatch")
        return email


@customer_required
@require_safe
def overview(request: HttpRequest, customer: Customer) -> HttpResponse:
    """What we hold and why, with the two actions: download my data, delete my account."""
    return render(request, "portal/privacy/overview.html", {"customer": customer})


@never_cache
@customer_required
@require_safe
def download(request: HttpRequest, customer: Customer) -> HttpResponse:
    """Everything held about the signed-in customer, as a JSON file to save."""
    response = HttpResponse(customer_data_export_json(customer), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{customer_data_filename()}"'
    return response


@never_cache
@customer_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, customer: Customer) -> HttpResponse:
    """GET: what deleting means and the confirmation form. POST: a confirmed form erases the
    personal data, signs out and goes to the goodbye page; a wrong password or address is a
    form error and changes nothing."""
    user = request.user
    assert isinstance(user, User)
    form = AccountDeleteForm(request.POST if request.method == "POST" else None, user=user, customer=customer)
    if request.method == "POST" and form.is_valid():
        customer_erase(customer=customer, source=ErasureSource.PORTAL)
        logout(request)
        return redirect("portal:privacy-goodbye")
    return render(request, "portal/privacy/delete.html", {"customer": customer, "form": form})


@require_safe
def goodbye(request: HttpRequest) -> HttpResponse:
    """After the deletion: no login needed (the session has ended)."""
    return render(request, "portal/privacy/goodbye.html")
