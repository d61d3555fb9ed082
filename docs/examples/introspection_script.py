"""An example introspection script module (docs/scripts.md).

Two scripts, each ``def modify_response(response: dict, context) -> bool``. Register them in
deployment.toml, in the order they should run::

    [[oauth.introspect.script]]
    name = "department"
    callable = "docs.examples.introspection_script:add_department"

    [[oauth.introspect.script]]
    name = "tenant"
    callable = "docs.examples.introspection_script:add_tenant"

then bind them to a client (``manage.py createclient ... --scripts department tenant``), or
set ``[oauth.introspect] script_backward_compatibility = true`` to run them for every client.

Scripts are operator code: they run inside the server with all its rights, on the hot path.
Keep them small, quick and free of secrets.
"""

from __future__ import annotations

# The department a role stands for: the user's roles are tried in name order.
ROLE_DEPARTMENTS = {"finance": "Finance", "sales": "Sales", "admin": "IT"}
# Else, the department an email domain stands for.
EMAIL_DEPARTMENTS = {"research.example.com": "Research"}


def department_of(user) -> str | None:
    """Return the department of ``user``: from its roles, else its email domain, else None."""
    for role in user.roles.order_by("name").values_list("name", flat=True):
        if role in ROLE_DEPARTMENTS:
            return ROLE_DEPARTMENTS[role]
    domain = user.email.rpartition("@")[2].lower()
    return EMAIL_DEPARTMENTS.get(domain)


def add_department(response: dict, context) -> bool:
    """Add ``department`` for a token that acts for a user who has one."""
    if context.user is None:
        return True  # an app token without owner: nothing to add, and nothing wrong
    department = department_of(context.user)
    if department is not None:
        response["department"] = department
    return True


def add_tenant(response: dict, context) -> bool:
    """Add ``tenant``, the domain of the token's tenant (a gateway may route on it)."""
    response["tenant"] = context.tenant.domain
    return True
