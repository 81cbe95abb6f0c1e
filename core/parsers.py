"""The API's JSON parser: a body it cannot read is a 400 ParseError, however it is malformed (kept apart from
api.py: DRF imports parsers while loading its views)."""

from collections.abc import Iterable

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No API body needs more; Python's own parser would otherwise stop at its recursion limit with a 500.
MAX_JSON_DEPTH = 100


def json_depth_exceeds(value, limit: int) -> bool:
    """Whether arrays/objects nest deeper than `limit`; a loop, not recursion, so any depth is safe to check."""
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        children: Iterable
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            data = None
        else:
            if not json_depth_exceeds(data, MAX_JSON_DEPTH):
                return data
        raise ParseError(f"JSON parse error - arrays and objects nested more than {MAX_JSON_DEPTH} levels deep.")
