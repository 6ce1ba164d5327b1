"""Request-body validation with error messages that say which field broke which rule."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass


class InvalidInput(ValueError):
    """The request body breaks a rule; the message is shown to the user as is."""


@dataclass(frozen=True)
class NumberField:
    """One numeric field of a request body and its rules."""

    name: str
    meaning: str
    maximum: float
    integer: bool = False
    minimum: float = 0

    @property
    def rule(self) -> str:
        """The rule in words, e.g. 'a number from 0 to 20'."""
        kind = "an integer" if self.integer else "a number"
        return f"{kind} from {self.minimum:g} to {self.maximum:g}"

    def check(self, value):
        """Return value if it obeys the rules, else raise InvalidInput naming field and rule."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(
                f"field '{self.name}' must be {self.rule} ({self.meaning}), got {_json_kind(value)} {json.dumps(value)}"
            )
        if self.integer and isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON has one number type: 20.0 is the integer 20 (as JSON Schema says)
        if self.integer and not isinstance(value, int):
            raise InvalidInput(f"field '{self.name}' must be an integer, got {json.dumps(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"field '{self.name}' must be a finite number")
        # int vs float comparisons are exact in Python, even for ints too big to be floats
        if value < self.minimum:
            raise InvalidInput(f"field '{self.name}' must be >= {self.minimum:g}, got {_show(value)}")
        if value > self.maximum:
            raise InvalidInput(f"field '{self.name}' must be <= {self.maximum:g}, got {_show(value)}")
        return value


def _show(value) -> str:
    """A number as a short text; a huge int (no float can hold it) by its size."""
    if isinstance(value, int) and abs(value) >= 10**16:
        return f"{'a negative' if value < 0 else 'an'} integer of {len(str(abs(value)))} digits"
    return f"{value:g}"


def _json_kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "number"


def _refuse_constant(name: str):
    raise InvalidInput(f"request body must be valid JSON: {name} is not allowed")


def parse_body(raw: bytes, example: str) -> dict:
    """Parse a JSON object from raw bytes, or raise InvalidInput with an example of a good body."""
    if not raw.strip():
        raise InvalidInput(f"request body is empty: send a JSON object such as {example}")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except InvalidInput:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"request body is not valid JSON ({exc}); send e.g. {example}") from None
    except RecursionError:
        raise InvalidInput(f"request body is nested too deeply; send e.g. {example}") from None
    if not isinstance(body, dict):
        raise InvalidInput(f"request body must be a JSON object such as {example}, got {_json_kind(body)}")
    return body


def validate_fields(body: dict, *fields: NumberField) -> dict:
    """Check body has exactly these fields, each valid; return {name: value}."""
    allowed = {field.name for field in fields}
    extra = sorted(set(body) - allowed)
    if extra:
        names = ", ".join(f"'{name}'" for name in extra)
        takes = ", ".join(f"'{name}'" for name in sorted(allowed))
        raise InvalidInput(f"unexpected field {names}: this endpoint takes only {takes}")
    values = {}
    for field in fields:
        if field.name not in body:
            raise InvalidInput(f"missing field '{field.name}': {field.rule} ({field.meaning})")
        values[field.name] = field.check(body[field.name])
    return values
