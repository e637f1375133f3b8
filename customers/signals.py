"""Domain events of the customers app. Sent on commit (core.events.emit_on_commit), ids only.

customers knows nothing of the apps above it; they connect receivers in their ``ready()``.

feedback_given(feedback_id, customer_id)
    A customer answered a survey (``customers.models.Feedback``), once per survey: a repeated
    answer is refused and sends nothing. The campaigns app grants the reward for taking part,
    whatever the score, and records it with ``customers.feedback.feedback_reward_record``.
"""

from django.dispatch import Signal

feedback_given = Signal()
