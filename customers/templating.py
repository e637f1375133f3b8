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
        if name not in PLACEHOLDERS or spec or conversion:
            problems.append(
                _("Unknown placeholder {%(name)s}. Known: %(known)s.")
                % {
                    "name": name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else ""),
                    "known": ", ".join(f"{{{known}}}" for known in sorted(PLACEHOLDERS)),
                }
            )
    return problems


def template_render(text: str, context: Mapping[str, object]) -> str:
    """Fill the placeholders; a known placeholder without a value renders as an empty string."""
    values = {name: str(context.get(name, "") or "") for name in PLACEHOLDERS}
    return text.format_map(values)
