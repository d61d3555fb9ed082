"""Django's PostgreSQL backend with the product's pooled-connection checks (``base.py``)."""
