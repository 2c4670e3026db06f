"""Pagination: page numbers for the short lists, a cursor for the inventory.

The inventory can hold tens of thousands of rows that change between requests; a cursor keeps
pages stable while rows are added and never counts the whole table. A page number past the end
or a damaged cursor is bad input (400 naming the parameter), not a missing object (DRF's 404).
"""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination


class StrictPageSize:
    """``page_size`` must be a whole number from 1 to ``max_page_size`` (DRF ignores bad ones)."""

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [f"expected a whole number from 1 to {self.max_page_size}"]})
        return size


class PagePagination(StrictPageSize, PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ValidationError({self.page_query_param: [str(exc.detail)]}) from None


class ResourceCursorPagination(StrictPageSize, CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = ("name", "id")

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [str(exc.detail)]}) from None
