"""Checks a semantic match must pass besides the similarity threshold.

Sentence embeddings barely see word order, numbers or negation: with all-MiniLM-L6-v2 "How many
km is 10 miles?" and "How many miles is 10 km?" score 0.994, more than true paraphrases (0.95 to
0.97), and "Is Python a compiled language?" vs "... not a compiled language?" scores 0.97. No
threshold separates those, so a candidate must also have:

1. the same numbers, in the same order;
2. the same negations (not, no, never, without, ...n't);
3. the words both texts share in the same relative order: swapped roles ("A to B" vs "B to A")
   keep every word and change only the order.

Each check can turn a true paraphrase into a miss (e.g. a reordered sentence), never a miss into
a hit: a wrong answer costs more than an upstream call.
"""

from __future__ import annotations

import re

__all__ = ["compatible"]

_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_NUMBER = re.compile(r"\d")
_NEGATIONS = frozenset({"not", "no", "never", "none", "nothing", "nobody", "neither", "nor", "without", "cannot"})


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _negations(words: list[str]) -> list[str]:
    return sorted(w if w in _NEGATIONS else "n't" for w in words if w in _NEGATIONS or w.endswith("n't"))


def _first_positions(words: list[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, word in enumerate(words):
        positions.setdefault(word, index)
    return positions


def compatible(query: str, cached: str) -> bool:
    """Whether an answer cached for ``cached`` may serve ``query`` (already similar enough)."""
    a, b = _words(query), _words(cached)
    if [w for w in a if _NUMBER.match(w)] != [w for w in b if _NUMBER.match(w)]:
        return False
    if _negations(a) != _negations(b):
        return False
    first_a, first_b = _first_positions(a), _first_positions(b)
    shared = first_a.keys() & first_b.keys()
    return sorted(shared, key=first_a.__getitem__) == sorted(shared, key=first_b.__getitem__)
