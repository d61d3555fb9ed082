"""Writes of the Django admin that hold under concurrency and reach the audit trail.

- A save that loses a race on a unique constraint (two admins adding one client id, user name
  or role name at once: both forms were valid before either was saved) shows the form's usual
  error instead of a 500.
- Every deleted row gets its own saved log entry, so the audit trail, which hears each saved
  entry (``identity/audit_events.py``), records "delete selected" like a single deletion.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.models import DELETION, LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError


class WriteSafeAdmin(admin.ModelAdmin):
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (IntegrityError, ValidationError):
            if request.method != "POST":
                raise
            # The save was refused after the form was valid: the database's unique constraint,
            # or a service that met it (identity/services/uniqueness.py). The view's transaction
            # has rolled back; the row this save collided with is committed (PostgreSQL raises
            # only once the other transaction commits; SQLite serializes writers), so validating
            # the form again names the conflict. A second failure is no such race: it propagates.
            return super().changeform_view(request, object_id, form_url, extra_context)

    def log_deletions(self, request, queryset):
        """Log each deleted row with its own saved entry (Django bulk-creates them, which sends
        no ``post_save``)."""
        return [
            LogEntry.objects.log_actions(
                user_id=request.user.pk, queryset=[obj], action_flag=DELETION, single_object=True
            )
            for obj in queryset
        ]
