"""Customer pages for feedback and complaints.

The survey page works from the link in a message without a login: its signed token names the
customer, the survey and the scale (``customers.feedback.survey_token_check``), and the page
speaks that customer's language. The other pages need the customer signed in and read only their
own feedback and complaints.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from customers import feedback as services
from customers.errors import CustomerNotActive
from customers.models import FEEDBACK_SCORE_RANGE, Complaint, Customer, FeedbackScale
from customers.portal.views import customer_required

# The newest this many of each are listed; older ones stay in the admin.
LISTED_MAX = 50

QUESTIONS = {
    FeedbackScale.RATING: gettext_lazy("How would you rate your experience with us?"),
    FeedbackScale.NPS: gettext_lazy("How likely are you to recommend us to a friend or colleague?"),
}
RATING_WORDS = {
    1: gettext_lazy("Very poor"),
    2: gettext_lazy("Poor"),
    3: gettext_lazy("Okay"),
    4: gettext_lazy("Good"),
    5: gettext_lazy("Excellent"),
}


class SurveyForm(forms.Form):
    """A score on the survey's scale (radio buttons) and an optional comment. A score off the
    scale is a form error, like no score at all."""

    score = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, empty_value=None)
    comment = forms.CharField(
        label=gettext_lazy("Anything you would like to tell us? (optional)"),
        max_length=services.COMMENT_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, scale: str, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.scale = scale
        low, high = FEEDBACK_SCORE_RANGE[FeedbackScale(scale)]
        field = self.fields["score"]
        assert isinstance(field, forms.TypedChoiceField)
        field.label = QUESTIONS[FeedbackScale(scale)]
        field.choices = [
            (value, f"{value} · {RATING_WORDS[value]}" if scale == FeedbackScale.RATING else str(value))
            for value in range(low, high + 1)
        ]
        out_of_scale = _("Choose a score from %(low)d to %(high)d.") % {"low": low, "high": high}
        field.error_messages = {"required": out_of_scale, "invalid_choice": out_of_scale}


class ComplaintForm(forms.Form):
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=services.SUBJECT_MAX_LENGTH)
    description = forms.CharField(
        label=gettext_lazy("What happened?"),
        max_length=services.DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("Tell us what went wrong and what you would like us to do."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def _in_customer_language(customer: Customer, response: HttpResponse) -> HttpResponse:
    response.headers["Content-Language"] = customer.language
    return response


@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    """The survey from a message's link. GET: the question on its scale, or "you already answered".
    POST: write the answer once, then the thank-you page. A forged, tampered or expired link (or
    one for a customer no longer active) gets a friendly 404 page and writes nothing."""
    invite = services.survey_token_check(token)
    if invite is None:
        return render(request, "portal/feedback/survey_invalid.html", status=404)
    customer = invite.customer
    with translation.override(customer.language):
        answered = services.feedback_for_customer(customer).filter(source_key=invite.source_key).first()
        if answered is not None:
            response = render(request, "portal/feedback/already_answered.html", {"feedback": answered})
            return _in_customer_language(customer, response)
        form = SurveyForm(request.POST if request.method == "POST" else None, scale=invite.scale)
        if request.method == "POST" and form.is_valid():
            try:
                services.feedback_submit(
                    customer=customer,
                    source_key=invite.source_key,
                    scale=invite.scale,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                )
            except services.FeedbackAlreadyGiven:  # answered in another tab a moment ago
                return redirect("portal:survey", token=token)
            except CustomerNotActive:
                return render(request, "portal/feedback/survey_invalid.html", status=404)
            except services.FeedbackInvalid as refusal:
                form.add_error(refusal.details.get("field"), ValidationError(refusal.message, code=refusal.code))
            else:
                return redirect("portal:survey-thanks", token=token)
        context = {"form": form, "first_name": customer.first_name, "scale": invite.scale}
        response = render(request, "portal/feedback/survey.html", context)
    return _in_customer_language(customer, response)


@require_safe
def survey_thanks(request: HttpRequest, token: str) -> HttpResponse:
    """The thank-you after an answer; before one, back to the question."""
    invite = services.survey_token_check(token)
    if invite is None:
        return render(request, "portal/feedback/survey_invalid.html", status=404)
    customer = invite.customer
    if not services.feedback_for_customer(customer).filter(source_key=invite.source_key).exists():
        return redirect("portal:survey", token=token)
    with translation.override(customer.language):
        response = render(request, "portal/feedback/survey_thanks.html", {"first_name": customer.first_name})
    return _in_customer_language(customer, response)


@customer_required
@require_http_methods(["GET", "POST"])
def overview(request: HttpRequest, customer: Customer) -> HttpResponse:
    """My feedback and my complaints (status and resolution), and the form to open a complaint."""
    form = ComplaintForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            complaint = services.complaint_open(
                customer=customer,
                subject=form.cleaned_data["subject"],
                description=form.cleaned_data["description"],
                source=Complaint.Source.PORTAL,
            )
        except (services.ComplaintInvalid, services.TooManyOpenComplaints) as refusal:
            field = refusal.details.get("field")
            form.add_error(field if field in form.fields else None, ValidationError(refusal.message, code=refusal.code))
        else:
            messages.success(request, _("Thank you for telling us. We will look into it and answer here."))
            return redirect("portal:complaint", complaint_id=complaint.pk)
    context = {
        "customer": customer,
        "form": form,
        "feedback_list": list(services.feedback_for_customer(customer)[:LISTED_MAX]),
        "complaints": list(services.complaints_for_customer(customer)[:LISTED_MAX]),
    }
    return render(request, "portal/feedback/overview.html", context)


@customer_required
@require_safe
def complaint(request: HttpRequest, customer: Customer, complaint_id: int) -> HttpResponse:
    """One of my complaints with its status and, once closed, the resolution. Any other id: 404."""
    found = services.complaints_for_customer(customer).filter(pk=complaint_id).first()
    if found is None:
        raise Http404
    return render(request, "portal/feedback/complaint.html", {"customer": customer, "complaint": found})
