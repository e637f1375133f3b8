"""Domain events: Django signals sent only once the surrounding transaction commits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import Signal

_state = threading.local()


@contextmanager
def events_muted() -> Iterator[None]:
    """Record history without reactions: inside this block no event is emitted. For bulk loads
    of past data (demo data, imports), whose purchases must not be thanked today."""
    previous = getattr(_state, "muted", False)
    _state.muted = True
    try:
        yield
    finally:
        _state.muted = previous


def emit_on_commit(signal: Signal, *, sender: type, **ids: Any) -> None:
    """Send ``signal`` with ``ids`` after the current transaction commits (at once outside one).

    Receivers get ids only, never model instances, so that they re-read committed state.
    If the transaction rolls back, nothing is sent.
    """
    if getattr(_state, "muted", False):
        return
    transaction.on_commit(partial(signal.send, sender=sender, **ids))
