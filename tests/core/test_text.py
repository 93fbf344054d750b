import json

import pytest

from apps.core.text import MAX_DEPTH, REPLACEMENT, TooDeep, storable, storable_text


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("plain", "plain"),
        ("a\x00b", f"a{REPLACEMENT}b"),
        ("lone \ud800 high", f"lone {REPLACEMENT} high"),
        ("lone \udfff low", f"lone {REPLACEMENT} low"),
        ("Привет 👋 \U0001f600", "Привет 👋 \U0001f600"),  # paired surrogates in JSON decode to one character
    ],
)
def test_storable_text_replaces_only_what_postgres_refuses(text, stored):
    assert storable_text(text) == stored


def test_storable_walks_keys_values_and_lists_and_keeps_the_rest():
    parsed = json.loads('{"a\\u0000": ["x\\ud800", {"k": "\\u0000"}], "n": 1, "f": 1.5, "b": true, "z": null}')
    assert storable(parsed) == {
        f"a{REPLACEMENT}": [f"x{REPLACEMENT}", {"k": REPLACEMENT}],
        "n": 1,
        "f": 1.5,
        "b": True,
        "z": None,
    }


def test_storable_refuses_json_nested_too_deep():
    deep = json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    storable(deep)  # at the limit: fine
    with pytest.raises(TooDeep):
        storable([deep])
