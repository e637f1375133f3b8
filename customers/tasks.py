from __future__ import annotations

import logging

from celery import Task, shared_task
from django.utils import timezone

from customers import outbox

logger = logging.getLogger(__name__)


@shared_task(name="customers.tasks.message_send_task", bind=True, acks_late=True, max_retries=None)
def message_send_task(self: Task, *, message_id: int) -> bool:
    """Send one outbox row. Safe to run twice: the row is claimed with a conditional update, so
    only one run sends it. A failed send leaves the row pending with the time it is due again
    (exponential backoff, kept on the row so that the sweeper honours it too) and retries then;
    after ``MESSAGE_MAX_ATTEMPTS`` the row is ``failed`` and the task stops."""
    try:
        return outbox.message_deliver(message_id) is not None
    except Exception as error:
        # The error's text can hold the recipient's address (SMTPRecipientsRefused): only its type
        # goes to the logs, through Celery's retry too; the details stay on the message row.
        safe = _without_details(error, message_id)
        retry_at = outbox.message_retry_at(message_id)
        if retry_at is None:
            logger.warning("outbox: %s, failed for good", safe)
            return False
        raise self.retry(exc=safe, countdown=max((retry_at - timezone.now()).total_seconds(), 0)) from None


def _without_details(error: Exception, message_id: int) -> Exception:
    """The same kind of error, its text replaced by the message id (for the logs)."""
    text = f"message {message_id}: {type(error).__name__}"
    try:
        return type(error)(text)
    except TypeError:  # an exception class that needs other arguments
        return DeliveryFailed(text)


class DeliveryFailed(Exception):
    """A send failed; carries only the message id and the error's type, never its text."""


@shared_task(name="customers.tasks.messages_sweep_task")
def messages_sweep_task() -> int:
    """Every few minutes: re-enqueue rows whose enqueue was lost or whose sender died."""
    due = outbox.messages_due()
    for message_id in due:
        message_send_task.delay(message_id=message_id)
    return len(due)


@shared_task(name="customers.tasks.segments_refresh_task")
def segments_refresh_task() -> int:
    """Hourly: re-materialise every active dynamic segment, each in its own transaction.

    Safe to run twice (a refresh of unchanged data changes nothing but its time). A segment whose
    rules no longer validate (a condition's app was removed) is logged and skipped; the others
    still refresh. Returns how many segments were refreshed."""
    import logging

    from django.core.exceptions import ValidationError

    from customers.models import Segment
    from customers.segments import segment_refresh

    refreshed = 0
    for segment in Segment.objects.filter(is_active=True, kind=Segment.Kind.DYNAMIC).order_by("pk"):
        try:
            segment_refresh(segment=segment)
        except ValidationError:
            logging.getLogger(__name__).exception("Segment %s has invalid rules; not refreshed.", segment.pk)
            continue
        refreshed += 1
    return refreshed
