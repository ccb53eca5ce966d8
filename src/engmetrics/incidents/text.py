"""Text similarity of incidents: TF-IDF vectors and cosine similarity.

Semantics:

- Tokens: the words of `engmetrics.incidents.search.tokenize` (runs of Unicode letters and digits,
  case-folded: "Störung über München" gives ``störung, über, münchen``); tokens of one character, English
  stop words (`STOP_WORDS`) and the caller's `exclude` words are dropped. An incident's text is its title
  and summary joined by a space (a null part is empty).
- Term frequency: the raw count of the term in the text.
- Inverse document frequency (smoothed, as scikit-learn's default): ``idf(t) = ln((1 + n) / (1 + df(t))) + 1``
  where `n` is the number of documents the model was fitted on and `df(t)` how many of them contain `t` (a
  term none of them contains has ``df = 0``).
- A vector is ``tf x idf`` scaled to unit length; the cosine similarity of two vectors is their dot product,
  in [0, 1] because no weight is negative. A text without any token has no direction: it is similar to
  nothing (0), not even to itself.

Vectors are sparse (``{term: weight}``); `similarity_matrix` builds a dense matrix over the terms the given
vectors use only, so it stays small for the few hundred incidents of one service. The texts come out of the
engine first (incidents are few); only similarity is computed here, not full-text search.

>>> model = TfIdf(["checkout database timeout", "checkout database failover", "dns outage"])
>>> round(cosine(model.vectors[0], model.vectors[1]), 3)  # 2 x 1.288² / (2 x 1.288² + 1.693²)
0.536
>>> cosine(model.vectors[0], model.vectors[2])
0.0
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from .search import tokenize as words

__all__ = ["STOP_WORDS", "TfIdf", "cosine", "incident_text", "similarity", "similarity_matrix", "tokenize"]

Vector = Mapping[str, float]

_STOP_WORDS = """
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
him his how i if in into is it its itself just me more most my no nor not of off on once only or other our
ours out over own same she should so some such than that the their theirs them then there these they this
those through to too under until up very was we were what when where which while who whom why will with would
you your yours
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


def tokenize(text: str | None, exclude: Collection[str] = ()) -> list[str]:
    """The text's tokens, in order, without stop words and `exclude`.

    >>> tokenize("The checkout DB timed-out (again) at 10:42!")
    ['checkout', 'db', 'timed', '10', '42']
    >>> tokenize("Störung über München", exclude={"münchen"})
    ['störung', 'über']
    """
    return [t for t in words(text) if len(t) > 1 and t not in STOP_WORDS and t not in exclude]


def incident_text(title: str | None, summary: str | None) -> str:
    """Title and summary joined by a space; a null part counts as empty."""
    return f"{title or ''} {summary or ''}".strip()


def cosine(a: Vector, b: Vector) -> float:
    """Dot product of two unit vectors, clipped to [0, 1] (rounding may leave 1.0000000000000002)."""
    if len(a) > len(b):
        a, b = b, a
    return min(1.0, max(0.0, sum(w * b.get(t, 0.0) for t, w in a.items())))


class TfIdf:
    """A TF-IDF model fitted on `documents`; `vectors[i]` is the unit vector of `documents[i]`. Tokens in
    `exclude` (e.g. service names) are dropped from every document."""

    def __init__(self, documents: Sequence[str | None], exclude: Collection[str] = ()) -> None:
        self.exclude = frozenset(exclude)
        tokens = [tokenize(d, self.exclude) for d in documents]
        self.n = len(tokens)
        self.df: Counter[str] = Counter(t for doc in tokens for t in set(doc))
        self.vectors: list[dict[str, float]] = [self._vector(doc) for doc in tokens]

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency of `term`."""
        return math.log((1 + self.n) / (1 + self.df.get(term, 0))) + 1

    def vector(self, text: str | None) -> dict[str, float]:
        """The unit TF-IDF vector of `text` under this model (empty when it has no token)."""
        return self._vector(tokenize(text, self.exclude))

    def _vector(self, tokens: list[str]) -> dict[str, float]:
        weights = {t: c * self.idf(t) for t, c in Counter(tokens).items()}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        return {t: w / norm for t, w in weights.items()} if norm else {}


def similarity_matrix(vectors: Sequence[Vector]) -> np.ndarray:
    """Pairwise cosine similarities (n x n, symmetric, in [0, 1]) over the terms these vectors use."""
    terms = {t: i for i, t in enumerate(sorted({t for v in vectors for t in v}))}
    dense = np.zeros((len(vectors), len(terms)))
    for row, v in enumerate(vectors):
        for t, w in v.items():
            dense[row, terms[t]] = w
    return np.clip(dense @ dense.T, 0.0, 1.0)


def similarity(a: str | None, b: str | None, corpus: Sequence[str | None] = ()) -> float:
    """Cosine similarity of two texts, with idf fitted on `corpus` plus the two texts.

    >>> similarity("payment gateway timeout", "payment gateway timeout")
    1.0
    >>> similarity("payment gateway timeout", "dns outage")
    0.0
    """
    model = TfIdf([*corpus, a, b])
    return cosine(model.vectors[-2], model.vectors[-1])
