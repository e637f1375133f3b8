"""Surveys: the signed link, the portal page that answers it without a login, the answer written
once per survey, the ``feedback_given`` event on commit, the reward record, and the admin."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from unittest import mock

import pytest
from django.contrib import admin as django_admin
from django.core import signing
from django.db import IntegrityError, connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from customers import feedback as services
from customers.admin import ComplaintInline, FeedbackInline
from customers.errors import CustomerNotActive
from customers.feedback import (
    SURVEY_MAX_AGE,
    SURVEY_SALT,
    FeedbackAlreadyGiven,
    FeedbackInvalid,
    FeedbackRewardConflict,
    feedback_reward_record,
    feedback_submit,
    survey_token_check,
    survey_token_make,
    survey_url,
)
from customers.models import Customer, Feedback, FeedbackScale, User
from customers.outbox import unsubscribe_token_make
from customers.signals import feedback_given
from tests.customers.factories import CustomerFactory

RATING, NPS = FeedbackScale.RATING, FeedbackScale.NPS
SOURCE = "purchase:123"
FEEDBACK_CHANGELIST = reverse("admin:customers_feedback_changelist")


def survey_path(customer: Customer, source_key: str = SOURCE, scale: str = RATING) -> str:
    return reverse("portal:survey", args=[survey_token_make(customer, source_key, scale)])


def thanks_path(path: str) -> str:
    return path + "thanks/"


def radio_values(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'<input type="radio" name="score" value="(-?\d+)"', html)]


@pytest.fixture
def aino(db: None) -> Customer:
    return CustomerFactory(email="aino@example.fi", first_name="Aino", language="fi")


@pytest.fixture
def events() -> Any:
    """Every ``feedback_given`` sent while the test runs, as (feedback_id, customer_id)."""
    received: list[tuple[int, int]] = []
    lock = threading.Lock()

    def receiver(sender: type, feedback_id: int, customer_id: int, **kwargs: Any) -> None:
        with lock:
            received.append((feedback_id, customer_id))

    feedback_given.connect(receiver, dispatch_uid="test-feedback-given")
    yield received
    feedback_given.disconnect(dispatch_uid="test-feedback-given")


# --- The signed link -------------------------------------------------------------------------------


def test_a_token_names_the_customer_the_survey_and_the_scale(aino):
    invite = survey_token_check(survey_token_make(aino, "purchase:77", NPS))

    assert invite is not None
    assert (invite.customer, invite.source_key, invite.scale) == (aino, "purchase:77", "nps")


def test_survey_url_is_absolute_on_the_public_address(aino, settings):
    settings.PUBLIC_BASE_URL = "https://kanta.example.fi/"

    url = survey_url(aino, SOURCE, RATING)

    assert url.startswith("https://kanta.example.fi/portal/feedback/")
    assert url.endswith("/")
    token = url.removeprefix("https://kanta.example.fi/portal/feedback/").removesuffix("/")
    invite = survey_token_check(token)
    assert invite is not None
    assert (invite.customer, invite.source_key, invite.scale) == (aino, SOURCE, "rating")


def tampered(token: str) -> list[str]:
    """The token with its payload, its signature or its timestamp changed by one character."""
    value, timestamp, signature = token.rsplit(":", 2)
    flip = {"A": "B"}.get(value[3], "A")
    return [
        value[:3] + flip + value[4:] + f":{timestamp}:{signature}",
        f"{value}:{timestamp}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{value}:{timestamp[:-1]}{'0' if timestamp[-1] != '0' else '1'}:{signature}",
        token + "x",
        token[:-5],
    ]


def test_a_tampered_token_names_nobody(aino):
    token = survey_token_make(aino, SOURCE, RATING)

    for bad in tampered(token):
        assert survey_token_check(bad) is None, bad


@pytest.mark.parametrize(
    "payload",
    [
        {"c": "not-a-uuid", "k": SOURCE, "s": "rating"},
        {"k": SOURCE, "s": "rating"},
        {"c": "CUSTOMER", "k": SOURCE, "s": "stars"},
        {"c": "CUSTOMER", "k": "Purchase 1; DROP", "s": "rating"},
        {"c": "CUSTOMER", "k": 5, "s": "rating"},
        ["CUSTOMER", SOURCE, "rating"],
    ],
)
def test_a_well_signed_token_with_a_bad_payload_names_nobody(aino, payload):
    if isinstance(payload, dict) and payload.get("c") == "CUSTOMER":
        payload = {**payload, "c": str(aino.public_id)}
    token = signing.dumps(payload, salt=SURVEY_SALT, compress=True)

    assert survey_token_check(token) is None


def test_another_links_token_is_not_a_survey_token(aino):
    assert survey_token_check(unsubscribe_token_make(aino)) is None
    assert survey_token_check("") is None


@pytest.mark.parametrize(("age_days", "works"), [(59, True), (61, False)])
def test_a_token_expires_after_sixty_days(aino, age_days, works):
    assert SURVEY_MAX_AGE.days == 60
    issued_at = time.time() - age_days * 24 * 3600
    with mock.patch("django.core.signing.time.time", return_value=issued_at):
        token = survey_token_make(aino, SOURCE, RATING)

    assert (survey_token_check(token) is not None) is works


@pytest.mark.parametrize("status", [Customer.Status.BLOCKED, Customer.Status.ERASED])
def test_a_token_of_a_customer_no_longer_active_names_nobody(aino, status):
    token = survey_token_make(aino, SOURCE, RATING)
    Customer.objects.filter(pk=aino.pk).update(status=status)

    assert survey_token_check(token) is None


@pytest.mark.parametrize(
    ("source_key", "scale", "code"),
    [
        ("purchase:1", "stars", "scale_unknown"),
        ("", "rating", "source_key_invalid"),
        ("a" * 101, "rating", "source_key_invalid"),
    ],
)
def test_a_token_cannot_be_made_for_an_unknown_scale_or_a_bad_survey_name(aino, source_key, scale, code):
    with pytest.raises(FeedbackInvalid) as refused:
        survey_token_make(aino, source_key, scale)
    assert refused.value.code == code


# --- feedback_submit -------------------------------------------------------------------------------


@pytest.mark.parametrize(("scale", "score"), [(RATING, 1), (RATING, 5), (NPS, 0), (NPS, 10)])
def test_each_scales_bounds_are_accepted(aino, scale, score):
    feedback = feedback_submit(customer=aino, source_key=SOURCE, scale=scale, score=score, comment="  Hyvä!  ")

    stored = Feedback.objects.get()
    assert stored.pk == feedback.pk
    assert (stored.customer_id, stored.source_key, stored.scale, stored.score) == (aino.pk, SOURCE, scale, score)
    assert (stored.comment, stored.language) == ("Hyvä!", "fi")
    assert (stored.reward_points, stored.reward_entry_id, stored.rewarded_at) == (0, None, None)


@pytest.mark.parametrize(
    ("scale", "score", "code"),
    [
        (RATING, 0, "score_out_of_range"),
        (RATING, 6, "score_out_of_range"),
        (NPS, -1, "score_out_of_range"),
        (NPS, 11, "score_out_of_range"),
        (RATING, True, "score_out_of_range"),
        (RATING, "4", "score_out_of_range"),
        ("stars", 3, "scale_unknown"),
    ],
)
def test_a_score_off_its_scale_is_refused_and_nothing_is_written(
    aino, events, django_capture_on_commit_callbacks, scale, score, code
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(FeedbackInvalid) as refused:
        feedback_submit(customer=aino, source_key=SOURCE, scale=scale, score=score)

    assert refused.value.code == code
    assert Feedback.objects.count() == 0
    assert (callbacks, events) == ([], [])


def test_a_comment_over_2000_characters_is_refused(aino):
    with pytest.raises(FeedbackInvalid) as refused:
        feedback_submit(customer=aino, source_key=SOURCE, scale=RATING, score=4, comment="x" * 2001)

    assert refused.value.code == "comment_too_long"
    assert Feedback.objects.count() == 0


def test_the_database_refuses_a_score_off_its_scale_too(aino):
    for scale, score in ((RATING, 0), (RATING, 6), (NPS, 11)):
        with pytest.raises(IntegrityError), transaction.atomic():
            Feedback.objects.create(customer=aino, source_key=f"x:{score}", scale=scale, score=score, language="fi")
    assert Feedback.objects.count() == 0


def test_a_survey_is_answered_once(aino, events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = feedback_submit(customer=aino, source_key=SOURCE, scale=RATING, score=5)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(FeedbackAlreadyGiven) as refused:
        feedback_submit(customer=aino, source_key=SOURCE, scale=NPS, score=2)

    assert refused.value.code == "feedback_already_given"
    assert refused.value.status == 409
    assert list(Feedback.objects.values_list("pk", "score")) == [(first.pk, 5)]
    assert events == [(first.pk, aino.pk)]


def test_another_survey_or_another_customer_is_a_new_answer(aino):
    other = CustomerFactory()
    feedback_submit(customer=aino, source_key="purchase:1", scale=RATING, score=5)
    feedback_submit(customer=aino, source_key="purchase:2", scale=RATING, score=4)
    feedback_submit(customer=other, source_key="purchase:1", scale=NPS, score=9)

    assert sorted(Feedback.objects.values_list("customer_id", "source_key")) == sorted(
        [(aino.pk, "purchase:1"), (aino.pk, "purchase:2"), (other.pk, "purchase:1")]
    )


def test_an_inactive_customer_cannot_answer(aino):
    aino.status = Customer.Status.BLOCKED
    aino.save()

    with pytest.raises(CustomerNotActive):
        feedback_submit(customer=aino, source_key=SOURCE, scale=RATING, score=5)
    assert Feedback.objects.count() == 0


def test_feedback_given_is_sent_on_commit_only(aino, events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        feedback = feedback_submit(customer=aino, source_key=SOURCE, scale=RATING, score=3)
    assert events == []  # written, not yet committed
    assert len(callbacks) == 1

    callbacks[0]()

    assert events == [(feedback.pk, aino.pk)]


def test_feedback_given_is_not_sent_when_the_transaction_rolls_back(aino, events, django_capture_on_commit_callbacks):
    class Abort(Exception):
        pass

    def answer_then_roll_back() -> None:
        with transaction.atomic():
            feedback_submit(customer=aino, source_key=SOURCE, scale=RATING, score=3)
            raise Abort

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Abort):
        answer_then_roll_back()

    assert (callbacks, events) == ([], [])
    assert Feedback.objects.count() == 0


# --- feedback_reward_record ------------------------------------------------------------------------


def test_the_reward_is_recorded_once_whatever_the_score(aino):
    feedback = feedback_submit(customer=aino, source_key=SOURCE, scale=RATING, score=1, comment="Huono.")

    recorded = feedback_reward_record(feedback=feedback, points=50, ledger_entry_id=901)
    first_time = recorded.rewarded_at
    again = feedback_reward_record(feedback=Feedback.objects.get(pk=feedback.pk), points=50, ledger_entry_id=901)

    stored = Feedback.objects.get(pk=feedback.pk)
    assert (stored.reward_points, stored.reward_entry_id, stored.rewarded_at) == (50, 901, first_time)
    assert (again.reward_points, again.reward_entry_id, again.rewarded_at) == (50, 901, first_time)
    assert first_time is not None


def test_another_ledger_entry_for_a_rewarded_answer_is_a_conflict(aino):
    feedback = feedback_submit(customer=aino, source_key=SOURCE, scale=RATING, score=4)
    feedback_reward_record(feedback=feedback, points=50, ledger_entry_id=901)

    for points, entry in ((50, 902), (60, 901)):
        with pytest.raises(FeedbackRewardConflict) as refused:
            feedback_reward_record(feedback=feedback, points=points, ledger_entry_id=entry)
        assert refused.value.code == "feedback_already_rewarded"
    stored = Feedback.objects.get(pk=feedback.pk)
    assert (stored.reward_points, stored.reward_entry_id) == (50, 901)


@pytest.mark.parametrize("points", [0, -5])
def test_a_reward_of_no_points_is_refused(aino, points):
    feedback = feedback_submit(customer=aino, source_key=SOURCE, scale=RATING, score=4)

    with pytest.raises(FeedbackInvalid):
        feedback_reward_record(feedback=feedback, points=points, ledger_entry_id=901)
    assert Feedback.objects.get(pk=feedback.pk).rewarded_at is None


# --- The survey page -------------------------------------------------------------------------------


@pytest.mark.parametrize(("scale", "values"), [(RATING, [1, 2, 3, 4, 5]), (NPS, list(range(11)))])
def test_the_page_shows_the_scale_of_the_link_in_the_customers_language(client, aino, scale, values):
    response = client.get(survey_path(aino, scale=scale))

    assert response.status_code == 200
    assert response.templates[0].name == "portal/feedback/survey.html"
    assert response["Content-Language"] == "fi"
    html = response.content.decode()
    assert '<html lang="fi">' in html
    assert radio_values(html) == values
    # Each radio button has its own label, and the question is the group's legend.
    for index in range(len(values)):
        assert f'<label for="id_score_{index}">' in html
    with translation.override("fi"):
        question = str(services_question(scale))
    assert f"<legend>{escape(question)}" in html
    assert '<textarea name="comment"' in html
    assert Feedback.objects.count() == 0


def services_question(scale: str) -> str:
    from customers.portal.feedback import QUESTIONS

    return QUESTIONS[FeedbackScale(scale)]


def test_an_answer_is_written_and_thanked(client, aino, events, django_capture_on_commit_callbacks):
    path = survey_path(aino, scale=NPS)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, {"score": "9", "comment": "Ystävällinen palvelu."})

    assert response.status_code == 302
    assert response["Location"] == thanks_path(path)
    feedback = Feedback.objects.get()
    assert (feedback.customer_id, feedback.source_key, feedback.scale, feedback.score) == (aino.pk, SOURCE, "nps", 9)
    assert (feedback.comment, feedback.language) == ("Ystävällinen palvelu.", "fi")
    assert events == [(feedback.pk, aino.pk)]

    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert thanks.templates[0].name == "portal/feedback/survey_thanks.html"
    with translation.override("fi"):
        assert translation.gettext("Thank you, %(first_name)s!") % {"first_name": "Aino"} in thanks.content.decode()


@pytest.mark.parametrize(
    ("scale", "score"),
    [(RATING, "0"), (RATING, "6"), (NPS, "11"), (NPS, "-1"), (RATING, "kolme"), (RATING, ""), (RATING, None)],
)
def test_a_score_off_the_scale_is_a_form_error_and_nothing_is_written(client, aino, events, scale, score):
    data = {"comment": "Jotain."} if score is None else {"score": score, "comment": "Jotain."}

    response = client.post(survey_path(aino, scale=scale), data)

    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["score"]
    low, high = (1, 5) if scale == RATING else (0, 10)
    with translation.override("fi"):
        message = translation.gettext("Choose a score from %(low)d to %(high)d.") % {"low": low, "high": high}
    assert form.errors["score"] == [message]
    html = response.content.decode()
    assert 'aria-describedby="score-error"' in html
    assert "Jotain." in html  # the comment is kept for the next try
    assert Feedback.objects.count() == 0
    assert events == []


def test_an_empty_post_is_a_form_error(client, aino):
    response = client.post(survey_path(aino), {})

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["score"]
    assert Feedback.objects.count() == 0


def test_a_comment_too_long_is_a_form_error(client, aino):
    response = client.post(survey_path(aino), {"score": "4", "comment": "x" * 2001})

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["comment"]
    assert Feedback.objects.count() == 0


def test_answering_again_shows_you_already_answered(client, aino, events, django_capture_on_commit_callbacks):
    path = survey_path(aino)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(path, {"score": "5"})

    again = client.get(path)
    posted = client.post(path, {"score": "1", "comment": "Muutin mieleni."})

    assert again.status_code == 200
    assert again.templates[0].name == "portal/feedback/already_answered.html"
    assert posted.status_code == 200
    assert posted.templates[0].name == "portal/feedback/already_answered.html"
    assert list(Feedback.objects.values_list("score", "comment")) == [(5, "")]
    assert len(events) == 1


def test_a_new_link_for_the_same_survey_is_also_already_answered(client, aino):
    feedback_submit(customer=aino, source_key=SOURCE, scale=RATING, score=4)

    response = client.get(survey_path(aino, scale=NPS))

    assert response.templates[0].name == "portal/feedback/already_answered.html"


def test_two_surveys_are_answered_separately(client, aino):
    client.post(survey_path(aino, "purchase:1"), {"score": "5"})
    response = client.get(survey_path(aino, "purchase:2"))

    assert response.templates[0].name == "portal/feedback/survey.html"


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_gets_a_friendly_404_and_writes_nothing(client, aino, events, method):
    token = survey_token_make(aino, SOURCE, RATING)

    for bad in tampered(token):
        path = reverse("portal:survey", args=[bad])
        response = getattr(client, method)(path, {"score": "5"} if method == "post" else None)
        assert response.status_code == 404
        assert response.templates[0].name == "portal/feedback/survey_invalid.html"
        assert "This survey link does not work" in response.content.decode()
    assert Feedback.objects.count() == 0
    assert events == []


def test_an_expired_link_gets_the_friendly_404(client, aino):
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 61 * 24 * 3600):
        path = survey_path(aino)

    response = client.post(path, {"score": "5"})

    assert response.status_code == 404
    assert response.templates[0].name == "portal/feedback/survey_invalid.html"
    assert Feedback.objects.count() == 0


def test_the_thank_you_page_before_an_answer_goes_back_to_the_question(client, aino):
    path = survey_path(aino)

    response = client.get(thanks_path(path))

    assert response.status_code == 302
    assert response["Location"] == path
    assert client.get(thanks_path(reverse("portal:survey", args=["forged"]))).status_code == 404


def test_the_link_works_while_another_customer_is_signed_in(client, aino):
    other = CustomerFactory()
    user = User.objects.create_user(username="other", email=other.email, password="x")
    Customer.objects.filter(pk=other.pk).update(user=user)
    client.force_login(user)

    client.post(survey_path(aino), {"score": "4"})

    assert list(Feedback.objects.values_list("customer_id", flat=True)) == [aino.pk]


@pytest.mark.parametrize(("method", "queries"), [("get", 2), ("post", 8)])
def test_the_survey_page_has_a_constant_number_of_queries(client, aino, django_assert_num_queries, method, queries):
    # GET: the customer, "answered already?". POST adds the service's savepoint (a transaction
    # outside tests), its own "answered already?", then the insert in a savepoint of its own.
    for index in range(5):
        feedback_submit(customer=aino, source_key=f"purchase:{index}", scale=RATING, score=4)
    path = survey_path(aino)

    with django_assert_num_queries(queries):
        response = getattr(client, method)(path, {"score": "5"} if method == "post" else None)
    assert response.status_code == (200 if method == "get" else 302)


# --- Answered twice at once (PostgreSQL) -----------------------------------------------------------

WORKERS = 6


def _parallel(call: Any, count: int = WORKERS) -> list[Any]:
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        try:
            barrier.wait(timeout=10)
            return call(index)
        except FeedbackAlreadyGiven as error:
            return error.code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_survey_answered_in_several_threads_at_once_is_written_once(events):
    aino = CustomerFactory(language="fi")

    results = _parallel(lambda index: feedback_submit(customer=aino, source_key=SOURCE, scale=NPS, score=index).pk)

    feedback = Feedback.objects.get()
    assert Counter(results) == {feedback.pk: 1, "feedback_already_given": WORKERS - 1}
    assert events == [(feedback.pk, aino.pk)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_survey_posted_from_two_tabs_at_once_is_written_once(events):
    aino = CustomerFactory(language="fi")
    path = survey_path(aino)

    responses = _parallel(lambda index: Client().post(path, {"score": str(index % 5 + 1)}), count=2)

    # One answer is thanked. The other tab either lost the race on the unique key (and is sent
    # back to the survey, which now says "already answered") or came after and is told so at once.
    outcomes = sorted(
        response["Location"] if response.status_code == 302 else response.templates[0].name for response in responses
    )
    assert outcomes in (
        sorted([thanks_path(path), path]),
        sorted([thanks_path(path), "portal/feedback/already_answered.html"]),
    )
    assert Feedback.objects.count() == 1
    assert len(events) == 1


# --- Admin -----------------------------------------------------------------------------------------


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser(username="tuki", email="tuki@vastavuoro.test", password="not-used")


@pytest.fixture
def admin_client(client, staff) -> Client:
    client.force_login(staff)
    return client


def answers(*scored: tuple[str, int]) -> list[Feedback]:
    made = []
    for index, (scale, score) in enumerate(scored):
        made.append(
            feedback_submit(customer=CustomerFactory(), source_key=f"purchase:{index}", scale=scale, score=score)
        )
    return made


def listed(response) -> list[tuple[str, int]]:
    return sorted((feedback.scale, feedback.score) for feedback in response.context["cl"].result_list)


def test_the_feedback_list_shows_the_average_rating_and_the_nps(admin_client):
    # Ratings 5, 4, 2: mean 3.67. NPS 10, 9, 7, 3: promoters 2, detractors 1 of 4: +25.
    answers((RATING, 5), (RATING, 4), (RATING, 2), (NPS, 10), (NPS, 9), (NPS, 7), (NPS, 3))

    response = admin_client.get(FEEDBACK_CHANGELIST)

    assert response.status_code == 200
    assert response.context["subtitle"] == "Average rating 3.67 of 5 (3 answers) · NPS +25 (4 answers)"
    assert "Average rating 3.67 of 5 (3 answers) · NPS +25 (4 answers)" in response.content.decode()


@pytest.mark.parametrize(
    ("filters", "expected", "subtitle"),
    [
        ({"scale__exact": "nps"}, [("nps", 3), ("nps", 10)], "Average rating - of 5 (0 answers) · NPS +0 (2 answers)"),
        (
            {"scale__exact": "rating"},
            [("rating", 3), ("rating", 5)],
            "Average rating 4.00 of 5 (2 answers) · NPS - (0 answers)",
        ),
        ({"score": "3"}, [("nps", 3), ("rating", 3)], "Average rating 3.00 of 5 (1 answers) · NPS -100 (1 answers)"),
    ],
)
def test_the_feedback_list_filters_by_scale_and_score_and_averages_what_it_shows(
    admin_client, filters, expected, subtitle
):
    answers((RATING, 5), (RATING, 3), (NPS, 10), (NPS, 3))

    response = admin_client.get(FEEDBACK_CHANGELIST, filters)

    assert listed(response) == expected
    assert response.context["subtitle"] == subtitle


def test_the_feedback_list_uses_a_constant_number_of_queries(admin_client, django_assert_num_queries):
    answers((RATING, 5), (NPS, 8))
    # session, user, score filter's values, count, page of answers with customers, the averages
    with django_assert_num_queries(6):
        response = admin_client.get(FEEDBACK_CHANGELIST)
    assert len(response.context["cl"].result_list) == 2

    answers(*[(RATING, index % 5 + 1) for index in range(20)])
    with django_assert_num_queries(6):
        response = admin_client.get(FEEDBACK_CHANGELIST)
    assert len(response.context["cl"].result_list) == 22


def test_feedback_is_read_only_in_the_admin(admin_client):
    (feedback,) = answers((RATING, 2))
    change = reverse("admin:customers_feedback_change", args=[feedback.pk])

    assert admin_client.get(reverse("admin:customers_feedback_add")).status_code == 403
    assert admin_client.get(change).status_code == 200  # viewable
    assert admin_client.post(change, {"score": "5", "comment": "Edited"}).status_code == 403
    assert admin_client.post(reverse("admin:customers_feedback_delete", args=[feedback.pk])).status_code == 403
    stored = Feedback.objects.get(pk=feedback.pk)
    assert (stored.score, stored.comment) == (2, "")


def test_the_customers_page_shows_their_feedback_and_complaints(admin_client, aino):
    feedback_submit(customer=aino, source_key=SOURCE, scale=NPS, score=8, comment="Kiitos nopeasta toimituksesta")
    services.complaint_open(customer=aino, subject="Rikkinäinen muki", description="Muki oli rikki.")

    registered = type(django_admin.site._registry[Customer])
    assert FeedbackInline in registered.inlines
    assert ComplaintInline in registered.inlines
    response = admin_client.get(reverse("admin:customers_customer_change", args=[aino.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Kiitos nopeasta toimituksesta" in html
    assert "Rikkinäinen muki" in html
    assert SOURCE in html
