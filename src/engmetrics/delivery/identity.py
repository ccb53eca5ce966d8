"""One person, several identifiers: a git e-mail, a GitHub login and a GitLab username are the same person
when `people.aliases` says so.

`people.person` is the identifier the organisation uses for a person (its pseudonym); `people.aliases` lists
the person's other identifiers in other sources (pseudonymised with the same key, so they compare equal to the
`author` of `commit_files` or `changes` written by those sources). `canonical(t, column)` replaces each value of
`column` that is an alias by the person it belongs to and keeps any other value as it is. An alias claimed by
two people is ambiguous and left unresolved (it stays as written), never guessed.

>>> import ibis
>>> from engmetrics.store import Store
>>> s = Store.open("duckdb://")
>>> _ = s.sql.execute("INSERT INTO people (person, valid_from, team, aliases) "
...                   "VALUES ('p_ann', DATE '2025-01-01', 'core', ['p_ann_mail', 'p_ann_gh'])")
>>> t = ibis.memtable({"author": ["p_ann_mail", "p_ann", "p_bob"]})
>>> canonical(t, "author", s).author.to_list()
['p_ann', 'p_ann', 'p_bob']
"""

from __future__ import annotations

import ibis.expr.types as ir

from ..store import Store

__all__ = ["aliases", "canonical"]


def aliases(store: Store) -> ir.Table:
    """``(identifier, person)``: each unambiguous alias of `people.aliases` and the person it names."""
    p = store.table("people")
    listed = p["aliases"]  # `p.aliases` is a Table method
    pairs = p.filter(listed.notnull()).select(identifier=listed.unnest(), person=p.person).distinct()
    pairs = pairs.filter(pairs.identifier.notnull() & (pairs.identifier != pairs.person))
    claimed = pairs.group_by("identifier").aggregate(_people=pairs.person.nunique())
    return pairs.semi_join(claimed.filter(claimed._people == 1), "identifier")


def canonical(t: ir.Table, column: str, store: Store) -> ir.Table:
    """`t` with `column` resolved through `aliases` (module doc); same columns, same rows."""
    a = aliases(store).rename(_alias="identifier", _person="person")
    j = t.left_join(a, t[column] == a._alias)
    return j.mutate(**{column: j._person.coalesce(j[column])}).drop("_alias", "_person")
