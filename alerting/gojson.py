"""JSON as Go 1.19's encoding/json writes it, for what receivers and API clients compare byte for
byte with Alertmanager's (Debian builds Alertmanager 0.25 with Go 1.19).

Python's encoder (ensure_ascii off) differs only inside strings: Go also escapes <, > and &
and the JS line separators U+2028 and U+2029, writes \\b and \\f as \\u0008 and \\u000c, and
replaces invalid UTF-8 (in Python: a lone surrogate) with U+FFFD. `go_json` patches Python's
output; `string`, `string_map` and `pieces` (an alert of a message in one call), the hot path
of large messages, come from the optional C module _gojson.c when it was built, and from the
same patching otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]

_GO_ONLY_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"))
_GO_ONLY_ESCAPES_NON_ASCII = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"))
_SURROGATE = re.compile("[\ud800-\udfff]")
_PY_SHORT = re.compile(r"\\[\\bf]")
# The check for them: one regex pass is faster than two substring searches of a large message.
_PY_SHORT_HINT = re.compile(r"\\[bf]")
_GO_FOR_PY_SHORT = {"\\\\": "\\\\", "\\b": "\\u0008", "\\f": "\\u000c"}


def go_json(value: object) -> str:
    """`value` encoded compactly, dict keys in insertion order (Go: struct field order)."""
    return go_patch(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def go_patch(text: str) -> str:
    """JSON from Python's encoder as Go's would write it. The characters concerned only occur
    inside strings, so patching the whole text is safe."""
    for raw, escaped in _GO_ONLY_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    # str knows whether it is ASCII without a scan; a regex scan of a large message is not free.
    if not text.isascii():
        for raw, escaped in _GO_ONLY_ESCAPES_NON_ASCII:
            if raw in text:
                text = text.replace(raw, escaped)
        if _SURROGATE.search(text):
            text = _SURROGATE.sub("\\\\ufffd", text)
    if _PY_SHORT_HINT.search(text):
        # Matching escaped backslashes too keeps "\\\\b" (a backslash, then b) intact.
        text = _PY_SHORT.sub(lambda m: _GO_FOR_PY_SHORT[m.group(0)], text)
    return text


def _unencodable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps's encoder with sorted keys, made once: json.dumps makes one per call, which costs
# more than encoding a label set.
_map_chunks = (
    c_make_encoder(None, _unencodable, encode_basestring, None, ":", ",", True, False, True)
    if c_make_encoder is not None
    else json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).iterencode
)


def py_string(text: str) -> str:
    return go_patch(encode_basestring(text))


def py_string_map(values: Mapping[str, str]) -> str:
    return go_patch("".join(_map_chunks(values, False)))


def py_pieces(*pieces: str | Mapping[str, str]) -> bytes:
    """The even pieces (raw JSON) as they are and, between them, each value encoded."""
    encoded = (
        piece if i % 2 == 0 else string(piece) if isinstance(piece, str) else string_map(piece)
        for i, piece in enumerate(pieces)
    )
    return "".join(encoded).encode()  # type: ignore[arg-type]  # raw pieces are str


try:
    from alerting._gojson import pieces, string, string_map
except ImportError:
    string, string_map, pieces = py_string, py_string_map, py_pieces
