"""Settings from LABAPP_* variables."""

import pytest

from labapp.settings import Settings


def test_environment_overrides_defaults():
    settings = Settings.from_env({"LABAPP_FACTORIAL_MAX_N": "500", "LABAPP_VISIBILITY_TIMEOUT": "60"})
    assert settings.factorial_max_n == 500
    assert settings.visibility_timeout == 60
    assert settings.longtask_max_x == Settings().longtask_max_x


def test_a_bad_value_names_the_variable():
    with pytest.raises(ValueError, match="LABAPP_FACTORIAL_MAX_N='many'"):
        Settings.from_env({"LABAPP_FACTORIAL_MAX_N": "many"})


def test_visibility_timeout_must_exceed_the_longest_task():
    with pytest.raises(ValueError, match="run twice"):
        Settings.from_env({}, visibility_timeout=10, longtask_max_x=20)


def test_round_trip_through_child_environment():
    settings = Settings(broker_url="redis://:pw@127.0.0.1:1/0", factorial_max_n=7)
    assert Settings.from_env(settings.to_env()) == settings


def test_booleans_read_like_a_person_writes_them():
    assert Settings.from_env({"LABAPP_TASK_EVENTS": "yes"}).task_events is True
    assert Settings.from_env({"LABAPP_TASK_EVENTS": "0"}).task_events is False
    with pytest.raises(ValueError, match="LABAPP_TASK_EVENTS='maybe'"):
        Settings.from_env({"LABAPP_TASK_EVENTS": "maybe"})


@pytest.mark.parametrize(
    "name, raw, message",
    [
        ("LONGTASK_MAX_X", "nan", "must be a finite number"),  # NaN would pass every bound check
        ("BROKER_TIMEOUT", "inf", "must be a finite number"),
        ("MAX_WORKERS", "-3", "must be >= 0"),
        ("FACTORIAL_MAX_N", "-1", "must be >= 0"),
        ("RESULT_EXPIRES", "0", "must be >= 1"),
    ],
)
def test_nonsense_numbers_are_refused_where_they_are_set(name, raw, message):
    with pytest.raises(ValueError, match=f"LABAPP_{name} {message}"):
        Settings.from_env({f"LABAPP_{name}": raw})
