from django.urls import path

from introspection.views import introspect

urlpatterns = [path("oauth2/introspect", introspect, name="introspect")]
