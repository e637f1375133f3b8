"""Panels on the portal home page, contributed by the apps above ``customers``.

``customers`` knows nothing of points, campaigns or referrals; each of those apps registers a
panel from its ``AppConfig.ready()`` (loyalty: balance, tier and latest vouchers), and the home
view renders the registered panels in ``order``. The panel's template is included with the dict
its ``context`` callable returns as ``panel`` (plus the page's own context: ``customer``,
``request``, ``user``), so panels never clash over variable names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from customers.models import Customer

PanelContext = Callable[[Customer], dict[str, Any]]


@dataclass(frozen=True)
class HomePanel:
    key: str
    order: int
    template: str
    context: PanelContext


_panels: dict[str, HomePanel] = {}


def register_home_panel(*, key: str, order: int, template: str, context: PanelContext) -> None:
    """Add a panel to the home page (lower ``order`` first; ties by ``key``). ``context`` gets the
    signed-in customer and must scope every read to them. Registering a key again replaces the
    panel, so a ``ready()`` that runs twice adds nothing."""
    _panels[key] = HomePanel(key=key, order=order, template=template, context=context)


def home_panels(customer: Customer) -> list[tuple[str, dict[str, Any]]]:
    """``(template, context)`` for every registered panel, in display order."""
    ordered = sorted(_panels.values(), key=lambda panel: (panel.order, panel.key))
    return [(panel.template, panel.context(customer)) for panel in ordered]
