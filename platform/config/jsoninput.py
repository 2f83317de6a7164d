"""JSON from outsiders, parsed so that every document we accept can be stored and used.

Python's json module accepts what PostgreSQL's jsonb and our own code cannot take: NUL
characters (jsonb refuses `\\u0000`), NaN and Infinity (not JSON; jsonb refuses them), integers
of thousands of digits (int() over 4,300 digits raises ValueError, float() of a large one
OverflowError), and nesting deep enough to exhaust the recursion limit (RecursionError). Each of
these was a 500 on crafted input, and a sender retries a 5xx. `json_loads_strict` refuses them
all with JsonRejected (a 400 with a stable code): parse hooks refuse the numbers while parsing,
one iterative walk checks depth and strings afterwards. `StrictJSONParser` is DRF's JSON parser
on top of it (settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).
"""

from __future__ import annotations

import json
import math
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Our documents are shallow (a webhook payload is 3-4 levels deep); 32 leaves room for what
# senders nest in free-form fields and is far below the recursion limit.
MAX_JSON_DEPTH = 32
# Integers beyond int64 serve no field of ours and break arithmetic and database columns.
MAX_JSON_INTEGER = 2**63 - 1
# A float literal longer than this is padding, not precision (a double has 17 digits).
MAX_JSON_NUMBER_CHARACTERS = 64


class JsonRejected(ValueError):
    """The bytes are not a JSON document we accept; the message is safe to show the sender."""

    def __init__(self, message: str, *, code: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.code = code
        self.path = path  # where in the document, e.g. "data.author.name", when known


def _parse_int(literal: str) -> int:
    # The length check comes first: int() itself is quadratic on long digit strings.
    if len(literal) > MAX_JSON_NUMBER_CHARACTERS or abs(int(literal)) > MAX_JSON_INTEGER:
        raise JsonRejected(
            f"the integer {literal[:24]}{'...' if len(literal) > 24 else ''} is out of range "
            f"(at most {MAX_JSON_INTEGER} in magnitude)",
            code="number_out_of_range",
        )
    return int(literal)


def _parse_float(literal: str) -> float:
    value = float(literal) if len(literal) <= MAX_JSON_NUMBER_CHARACTERS else math.inf
    if not math.isfinite(value):
        raise JsonRejected(
            f"the number {literal[:24]} is out of range (it must be a finite double)",
            code="number_out_of_range",
        )
    return value


def _parse_constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not a JSON number", code="invalid_json")


def json_loads_strict(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse one JSON document or raise JsonRejected (codes: invalid_json, too_deep,
    number_out_of_range, nul_character)."""
    try:
        document = json.loads(
            data,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except JsonRejected:
        raise
    except RecursionError:
        raise JsonRejected(
            f"the JSON nests deeper than {max_depth} levels", code="too_deep"
        ) from None
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError
        raise JsonRejected(f"not valid JSON ({error})", code="invalid_json") from None
    json_check(document, max_depth=max_depth)
    return document


_NUL = "contains a NUL character (\\u0000)"


def json_check(document: Any, *, max_depth: int = MAX_JSON_DEPTH, where: str = "") -> None:
    """Refuse nesting past `max_depth` and NUL characters in keys and strings of an already
    parsed document (iteratively: the depth being checked is the attacker's)."""
    pending: list[tuple[Any, int, str]] = [(document, 1, where)]
    while pending:
        value, depth, path = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise JsonRejected(_NUL, code="nul_character", path=path)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > max_depth:
            raise JsonRejected(f"nests deeper than {max_depth} levels", code="too_deep", path=path)
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    raise JsonRejected(f"a key {_NUL}", code="nul_character", path=path)
                pending.append((item, depth + 1, f"{path}.{key}"[:200] if path else key[:200]))
        else:
            pending.extend(
                (item, depth + 1, f"{path}[{index}]") for index, item in enumerate(value)
            )


class StrictJSONParser(JSONParser):
    """DRF's JSON parser with json_loads_strict's refusals (a 400 ParseError with the code)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return json_loads_strict(stream.read())
        except JsonRejected as error:
            raise ParseError(str(error), code=error.code) from None
