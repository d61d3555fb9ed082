"""Token introspection (RFC 7662): caller authentication, the gates of §6.3, responses."""
