import pytest

from payevents.strict_json import StrictJsonError, loads, loads_object


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not_utf8"),
        (b"  ", "empty"),
        (b'{"amount": 1, "amount": 1000}', "duplicate_key"),
        (b'{"amount": NaN}', "invalid"),
        (b'{"amount": Infinity}', "invalid"),
        (b'{"amount": ', "invalid"),
        (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
    ],
)
def test_documents_two_parsers_could_read_differently_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(StrictJsonError) as refused:
        loads(raw)
    assert refused.value.reason == reason


def test_nesting_beyond_the_limit_is_refused_and_within_it_accepted() -> None:
    assert loads(b'{"a": {"b": [1]}}', max_depth=3) == {"a": {"b": [1]}}
    with pytest.raises(StrictJsonError) as refused:
        loads(b'{"a": {"b": [[]]}}', max_depth=3)
    assert refused.value.reason == "too_deep"


def test_only_an_object_is_an_object() -> None:
    assert loads_object(b'{"a": 1}') == {"a": 1}
    with pytest.raises(StrictJsonError, match="not an object"):
        loads_object(b"[1]")


@pytest.mark.parametrize(
    "raw", [rb'{"a": "\ud800"}', rb'{"\uDFFF": 1}', rb'["ok", {"b": "x\udc00"}]']
)
def test_a_lone_surrogate_is_not_text(raw: bytes) -> None:
    with pytest.raises(StrictJsonError) as caught:
        loads(raw)
    assert caught.value.reason == "not_unicode"


def test_an_escaped_surrogate_pair_is_one_character() -> None:
    assert loads(rb'{"a": "\ud83d\ude00"}') == {"a": "\U0001f600"}
