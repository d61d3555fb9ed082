"""The request bodies of the management API and client registration: JSON in UTF-8."""

from __future__ import annotations

import codecs

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class Utf8JSONParser(JSONParser):
    """DRF's JSON parser, refusing a body that declares another charset, which DRF would decode:
    JSON exchanged between systems must be UTF-8 (RFC 8259 §8.1), as the form endpoints' bodies."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        if codecs.lookup(encoding).name != "utf-8":
            raise ParseError(f"the body must be UTF-8 JSON, not {encoding}")
        return super().parse(stream, media_type, parser_context)
