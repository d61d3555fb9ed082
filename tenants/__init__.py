"""Tenants: the model, /t/<tenant>/ routing, cross-tenant rules and resource access control."""

from tenants.shortcuts import get_current_tenant

__all__ = ["get_current_tenant"]
