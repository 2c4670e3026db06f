"""Pagination: page numbers for the short lists, a cursor for the inventory.

The inventory can hold tens of thousands of rows that change between requests; a cursor keeps
pages stable while rows are added and never counts the whole table.
"""

from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ResourceCursorPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = ("name", "id")
