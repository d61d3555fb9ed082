"""The Django project and the OAuth core: users, roles, clients, tokens, keys, endpoints."""
