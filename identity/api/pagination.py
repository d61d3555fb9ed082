"""Limit/offset pages (``?limit=&offset=``), bounded so one request cannot read a whole table."""

from rest_framework import pagination


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 50
    max_limit = 500
