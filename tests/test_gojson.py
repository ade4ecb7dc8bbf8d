"""Go's JSON encoding of strings and string maps: the C module and the Python fallback agree,
and both write what Go 1.19 writes (the webhook tests compare whole messages with Alertmanager)."""

from __future__ import annotations

import random

import pytest

from alerting import gojson

try:
    from alerting import _gojson
except ImportError:  # pragma: no cover - the extension is built wherever a compiler was
    _gojson = None  # type: ignore[assignment]

needs_c = pytest.mark.skipif(_gojson is None, reason="alerting._gojson was not built")

GO_CASES = [
    # Go 1.19 writes \b and \f as \u0008 and \u000c and leaves DEL raw.
    ("\b\f\x7f\x00\x1f", '"\\u0008\\u000c\x7f\\u0000\\u001f"'),
    ("\\b \\f", '"\\\\b \\\\f"'),  # a backslash, then b
    ("<a href='x'>&</a>", "\"\\u003ca href='x'\\u003e\\u0026\\u003c/a\\u003e\""),
    ("\u2028\u2029\u2027", '"\\u2028\\u2029\u2027"'),
    ("\ud800é", '"\\ufffdé"'),  # invalid UTF-8 becomes U+FFFD
    ('"/\n\r\t', '"\\"/\\n\\r\\t"'),
    ("😀 ü €", '"😀 ü €"'),
    ("", '""'),
]


@pytest.mark.parametrize(("text", "encoded"), GO_CASES)
def test_strings_as_go_writes_them(text: str, encoded: str) -> None:
    assert gojson.string(text) == encoded
    assert gojson.py_string(text) == encoded


def random_text(rng: random.Random) -> str:
    pools = [
        'abc<>&"\\',
        "\x00\x01\b\f\n\r\t\x1f\x7f",
        "éü€\u2028\u2029",
        "😀\U0010ffff",
        "\ud800\udfff",
    ]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randrange(0, 12)))


@needs_c
def test_c_and_python_agree_on_random_strings_and_maps() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        text = random_text(rng)
        assert _gojson.string(text) == gojson.py_string(text), repr(text)
        labels = {random_text(rng): random_text(rng) for _ in range(rng.randrange(0, 6))}
        assert _gojson.string_map(labels) == gojson.py_string_map(labels), repr(labels)


@needs_c
def test_maps_are_sorted_and_reject_what_is_not_text() -> None:
    assert _gojson.string_map({"b": "2", "a": "1", "a0": "<"}) == '{"a":"1","a0":"\\u003c","b":"2"}'
    assert _gojson.string_map({}) == "{}"
    with pytest.raises(TypeError, match="expected str, not int"):
        _gojson.string_map({"a": 1})
    with pytest.raises(TypeError, match="expected str"):
        _gojson.string(b"bytes")  # type: ignore[arg-type]


@needs_c
def test_c_and_python_agree_on_pieces() -> None:
    rng = random.Random(11)
    for _ in range(1000):
        labels = {random_text(rng): random_text(rng) for _ in range(rng.randrange(0, 6))}
        text = random_text(rng)
        args = ('{"labels":', labels, ',"url":', text, "}")
        assert _gojson.pieces(*args) == gojson.py_pieces(*args), repr(args)
        assert gojson.py_pieces(*args) == (
            f'{{"labels":{gojson.py_string_map(labels)},"url":{gojson.py_string(text)}}}'.encode()
        )


@needs_c
def test_pieces_take_raw_text_and_values_in_turn() -> None:
    assert _gojson.pieces() == b""
    assert _gojson.pieces("[") == b"["
    assert _gojson.pieces("[", "é", ",", {"b": "1", "a": "&"}, "]") == (
        b'["\xc3\xa9",{"a":"\\u0026","b":"1"}]'
    )
    with pytest.raises(TypeError):
        _gojson.pieces(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected str or dict, not int"):
        _gojson.pieces("[", 1, "]")  # type: ignore[arg-type]
