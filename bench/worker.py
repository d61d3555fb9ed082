"""The benchmark server's middleware: which worker answered, and when the request reached it."""

import os
import time


class WorkerHeaders:
    def __init__(self, get_response):
        self.get_response = get_response
        self.pid = str(os.getpid())

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        response["X-Bench-Worker"] = self.pid
        response["X-Bench-Start"] = repr(started)
        return response
