"""The benchmark server's application: the product's, naming the worker that answered and when
the request reached it (``X-Bench-Worker``, ``X-Bench-Start``), replayed answers included."""

import os
import time

from identity.wsgi import application as product


class WorkerHeaders:
    """A WSGI layer around the product's whole application."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.pid = str(os.getpid())

    def __call__(self, environ, start_response):
        started = repr(time.monotonic())

        def named(status, headers, exc_info=None):
            return start_response(
                status, [*headers, ("X-Bench-Worker", self.pid), ("X-Bench-Start", started)], exc_info
            )

        return self.wrapped(environ, named)


application = WorkerHeaders(product)
