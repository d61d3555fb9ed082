"""Rows that must be unique (a client id, user name or role name of a tenant; a tenant domain),
checked and then inserted.

Two requests at once both pass the check, and the second INSERT meets the database's unique
constraint: an ``IntegrityError``, which would be a 500. :func:`claiming` answers both cases
with the same ``ValidationError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction


@contextmanager
def claiming(taken: Callable[[], bool], error: dict[str, str]) -> Iterator[None]:
    """Raise ``ValidationError(error)`` when ``taken()``; else run the block (its INSERT) in a
    savepoint, and raise the same error if it fails because the row now exists."""
    if taken():
        raise ValidationError(error)
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        # The concurrent INSERT has committed (PostgreSQL raises only then): the row is visible.
        if taken():
            raise ValidationError(error) from None
        raise
