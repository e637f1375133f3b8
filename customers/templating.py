"""Message templates with ``{placeholder}`` fields, rendered in a closed context.

Only the names below exist. A placeholder may not reach into attributes or indexes
(``{first_name.__class__}``, ``{points[0]}``) nor carry a conversion or format spec, so a
template can never read anything but the plain strings it is given.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from django.utils.translation import gettext as _

PLACEHOLDERS = {
    "first_name": "Aino",
    "points": "120",
    "balance": "540",
    "tier": "Silver",
    "next_tier": "Gold",
    "points_to_next_tier": "460",
    "gift": "50 bonus points",
    "voucher_code": "ABCD-EFGH-JKMN",
    "survey_link": "https://example.com/portal/feedback/",
    "unsubscribe_link": "https://example.com/portal/unsubscribe/...",
    "store": "Kallio",
    "amount": "18.40 EUR",
    "friend_name": "Mikko V.",
    "referral_link": "https://example.com/r/AINO7K/",
    "campaign": "Autumn thank-you",
    "details": "Double points all weekend in every store.",
    "prize": "A weekend for two in Levi",
    "deadline": "30.11.2026",
    "link": "https://example.com/portal/",
}

_formatter = string.Formatter()


def template_errors(text: str) -> list[str]:
    """Why ``text`` cannot be a template (empty when it can)."""
    try:
        fields = list(_formatter.parse(text))
    except ValueError as error:
        return [_("The braces do not match: %(error)s. Write a literal brace as {{ or }}.") % {"error": error}]
    problems = []
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            problems.append(
                _("Unknown placeholder {%(name)s}. Known: %(known)s.")
                % {"name": name, "known": ", ".join(f"{{{known}}}" for known in sorted(PLACEHOLDERS))}
            )
        elif spec or conversion:
            written = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            problems.append(
                _("The placeholder {%(written)s} may not have a conversion or a format: write {%(name)s}.")
                % {"written": written, "name": name}
            )
    return problems


def template_render(text: str, context: Mapping[str, object]) -> str:
    """Fill the placeholders; a known placeholder without a value (absent or None) renders empty.

    Renders by substituting the parsed fields itself, never through ``str.format``, so even a
    template that skipped validation cannot reach an attribute or index: it raises ValueError.
    """
    if template_errors(text):
        raise ValueError(f"not a valid template: {text[:100]!r}")
    parts = []
    for literal, name, _spec, _conversion in _formatter.parse(text):
        parts.append(literal)
        if name is not None:
            value = context.get(name)
            parts.append("" if value is None else str(value))
    return "".join(parts)
