"""Every portal page, in Finnish and in Russian, shows no English text from the catalogue.

The demo's customer (a year of purchases, vouchers, referrals, gifts) walks every page; each text
node and each label-like attribute of the rendered HTML is looked up among the catalogue's English
messages: one found verbatim where the translation differs is an untranslated string on the page.
"""

from __future__ import annotations

from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from customers.demo import DEMO_CUSTOMER_EMAIL
from customers.feedback import complaint_open, survey_url
from customers.models import Customer
from loyalty.models import Voucher
from tests.test_i18n import _entries

ROOT = Path(__file__).resolve().parents[1]
ATTRIBUTES = {"aria-label", "placeholder", "title", "alt"}


class _Texts(HTMLParser):
    """The visible texts, skipping scripts, styles and elements marked as another language (the
    language switcher names each language in its own words)."""

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        lang = dict(attrs).get("lang")
        if tag in {"script", "style"} or (lang and tag != "html" and lang != self.language):
            self._skip += 1
            self._skipping_tag = tag
        self.texts += [value.strip() for name, value in attrs if name in ATTRIBUTES and value]
        if tag == "input" and ("type", "submit") in attrs:
            self.texts += [value.strip() for name, value in attrs if name == "value" and value]

    def handle_endtag(self, tag: str) -> None:
        if self._skip and tag in {"script", "style", getattr(self, "_skipping_tag", "")}:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def untranslated(html: str, english: set[str], language: str) -> list[str]:
    parser = _Texts(language)
    parser.feed(html)
    return sorted({text for text in parser.texts if text in english})


def english_messages(language: str) -> set[str]:
    po = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
    return {
        " ".join(msgid.split())
        for msgid, strs, _flags in _entries(po)
        if strs and strs[0] and strs[0] != msgid and "%" not in msgid and "{" not in msgid
    }


def portal_urls(customer: Customer) -> list[str]:
    voucher = Voucher.objects.filter(customer=customer).order_by("pk").first()
    urls = [
        reverse("portal:home"),
        reverse("portal:profile"),
        reverse("portal:password"),
        reverse("portal:feedback"),
        reverse("loyalty_portal:history"),
        reverse("loyalty_portal:rewards"),
        reverse("loyalty_portal:vouchers"),
        reverse("referrals_portal:mine"),
        reverse("campaigns-portal:gifts"),
        reverse("portal:privacy"),
        reverse("portal:privacy-delete"),
    ]
    if voucher is not None:
        urls.append(reverse("loyalty_portal:voucher", args=[voucher.code]))
    complaint = complaint_open(
        customer=customer, subject="Kylmä kahvi", description="Kahvi oli kylmää.", source="portal"
    )
    urls.append(reverse("portal:complaint", args=[complaint.pk]))
    urls.append(survey_url(customer, "portal").removeprefix(settings.PUBLIC_BASE_URL.rstrip("/")))
    return urls


PUBLIC_URLS = ["/portal/login/", "/portal/login/link/", "/portal/join/", "/portal/password/reset/"]


@pytest.mark.django_db
def test_every_portal_page_is_translated_in_finnish_and_russian(client, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", "--customers", "40", stdout=StringIO())
    customer = Customer.objects.get(email=DEMO_CUSTOMER_EMAIL)
    pages = portal_urls(customer)
    found: dict[str, list[str]] = {}
    for language in ("fi", "ru"):
        english = english_messages(language)
        Customer.objects.filter(pk=customer.pk).update(language=language)  # the survey speaks theirs
        client.logout()  # (a new cookie jar)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        for url in PUBLIC_URLS:
            response = client.get(url)
            assert response.status_code == 200, url
            found.update(
                {
                    f"{language} {url}": texts
                    for texts in [untranslated(response.content.decode(), english, language)]
                    if texts
                }
            )
        client.force_login(customer.user)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            assert response["Content-Language"] == language
            found.update(
                {
                    f"{language} {url}": texts
                    for texts in [untranslated(response.content.decode(), english, language)]
                    if texts
                }
            )
    assert found == {}


@pytest.mark.django_db
def test_the_demo_customers_data_export_holds_their_history_and_after_erasure_the_ledger_verifies(settings, tmp_path):
    """What the issue asks of the demo: Aino's export has her purchases, ledger, consents and
    messages; erasing her keeps the books, and ``verify_ledger`` exits 0."""
    from customers.privacy import customer_data_export, customer_erase

    settings.VAR_DIR = tmp_path
    call_command("load_demo", "--customers", "40", stdout=StringIO())
    customer = Customer.objects.get(email=DEMO_CUSTOMER_EMAIL)
    data = customer_data_export(customer)
    assert len(data["loyalty"]["purchases"]) >= 20
    assert len(data["loyalty"]["ledger"]) >= 20
    assert data["consent_history"]
    assert data["messages"]

    customer_erase(customer=customer, source="admin")

    customer.refresh_from_db()
    assert customer.status == Customer.Status.ERASED
    call_command("verify_ledger", stdout=StringIO())  # raises CommandError (exit 1) on a broken ledger
