"""The one place each change to a tenant's data is made.

The admin, the management API, the management commands and dynamic client registration all
call these functions, so a change is validated, announced to every server process and written
to the audit trail the same way whichever door it came through.
"""
