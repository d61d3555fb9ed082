"""Token introspection (RFC 7662): caller authentication, its three gates
(docs/introspection.md#the-gates), responses."""
