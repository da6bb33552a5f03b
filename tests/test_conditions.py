"""metav1.Conditions that never change needlessly (hooks/conditions.py)."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks.conditions import Condition, format_time, render_conditions

NOW = datetime(2025, 1, 15, 10, 30, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
MAX_MESSAGE = 32768


def test_time_is_rfc3339_utc_in_whole_seconds():
    assert format_time(datetime(2025, 1, 15, 10, 30, 59, 999999, tzinfo=UTC)) == (
        "2025-01-15T10:30:59Z"
    )


def test_time_in_another_zone_is_written_in_utc():
    moment = datetime(2025, 1, 15, 12, 30, tzinfo=timezone(timedelta(hours=2)))

    assert format_time(moment) == "2025-01-15T10:30:00Z"


def test_conditions_named_in_order_come_first_then_the_rest_by_type():
    conditions = [
        Condition("Zeta", "True", "R", "m"),
        Condition("Alpha", "True", "R", "m"),
        Condition("Ready", "True", "R", "m"),
    ]

    rendered = render_conditions(conditions, None, NOW, None)

    assert [c["type"] for c in rendered] == ["Ready", "Alpha", "Zeta"]


def test_custom_order_is_followed():
    conditions = [Condition(t, "True", "R", "m") for t in ("A", "B", "C")]

    rendered = render_conditions(conditions, None, NOW, None, order=("C", "A"))

    assert [c["type"] for c in rendered] == ["C", "A", "B"]


def test_new_condition_transitions_now():
    (rendered,) = render_conditions([Condition("Ready", "True", "R", "m")], [], NOW, 2)

    assert rendered == {
        "type": "Ready",
        "status": "True",
        "reason": "R",
        "message": "m",
        "lastTransitionTime": "2025-01-15T10:30:00Z",
        "observedGeneration": 2,
    }


def test_without_generation_there_is_no_observed_generation():
    (rendered,) = render_conditions([Condition("Ready", "True", "R", "m")], None, NOW, None)

    assert "observedGeneration" not in rendered


def test_unchanged_status_keeps_the_transition_time_even_if_reason_and_message_change():
    previous = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Old",
            "lastTransitionTime": "2024-12-01T00:00:00Z",
        }
    ]

    (rendered,) = render_conditions(
        [Condition("Ready", "True", "New", "other")], previous, LATER, 1
    )

    assert rendered["lastTransitionTime"] == "2024-12-01T00:00:00Z"
    assert (rendered["reason"], rendered["message"]) == ("New", "other")


def test_changed_status_moves_the_transition_time():
    previous = [{"type": "Ready", "status": "False", "lastTransitionTime": "2024-12-01T00:00:00Z"}]

    (rendered,) = render_conditions([Condition("Ready", "True", "R", "m")], previous, LATER, 1)

    assert rendered["lastTransitionTime"] == format_time(LATER)


@pytest.mark.parametrize(
    "previous",
    [
        "not a list",
        {"type": "Ready"},
        [1, None, "Ready", {"type": 3, "status": "True"}],
        [{"type": "Ready", "status": "True", "lastTransitionTime": 12345}],
        [{"type": "Ready", "status": "True"}],
    ],
)
def test_malformed_previous_conditions_read_as_new(previous):
    (rendered,) = render_conditions([Condition("Ready", "True", "R", "m")], previous, NOW, None)

    assert rendered["lastTransitionTime"] == "2025-01-15T10:30:00Z"


def test_rendering_the_written_back_conditions_again_changes_nothing():
    conditions = [Condition("Ready", "False", "R", "m"), Condition("Degraded", "True", "R", "m")]
    first = render_conditions(conditions, None, NOW, 1, order=("Ready", "Degraded"))

    again = render_conditions(
        conditions, json.loads(json.dumps(first)), LATER, 1, order=("Ready", "Degraded")
    )

    assert json.dumps(again) == json.dumps(first)


def test_message_at_the_limit_is_kept_whole():
    message = "x" * MAX_MESSAGE

    (rendered,) = render_conditions([Condition("Ready", "True", "R", message)], None, NOW, None)

    assert rendered["message"] == message


def test_message_over_the_limit_is_cut_with_a_note_of_what_was_cut():
    message = "".join(f"{i:06d};" for i in range(6000))

    (rendered,) = render_conditions([Condition("Ready", "True", "R", message)], None, NOW, None)

    assert rendered["message"] == f"{message[:32700]}… ({42000 - 32700} more characters)"


@given(st.integers(0, 3 * MAX_MESSAGE), st.characters(codec="utf-8"))
def test_message_never_exceeds_the_api_server_limit(length, char):
    message = char * length

    (rendered,) = render_conditions([Condition("Ready", "True", "R", message)], None, NOW, None)

    assert len(rendered["message"]) <= MAX_MESSAGE
    assert rendered["message"].startswith(message[:32700])


@pytest.mark.parametrize(
    "carried",
    ["", "yesterday", "2025-01-15", "2025-13-45T10:30:00Z", "2025-01-15T10:30:00", 1736937000],
)
def test_a_carried_transition_time_the_crd_would_refuse_is_replaced(carried: object) -> None:
    """Written back, an invalid metav1.Time would make every status write of the parent fail."""
    previous = [{"type": "Ready", "status": "True", "lastTransitionTime": carried}]

    (rendered,) = render_conditions([Condition("Ready", "True", "R", "m")], previous, LATER, None)

    assert rendered["lastTransitionTime"] == format_time(LATER)


@pytest.mark.parametrize(
    "carried", ["2025-01-15T10:30:00Z", "2025-01-15T10:30:00.5Z", "2025-01-15T12:30:00+02:00"]
)
def test_a_valid_carried_transition_time_is_kept_as_written(carried: str) -> None:
    previous = [{"type": "Ready", "status": "True", "lastTransitionTime": carried}]

    (rendered,) = render_conditions([Condition("Ready", "True", "R", "m")], previous, LATER, None)

    assert rendered["lastTransitionTime"] == carried
