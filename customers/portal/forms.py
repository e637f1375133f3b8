from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Language, RewardKind, Tag


class PortalLoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )

    error_messages = {
        "invalid_login": _("That e-mail and password do not match an account. Check both and try again."),
        "inactive": _("This account is not active."),
    }

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            # Only the customer backend: a staff login with the same e-mail never signs in here.
            self.user_cache = authenticate(self.request, email=email, password=password)
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        customer = getattr(user, "customer", None)
        if customer is None or customer.status != Customer.Status.ACTIVE:
            raise forms.ValidationError(self.error_messages["inactive"], code="inactive")


class MagicLinkRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class PasswordResetRequestForm(MagicLinkRequestForm):
    """The e-mail a link to set a new password goes to (when it belongs to a member)."""


class ProfileForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    birth_date = forms.DateField(
        label=_("Birth date"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    preferred_reward_kind = forms.ChoiceField(
        label=_("The reward I value most"), choices=[("", _("No preference")), *RewardKind.choices], required=False
    )
    email_consent = forms.BooleanField(label=_("Send me offers and news by e-mail"), required=False)
    sms_consent = forms.BooleanField(label=_("Send me offers and news by SMS"), required=False)
    interests = forms.ModelMultipleChoiceField(
        label=_("My interests"),
        queryset=Tag.objects.filter(is_interest=True).order_by("name"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("We use them to choose the offers and news we send you."),
    )

    def clean_birth_date(self) -> datetime.date | None:
        value: datetime.date | None = self.cleaned_data.get("birth_date")
        if value is not None and value > timezone.localdate():
            raise forms.ValidationError(_("The birth date cannot be in the future."), code="future_date")
        if value is not None and value.year < 1900:
            raise forms.ValidationError(_("The birth date is too far in the past."), code="date_too_old")
        return value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    @classmethod
    def initial_for(cls, customer: Customer) -> dict[str, Any]:
        return {
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "birth_date": customer.birth_date,
            "language": customer.language,
            "preferred_reward_kind": customer.preferred_reward_kind,
            "email_consent": customer.email_consent,
            "sms_consent": customer.sms_consent,
            "interests": [tag.pk for tag in customer.tags.all() if tag.is_interest],
        }
