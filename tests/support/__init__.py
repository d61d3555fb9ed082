"""The test toolkit: everything the tests share, defined once.

- ``auth``: HTTP Basic and Bearer credentials.
- ``worlds``: the data the in-process tests build (tenants, users, clients, tokens).
- ``oauth``, ``introspection``, ``jwt``, ``api``: requests to each surface through Django's test client.
- ``server``: the real-server launcher (black-box tests and ``bench/``); ``polling``: ``wait_for``.
- ``wsgi``: the server's WSGI application (the layers in front of Django) driven in-process.
- ``tcp_proxy``: a proxy to cut a server's database connections; ``audit``: audit-record filters.

Fixtures live in ``tests/conftest.py``.
"""
