import pytest

from apps.bot.formatting import split_message


@pytest.mark.parametrize(
    ("text", "limit", "parts"),
    [
        ("short", 10, ["short"]),
        ("", 10, []),
        ("aaaa\n\nbbbb\n\ncc", 10, ["aaaa\n\nbbbb", "cc"]),
        ("aaaa\nbbbb\ncccc", 10, ["aaaa\nbbbb", "cccc"]),
        ("aaa bbb ccc ddd", 10, ["aaa bbb", "ccc ddd"]),
        ("x" * 25, 10, ["x" * 10, "x" * 10, "x" * 5]),
    ],
)
def test_split_message(text, limit, parts):
    assert split_message(text, limit) == parts
    assert all(len(part) <= limit for part in split_message(text, limit))
