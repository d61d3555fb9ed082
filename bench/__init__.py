"""The introspection benchmark: ``python -m bench`` (see docs/performance.md)."""
