"""The C label_key and fingerprint hash (alerting/_labels.c) against their Python versions.

tests/test_fingerprint_oracle.py checks the fingerprint against a real Alertmanager through
whichever version is in use (the C one wherever the package was built with a compiler); here
both versions must agree on many more label sets, so that check holds for the other one too.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import pytest

from alerting import labels
from tests.test_fingerprint_oracle import LABEL_SETS

accelerated = pytest.importorskip(
    "alerting._labels", reason="built without a C compiler: labels.py uses its Python versions"
)

# Characters whose UTF-8 takes one to four bytes, control characters, NUL, and U+00FF, whose
# UTF-8 (0xC3 0xBF) must not be confused with the 0xff separator.
ALPHABET = "az_AZ09 .:/=\"'\\{}\n\t\x00\x01\x7f\x80éÿ\u0100\u07ff\u0800警\ufeff\uffff🔥\U0010ffff"


def random_label_sets(count: int, seed: int = 20240601) -> Iterator[dict[str, str]]:
    rng = random.Random(seed)

    def text(max_len: int) -> str:
        return "".join(rng.choices(ALPHABET, k=rng.randint(0, max_len)))

    for _ in range(count):
        size = rng.choice([0, 1, 2, 5, 10, 40, 200])
        yield {text(12): text(rng.choice([0, 3, 30, 300])) for _ in range(size)}


CASES = [*LABEL_SETS, {}, {"": ""}, {"a": ""}, {"": "a"}, *random_label_sets(2_000)]


@pytest.mark.parametrize("label_set", CASES[:50], ids=range(50))
def test_same_results_on_oracle_and_edge_cases(label_set: dict[str, str]) -> None:
    key = accelerated.label_key(label_set)
    assert key == labels.py_label_key(label_set)
    assert accelerated.fnv1a(key) == labels.py_fnv1a(key)


def test_same_results_on_random_label_sets() -> None:
    for label_set in CASES:
        key = accelerated.label_key(label_set)
        assert key == labels.py_label_key(label_set), label_set
        assert accelerated.fnv1a(key) == labels.py_fnv1a(key), label_set


def test_empty_label_set_hashes_to_the_fnv_offset() -> None:
    # Alertmanager's fingerprint of no labels is FNV-1a 64's offset basis, untouched.
    assert accelerated.fnv1a(()) == labels.py_fnv1a(()) == 0xCBF29CE484222325


def test_labels_module_uses_the_accelerator() -> None:
    assert labels.label_key is accelerated.label_key
    assert labels.fnv1a is accelerated.fnv1a


def test_label_key_takes_any_mapping() -> None:
    class Reversed(Mapping[str, str]):
        """A mapping whose keys come out in reverse order."""

        def __init__(self, data: dict[str, str]) -> None:
            self._data = data

        def __getitem__(self, name: str) -> str:
            return self._data[name]

        def __iter__(self) -> Iterator[str]:
            return reversed(list(self._data))

        def __len__(self) -> int:
            return len(self._data)

    data = {"b": "2", "a": "1", "c": "3"}
    for mapping in (MappingProxyType(data), Reversed(data)):
        assert accelerated.label_key(mapping) == ("a", "1", "b", "2", "c", "3")


def test_errors_match_the_python_version() -> None:
    # A lone surrogate (what undecodable bytes become in Python) has no UTF-8 in either.
    for impl in (accelerated.fnv1a, labels.py_fnv1a):
        with pytest.raises(UnicodeEncodeError):
            impl(("a", "\ud800"))
    with pytest.raises(TypeError, match="must be str"):
        accelerated.fnv1a(("a", 1))
    with pytest.raises(TypeError):
        accelerated.fnv1a(None)


def test_python_fallback_without_the_extension() -> None:
    # In a child process, so this one keeps its accelerated module.
    code = (
        "import sys; sys.modules['alerting._labels'] = None\n"
        "from alerting import labels\n"
        "assert labels.fnv1a is labels.py_fnv1a and labels.label_key is labels.py_label_key\n"
        "print(labels.fingerprint_hex({'alertname': 'Plain'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == labels.fingerprint_hex({"alertname": "Plain"})
