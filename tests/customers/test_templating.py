"""Message templates: only plain ``{placeholder}`` fields, refused on save otherwise; rendered in a
closed context; the defaults every installation starts with are valid in every language."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import escape

from customers.default_templates import DEFAULT_TEMPLATES
from customers.models import Language, MessagePurpose, MessageTemplate, User
from customers.templating import PLACEHOLDERS, template_errors, template_render
from tests.customers.factories import CustomerFactory

KNOWN = (
    "{amount}, {balance}, {campaign}, {deadline}, {details}, {first_name}, {friend_name}, {gift}, {link}, "
    "{next_tier}, {points}, {points_to_next_tier}, {prize}, {referral_link}, {store}, {survey_link}, {tier}, "
    "{unsubscribe_link}, {voucher_code}"
)
TEMPLATE_ADD_URL = reverse("admin:customers_messagetemplate_add")


def unknown(name: str) -> str:
    return f"Unknown placeholder {{{name}}}. Known: {KNOWN}."


def not_plain(written: str, name: str) -> str:
    return f"The placeholder {{{written}}} may not have a conversion or a format: write {{{name}}}."


# --- template_errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Thank you!",
        "Hi {first_name}",
        "{first_name}, you have {balance} points ({points} new) at {store}",
        "Literal braces {{like this}} and {{first_name}} stay literal",
        "{{{first_name}}}",
        "{unsubscribe_link}",
    ],
)
def test_a_valid_template_has_no_errors(text):
    assert template_errors(text) == []


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("Hi {name}", [unknown("name")]),
        ("Hi {First_name}", [unknown("First_name")]),
        ("Hi { first_name }", [unknown(" first_name ")]),
        ("Hi {}", [unknown("")]),
        ("Hi {0}", [unknown("0")]),
        ("{first_name.__class__}", [unknown("first_name.__class__")]),
        ("{first_name.upper}", [unknown("first_name.upper")]),
        ("{points[0]}", [unknown("points[0]")]),
        ("{first_name!r}", [not_plain("first_name!r", "first_name")]),
        ("{first_name!s}", [not_plain("first_name!s", "first_name")]),
        ("{points:>10}", [not_plain("points:>10", "points")]),
        ("{points:{balance}}", [not_plain("points:{balance}", "points")]),
        ("{secret} and {password}", [unknown("secret"), unknown("password")]),
    ],
)
def test_a_placeholder_that_is_not_a_plain_known_name_is_refused_by_name(text, errors):
    assert template_errors(text) == errors


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("Hi {first_name", "expected '}' before end of string"),
        ("Hi first_name}", "Single '}' encountered in format string"),
        ("Hi {", "Single '{' encountered in format string"),
        ("} {first_name}", "Single '}' encountered in format string"),
    ],
)
def test_unbalanced_braces_are_refused(text, detail):
    assert template_errors(text) == [f"The braces do not match: {detail}. Write a literal brace as {{{{ or }}}}."]


# --- template_render -------------------------------------------------------------------------------


def test_render_fills_the_values_and_keeps_literal_braces():
    text = "Hei {first_name}! {{Kiitos}} {points} + {balance} at {store}"

    rendered = template_render(text, {"first_name": "Aino", "points": 12, "balance": "540", "store": "Kallio"})

    assert rendered == "Hei Aino! {Kiitos} 12 + 540 at Kallio"


@pytest.mark.parametrize(("value", "shown"), [(0, "0"), ("0", "0"), (None, ""), ("", "")])
def test_render_shows_zero_and_leaves_only_missing_values_empty(value, shown):
    assert template_render("[{points}]", {"points": value}) == f"[{shown}]"


def test_render_leaves_a_known_placeholder_without_a_value_empty():
    assert template_render("Hi {first_name}, {gift}.", {"first_name": "Aino"}) == "Hi Aino, ."


def test_render_ignores_values_that_are_not_placeholders():
    assert template_render("Hi {first_name}", {"first_name": "Aino", "password": "x"}) == "Hi Aino"


def test_a_value_with_braces_is_inserted_as_text_not_as_a_template():
    assert template_render("Hi {first_name}", {"first_name": "{points} {{x}}"}) == "Hi {points} {{x}}"


@pytest.mark.parametrize("text", ["{first_name.__class__}", "{points[0]}", "{first_name!r}", "{nope}", "{"])
def test_render_refuses_a_template_that_is_not_valid(text):
    with pytest.raises(ValueError, match="not a valid template"):
        template_render(text, {"first_name": "Aino", "points": "12"})


# --- MessageTemplate.full_clean --------------------------------------------------------------------


@pytest.mark.django_db
def test_full_clean_refuses_bad_subject_and_body_with_field_errors():
    template = MessageTemplate(
        purpose=MessagePurpose.VOUCHER_ISSUED,
        language=Language.ENGLISH,
        channel="sms",
        subject="Hi {first_name.__class__}",
        body="Code {voucher_code} {",
    )

    with pytest.raises(ValidationError) as caught:
        template.full_clean()

    assert caught.value.message_dict == {
        "subject": [unknown("first_name.__class__")],
        "body": [
            "The braces do not match: Single '{' encountered in format string. Write a literal brace as {{ or }}."
        ],
    }
    assert MessageTemplate.objects.filter(channel="sms").count() == 0


@pytest.mark.django_db
def test_full_clean_accepts_a_good_template():
    template = MessageTemplate(
        purpose=MessagePurpose.VOUCHER_ISSUED, language="en", channel="sms", body="{first_name}: {voucher_code}"
    )

    template.full_clean()  # raises ValidationError for a bad template
    template.save()
    assert MessageTemplate.objects.filter(channel="sms", purpose=MessagePurpose.VOUCHER_ISSUED).count() == 1


# --- The defaults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "words"), sorted(DEFAULT_TEMPLATES.items()))
def test_every_default_template_is_valid(key, words):
    subject, body = words

    assert template_errors(subject) == []
    assert template_errors(body) == []
    assert "{first_name}" in subject
    assert template_render(body, PLACEHOLDERS).startswith(("Hi Aino", "Hei Aino", "Здравствуйте, Aino"))


def test_every_purpose_has_a_default_in_english_finnish_and_russian():
    assert sorted(DEFAULT_TEMPLATES) == sorted(
        (purpose, language) for purpose in MessagePurpose.values for language in ("en", "fi", "ru")
    )


@pytest.mark.parametrize(
    ("purpose", "is_marketing"), [("thank_you", True), ("thank_you_first", True), ("voucher_issued", False)]
)
def test_marketing_defaults_carry_the_unsubscribe_link(purpose, is_marketing):
    for language in ("en", "fi", "ru"):
        assert ("{unsubscribe_link}" in DEFAULT_TEMPLATES[(purpose, language)][1]) is is_marketing


@pytest.mark.django_db
def test_the_migration_loaded_every_default_as_an_active_email_template():
    rows = {
        (row.purpose, row.language): (row.subject, row.body)
        for row in MessageTemplate.objects.filter(channel="email", is_active=True)
    }

    assert rows == DEFAULT_TEMPLATES
    for template in MessageTemplate.objects.all():
        template.full_clean()


# --- Admin -----------------------------------------------------------------------------------------


@pytest.fixture
def admin_client_logged_in(client, db):
    client.force_login(User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="x"))
    return client


def test_the_admin_refuses_a_bad_template_with_the_error_on_the_form(admin_client_logged_in):
    data = {
        "purpose": "voucher_issued",
        "language": "en",
        "channel": "sms",
        "subject": "",
        "body": "Your code {voucher_code.__class__}",
        "is_active": "on",
    }

    response = admin_client_logged_in.post(TEMPLATE_ADD_URL, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"body": [unknown("voucher_code.__class__")]}
    assert MessageTemplate.objects.filter(channel="sms").count() == 0


def test_the_admin_saves_a_good_template(admin_client_logged_in):
    data = {
        "purpose": "voucher_issued",
        "language": "fi",
        "channel": "sms",
        "body": "{voucher_code}",
        "is_active": "on",
    }

    response = admin_client_logged_in.post(TEMPLATE_ADD_URL, data)

    assert response.status_code == 302
    assert list(MessageTemplate.objects.filter(channel="sms").values_list("language", "body")) == [
        ("fi", "{voucher_code}")
    ]


@pytest.mark.parametrize(
    ("language", "first_name", "other_language_name", "subject"),
    [
        ("fi", "Aino", "Boris", "Kiitos, Aino!"),
        ("ru", "Boris", "Aino", "Спасибо, Boris!"),
        ("en", "Emma", "Aino", "Thank you, Emma!"),
    ],
)
def test_the_preview_shows_the_text_filled_for_a_customer_of_that_language(
    admin_client_logged_in, language, first_name, other_language_name, subject
):
    CustomerFactory(first_name=other_language_name, language="fi" if language != "fi" else "ru")
    CustomerFactory(first_name=first_name, language=language)
    template = MessageTemplate.objects.get(purpose="thank_you", language=language, channel="email")

    response = admin_client_logged_in.get(reverse("admin:customers_messagetemplate_change", args=[template.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert f"<strong>{subject}</strong>" in html
    assert escape(template_render(template.body, {**PLACEHOLDERS, "first_name": first_name})) in html


def test_the_preview_uses_the_sample_name_without_a_customer_of_that_language(admin_client_logged_in):
    template = MessageTemplate.objects.get(purpose="voucher_issued", language="ru", channel="email")

    response = admin_client_logged_in.get(reverse("admin:customers_messagetemplate_change", args=[template.pk]))

    assert "<strong>Ваш ваучер готов, Aino</strong>" in response.content.decode()
