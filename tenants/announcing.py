"""Make every write of a cached model announce itself on the change bus (``tenants.changes``).

A model whose rows the cache holds mixes in :class:`Announced` and says which tags a row
stands for (``change_tags``) and, for bulk changes, which owners to name when the rows are
too many (``owner_tags``). Then every way of writing it announces, with nothing to remember at
the call site:

- ``save()`` and ``delete()`` (and cascades) through ``post_save`` / ``post_delete``;
- ``QuerySet.update()``, ``delete()`` and ``bulk_update()`` through :class:`AnnouncingQuerySet`
  (one message naming the rows, or their owners, never one message per row);
- many-to-many changes of its fields through ``m2m_changed``;
- migrations (data migrations use historical models, which have none of the above): everything
  is dropped after ``migrate``.

``tests/test_change_announcements.py`` fails when a cached model can be written without an
announcement.
"""

from __future__ import annotations

import contextvars
from typing import ClassVar

from django.apps import apps
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

from tenants import changes
from tenants.cache import EVERYTHING, Tag

# Rows named one by one up to this many; past it, their owners are named instead.
MAX_ROWS_NAMED = 64
# Set while a bulk delete announces for its rows, so each row's post_delete need not.
_bulk = contextvars.ContextVar("bulk_announcement", default=False)


class Announced(models.Model):
    """A model whose rows the cache holds: every write of it is announced."""

    # (tag kind, field) pairs, from the narrowest owner to the widest, for bulk changes.
    owner_tags: ClassVar[tuple[tuple[str, str], ...]] = (("t", "tenant_id"),)
    # Whether a new row is announced: only when something may be cached as missing.
    announce_creation: ClassVar[bool] = True

    class Meta:
        abstract = True

    def change_tags(self) -> list[Tag]:
        """Return the tags of the cache entries this row went into."""
        raise NotImplementedError


def announced_models() -> list[type[Announced]]:
    """Every concrete model whose writes are announced."""
    return [model for model in apps.get_models() if issubclass(model, Announced)]


def bulk_tags(queryset: models.QuerySet) -> list[Tag]:
    """Return the tags naming the rows of ``queryset``: each row, or their owners, or everything."""
    model = queryset.model
    # One read: the key and owner fields of at most one row more than may be named.
    fields = ["pk", *{field for _, field in model.owner_tags}]
    rows = list(queryset.order_by().values(*fields)[: MAX_ROWS_NAMED + 1])
    if len(rows) <= MAX_ROWS_NAMED:
        # Each row's tags, built without loading the row.
        return [tag for values in rows for tag in model(**values).change_tags()]
    for kind, field in model.owner_tags:
        owners = list(queryset.order_by().values_list(field, flat=True).distinct()[: MAX_ROWS_NAMED + 1])
        if len(owners) <= MAX_ROWS_NAMED and None not in owners:
            return [(kind, owner) for owner in owners]
    return [EVERYTHING]


class AnnouncingQuerySet(models.QuerySet):
    """A queryset whose bulk writes announce the rows they change (for :class:`Announced` models)."""

    def _announces(self) -> bool:
        return issubclass(self.model, Announced)

    def update(self, **kwargs):
        if not self._announces():
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            tags = bulk_tags(self)
            count = super().update(**kwargs)
            if count:
                changes.announce(tags)
        return count

    def delete(self):
        if not self._announces():
            return super().delete()
        with transaction.atomic(using=self.db):
            tags = bulk_tags(self)
            reset = _bulk.set(True)
            try:
                result = super().delete()
            finally:
                _bulk.reset(reset)
            if result[0]:
                changes.announce(tags)
        return result

    def bulk_update(self, objs, fields, batch_size=None):
        objs = list(objs)
        with transaction.atomic(using=self.db):
            count = super().bulk_update(objs, fields, batch_size=batch_size)
            if self._announces() and count:
                changes.announce([tag for obj in objs for tag in obj.change_tags()])
        return count


def _saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw or (created and not sender.announce_creation):
        return
    changes.announce(instance.change_tags())


def _deleted(sender, instance, **kwargs) -> None:
    if not _bulk.get():
        changes.announce(instance.change_tags())


def _m2m_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    tags = list(instance.change_tags())
    # The rows on the other side (users given a role: their cached permissions are stale). A
    # clear names none, but every entry built from the old pairs carries this row's tags.
    if issubclass(model, Announced) and pk_set:
        tags.extend(tag for pk in pk_set for tag in model(pk=pk).change_tags())
    changes.announce(tags)


def _migrated(**kwargs) -> None:
    # Data migrations write through historical models, which announce nothing.
    changes.announce([EVERYTHING])


def connect() -> None:
    """Connect the announcing receivers to every :class:`Announced` model (at app ready)."""
    for model in announced_models():
        post_save.connect(_saved, sender=model, dispatch_uid=f"announce-save-{model._meta.label}")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"announce-delete-{model._meta.label}")
        for field in model._meta.many_to_many:
            m2m_changed.connect(
                _m2m_changed, sender=field.remote_field.through, dispatch_uid=f"announce-m2m-{field}"
            )
    post_migrate.connect(_migrated, dispatch_uid="announce-migrate")
