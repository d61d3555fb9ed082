"""The product's URLs plus ``bench/lookup``, the baseline the benchmark compares with."""

from django.urls import path

from bench.baseline import lookup
from identity.urls import handler404, handler500
from identity.urls import urlpatterns as product_urlpatterns

urlpatterns = [path("bench/lookup", lookup, name="bench-lookup"), *product_urlpatterns]

__all__ = ["handler404", "handler500", "urlpatterns"]
