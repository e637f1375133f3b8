"""The Finnish and Russian catalogues are complete, compiled, and used by the portal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ["fi", "ru"]


def _entries(po: Path) -> list[tuple[str, list[str], str]]:
    """(msgid, msgstrs, flags) for each entry, header excluded; a tiny .po reader."""
    entries = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if line.strip()]
        flags = " ".join(line for line in lines if line.startswith("#,"))
        text = "\n".join(line for line in lines if not line.startswith("#"))
        msgid = "".join(re.findall(r'"(.*)"', text.split("msgid_plural")[0].split("msgstr")[0]))
        strs = ["".join(re.findall(r'"(.*)"', part)) for part in re.split(r"^msgstr(?:\[\d\])? ", text, flags=re.M)[1:]]
        if msgid:
            entries.append((msgid, strs, flags))
    return entries


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_is_complete_and_not_fuzzy(language):
    po = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
    entries = _entries(po)

    assert len(entries) > 100
    untranslated = [msgid for msgid, strs, _ in entries if not strs or not all(strs)]
    fuzzy = [msgid for msgid, _, flags in entries if "fuzzy" in flags]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_is_compiled_and_loaded(language):
    assert (ROOT / "locale" / language / "LC_MESSAGES" / "django.mo").exists()
    with translation.override(language):
        assert translation.gettext("Sign in to your rewards") != "Sign in to your rewards"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "heading"),
    [("fi", "Sign in to your rewards"), ("ru", "Sign in to your rewards")],
)
def test_portal_login_page_is_translated_by_accept_language(client, language, heading):
    with translation.override(language):
        expected = translation.gettext(heading)

    response = client.get("/portal/login/", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    assert response["Content-Language"] == language
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    assert expected in html
    assert heading not in html
