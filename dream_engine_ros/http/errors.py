"""API errors as JSON bodies that name field, value and rule (the engine's own wording).

Why one type: every 4xx/5xx the server sends has the same shape, so a client (or the SDK) can
show a user exactly which field was wrong without parsing prose.
"""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

from dream_engine_ros.engine.errors import InputError, plain_value


class ApiError(Exception):
    """An HTTP error answer: status, the offending field, its value, the rule it broke."""

    def __init__(self, status: int, field: str, value: Any, rule: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{field}: {rule}")
        self.status = status
        self.field = field
        self.value = value
        self.rule = rule
        self.headers = dict(headers or {})

    @classmethod
    def from_input_error(cls, exc: InputError, status: int = 422) -> ApiError:
        """The engine validator's error, unchanged in wording."""
        return cls(status, exc.field, exc.value, exc.rule)

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.field, self.value, self.rule)


def error_body(status: int, field: str, value: Any, rule: str) -> dict[str, Any]:
    """The JSON every error response carries; `message` equals the engine's `str(InputError)`."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    # numbers stay JSON numbers, text stays plain text, anything else reads as the engine prints it
    shown: Any = value if isinstance(value, (int, float, bool, str)) or value is None else plain_value(value)
    if isinstance(shown, float) and not math.isfinite(shown):
        shown = plain_value(shown)  # JSON has no nan/inf: 'nan', 'inf' as text
    return {"status": status, "error": reason, "field": field, "value": shown, "rule": rule,
            "message": f"{field}: {rule}"}
