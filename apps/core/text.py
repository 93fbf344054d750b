"""Text every database can hold. Telegram passes on what its users type, NUL (U+0000) and lone UTF-16
surrogates (U+D800–U+DFFF, unpaired) included; PostgreSQL refuses both in text and JSON (SQLite takes
them), so they are replaced where text comes in, by U+FFFD, the replacement character, and both
databases keep the same thing. Everything else is kept as it is."""

import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Telegram's updates nest a dozen levels; JSON nested deeper than this is refused, not walked.
MAX_DEPTH = 64


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH."""


def storable_text(text: str) -> str:
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text


def storable(value: Any) -> Any:
    """`value` (parsed JSON: dicts, lists, strings, numbers) with every string, keys included, made
    storable. Walks without recursion and raises TooDeep past MAX_DEPTH."""
    root: list[Any] = [value]
    stack: list[tuple[list | dict, Any, Any, int]] = [(root, 0, value, 0)]
    while stack:
        parent, key, item, depth = stack.pop()
        if isinstance(item, str):
            parent[key] = storable_text(item)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                copy = {storable_text(k) if isinstance(k, str) else k: v for k, v in item.items()}
                stack.extend((copy, k, v, depth + 1) for k, v in copy.items())
            else:
                copy = list(item)
                stack.extend((copy, i, v, depth + 1) for i, v in enumerate(copy))
            parent[key] = copy
    return root[0]
