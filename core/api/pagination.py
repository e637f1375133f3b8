from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Stable cursor pagination on the monotonic primary key, newest first.

    Cursors stay correct while rows are inserted, and each page is one indexed range query.
    """

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request: Any) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound as exc:  # a damaged cursor is bad input, not a missing page
            raise ValidationError({self.cursor_query_param: [_("Invalid cursor.")]}, code="invalid_cursor") from exc
