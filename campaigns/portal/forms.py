from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.choices import PREFERENCE_FOR_KIND
from campaigns.models import GiftOption


class GiftChooseForm(forms.Form):
    """One of the campaign's gift options. The page draws the options as radio cards itself (from
    the options it already holds); the form only validates the posted id against them."""

    option = forms.TypedChoiceField(
        label=_("Your gift"),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose one of the gifts."),
            "invalid_choice": _("Choose one of the gifts shown."),
        },
    )

    def __init__(self, *args: Any, options: Iterable[GiftOption], preferred_kind: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = list(options)
        self.options = {option.pk: option for option in options}
        self.fields["option"].choices = [(option.pk, option.label) for option in options]  # type: ignore[attr-defined]
        if not self.is_bound:
            preferred = [option.pk for option in options if PREFERENCE_FOR_KIND.get(option.kind) == preferred_kind]
            # The stated preference comes first: an exact kind (bonus points) over cashback.
            exact = [option.pk for option in options if option.kind == preferred_kind]
            if exact or preferred:
                self.initial["option"] = (exact or preferred)[0]

    def clean_option(self) -> GiftOption:
        return self.options[self.cleaned_data["option"]]


class ContestWinRespondForm(forms.Form):
    ACCEPT = "accept"
    DECLINE = "decline"

    answer = forms.ChoiceField(choices=[(ACCEPT, _("Accept")), (DECLINE, _("Decline"))])

    @property
    def is_accept(self) -> bool:
        return bool(self.cleaned_data["answer"] == self.ACCEPT)
