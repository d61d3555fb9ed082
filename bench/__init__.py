"""The introspection benchmark of SPEC §10: ``python -m bench`` (see docs/performance.md)."""
