"""Request validation rules, without a cluster."""

import pytest

from labapp.api.validation import InvalidInput, NumberField, parse_body, validate_fields

X = NumberField("x", "seconds of simulated work", 20)
N = NumberField("n", "the number", 20000, integer=True)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"x"', "must be a JSON object"),
        (b'{"x": NaN}', "NaN is not allowed"),
        (b"[" * 8000 + b"]" * 8000, "nested too deeply"),
        (b'{"x": 1' + b"0" * 5000 + b"}", "not valid JSON"),  # over Python's int digit limit
    ],
)
def test_parse_body_rejects_non_objects(raw, message):
    with pytest.raises(InvalidInput, match=message):
        parse_body(raw, '{"x": 10}')


def test_parse_body_accepts_an_object():
    assert parse_body(b'{"x": 1.5}', '{"x": 10}') == {"x": 1.5}


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "missing field 'x'"),
        ({"x": 1, "y": 2}, "unexpected field 'y'"),
        ({"x": "10"}, "field 'x' must be a number from 0 to 20 .* got string"),
        ({"x": True}, "got boolean true"),
        ({"x": None}, "got null"),
        ({"x": -1}, "must be >= 0"),
        ({"x": 21}, "must be <= 20"),
    ],
)
def test_number_field_rules(body, message):
    with pytest.raises(InvalidInput, match=message):
        validate_fields(body, X)


@pytest.mark.parametrize(
    "value, message",
    [
        (10.5, "must be an integer"),
        (True, "got boolean"),
        (20001, "must be <= 20000"),
        (-3, "must be >= 0"),
    ],
)
def test_integer_field_rules(value, message):
    with pytest.raises(InvalidInput, match=message):
        validate_fields({"n": value}, N)


def test_valid_values_pass_through():
    assert validate_fields({"x": 0}, X) == {"x": 0}
    assert validate_fields({"x": 2.5}, X) == {"x": 2.5}
    assert validate_fields({"n": 20000}, N) == {"n": 20000}
