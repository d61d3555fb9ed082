"""Counters of failed authentications, shared by every server process.

See docs/security.md.

One row per counted key (a digest: no username, client id or address is stored), valid until
``expires``: a fixed window that starts at the key's first failure.
"""

from __future__ import annotations

from django.db import models


class ThrottleCounter(models.Model):
    key = models.CharField(max_length=64, primary_key=True)  # SHA-256 hex of what is counted
    count = models.PositiveIntegerField(default=0)
    expires = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "throttle counter"

    def __str__(self) -> str:
        return f"{self.key[:12]}… {self.count} until {self.expires:%H:%M:%S}"
