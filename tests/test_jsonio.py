"""hooks.jsonio: the service's JSON, fast with orjson, never refusing what `json` could write."""

import gc
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks import jsonio

FIXTURES = Path(__file__).resolve().parent / "fixtures"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


def test_output_is_compact_utf8() -> None:
    body = jsonio.dumps({"status": {"message": "é <ok> & done"}, "children": [1, 2]})
    assert body == '{"status":{"message":"é <ok> & done"},"children":[1,2]}'.encode()


def test_keys_keep_their_order() -> None:
    assert jsonio.dumps({"b": 1, "a": 2}) == b'{"b":1,"a":2}'


@given(json_values)
def test_written_documents_read_back_as_the_same_value(value: object) -> None:
    assert jsonio.loads(jsonio.dumps(value)) == value
    assert json.loads(jsonio.dumps(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        {1: "one", "two": 2},
        {"big": 2**64},
        {"negative": -(2**63) - 1},
        {True: [None, {2.5: "x"}]},
    ],
    ids=["int key", "beyond 64 bits", "below int64", "bool and float keys"],
)
def test_values_orjson_refuses_are_written_as_json_writes_them(value: object) -> None:
    written = jsonio.dumps(value)
    assert json.loads(written) == json.loads(json.dumps(value))
    assert b" " not in written


def test_deep_nesting_that_orjson_refuses_is_still_written() -> None:
    deep: object = "leaf"
    for _ in range(300):
        deep = [deep]
    assert json.loads(jsonio.dumps(deep)) == deep


def test_whatever_loads_reads_dumps_writes_at_any_depth() -> None:
    # orjson reads 1,024 levels and writes 254, the json module stops near 1,000: deeper than
    # both, the answer is written by jsonio's own loop, in the same compact form.
    body = b'[{"a":' * 511 + b'[1.5,null,true,"\\u00e9"]' + b"}]" * 511  # 1,023 levels
    assert jsonio.dumps(jsonio.loads(body)) == body


def test_keys_and_values_deeper_than_the_json_module_reaches_are_written_as_it_would() -> None:
    deep: object = {1: None, False: 2.5, "s": "\u00e9"}
    for _ in range(2000):
        deep = {None: [deep, (1, 2)]}
    written = jsonio.dumps(deep)
    assert (
        written.startswith(b'{"null":[{"null":[')
        and b'{"1":null,"false":2.5,"s":"\\u00e9"}' in written
    )
    assert written.endswith(b",[1,2]]}" * 2)


def test_a_deep_cycle_is_an_error_not_a_hang() -> None:
    cycle: list[object] = []
    deep: list[object] = cycle
    for _ in range(2000):
        deep = [deep]
    cycle.append(deep)
    with pytest.raises(ValueError, match="Circular"):
        jsonio.dumps(deep)


def test_a_cycle_is_an_error_not_a_hang() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ValueError):
        jsonio.dumps(cycle)


def test_an_unknown_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        jsonio.dumps({"when": object()})


def test_not_a_number_is_never_written_as_invalid_json() -> None:
    written = jsonio.dumps({"x": math.nan})
    assert json.loads(written) == {"x": None}


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b"\xff\xfe\x00", b'{"a": 1} trailing'],
    ids=["empty", "truncated", "text", "not UTF-8", "trailing text"],
)
def test_a_body_that_is_not_json_fails_as_with_the_json_module(body: bytes) -> None:
    with pytest.raises(ValueError) as raised:
        jsonio.loads(body)
    with pytest.raises(ValueError) as expected:
        json.loads(body)
    assert str(raised.value) == str(expected.value)


def test_absurd_nesting_is_a_recursion_error_as_with_the_json_module() -> None:
    with pytest.raises(RecursionError):
        jsonio.loads(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize(
    "body",
    [b'"\\ud800"', b"1e400"],
    ids=["lone surrogate", "beyond float range"],
)
def test_what_orjson_refuses_is_read_as_the_json_module_reads_it(body: bytes) -> None:
    assert repr(jsonio.loads(body)) == repr(json.loads(body))


@pytest.mark.parametrize(
    ("body", "token"),
    [(b'{"a": NaN}', "NaN"), (b"[1, Infinity]", "Infinity"), (b'{"b": -Infinity}', "-Infinity")],
)
def test_nan_and_infinity_are_not_json(body: bytes, token: str) -> None:
    with pytest.raises(ValueError, match=f"^{token} is not a JSON value$"):
        jsonio.loads(body)


def test_int64_and_uint64_integers_are_read_exactly() -> None:
    assert jsonio.loads(b"[9223372036854775807,-9223372036854775808,18446744073709551615]") == [
        2**63 - 1,
        -(2**63),
        2**64 - 1,
    ]


def test_escapes_go_writes_are_undone() -> None:
    assert jsonio.loads(b'{"v":"\\u003e=0.8.4 \\u0026 \\u003c2"}') == {"v": ">=0.8.4 & <2"}


@pytest.mark.parametrize(
    "path", sorted(FIXTURES.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_golden_fixtures_read_and_write_as_with_the_json_module(path: Path) -> None:
    body = path.read_bytes()
    value = jsonio.loads(body)
    assert value == json.loads(body)
    assert (
        jsonio.dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    )


# --- the garbage collector during a parse ----------------------------------------------------


@pytest.fixture
def collector_enabled() -> Iterator[None]:
    """Each test starts with the collector on and leaves it on, whatever it asserted."""
    gc.enable()
    yield
    gc.enable()


@pytest.mark.usefixtures("collector_enabled")
def test_the_collector_is_on_again_after_a_parse_and_after_a_failed_one() -> None:
    jsonio.loads(b'{"children": [1, 2, 3]}')
    assert gc.isenabled()
    with pytest.raises(ValueError):
        jsonio.loads(b"{not json")
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_enabled")
def test_a_collector_someone_else_disabled_stays_disabled() -> None:
    gc.disable()
    jsonio.loads(b"[1]")
    assert not gc.isenabled()
