"""OpenAPI pieces shared by every API view: the problem+json error shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

Problem = inline_serializer(
    name="Problem",
    fields={
        "type": serializers.URLField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.CharField(help_text="Stable machine-readable error code."),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.DictField()),
            required=False,
            help_text="Per-field errors: field name to a list of {code, message}.",
        ),
    },
)

PROBLEM_RESPONSES = {
    400: OpenApiResponse(Problem, description="Invalid input (code `invalid`, fields in `errors`)."),
    401: OpenApiResponse(Problem, description="No or invalid API key."),
    403: OpenApiResponse(Problem, description="The key lacks the scope (code `missing_scope`)."),
    404: OpenApiResponse(Problem, description="Not found."),
    409: OpenApiResponse(Problem, description="Conflict with the current state."),
}
