from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Stable cursor pagination on the monotonic primary key, newest first.

    Cursors stay correct while rows are inserted, and each page is one indexed range query.
    """

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200
