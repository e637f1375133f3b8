"""Domain events: Django signals sent only once the surrounding transaction commits."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import Signal


def emit_on_commit(signal: Signal, *, sender: type, **ids: Any) -> None:
    """Send ``signal`` with ``ids`` after the current transaction commits (at once outside one).

    Receivers get ids only, never model instances, so that they re-read committed state.
    If the transaction rolls back, nothing is sent.
    """
    transaction.on_commit(partial(signal.send, sender=sender, **ids))
