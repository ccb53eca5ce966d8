"""Reading cost tags: the one tag reader of allocation and idle resources.

`Tags` (FOCUS) is JSON text holding a flat object of string (or number / boolean) values. `tag_value(tags, key,
prefixes)` is the value of `key` in it:

- the key compares without regard to case, blanks around it are ignored (Azure exports hold keys like
  `" org"`), and it may carry one of `prefixes` (`user:` in AWS exports: `user:Team`);
- the value is taken as written between its quotes (case kept; JSON escapes are not decoded), surrounding
  blanks removed; a number or boolean written without quotes is its text; an empty value counts as missing;
- when the key appears more than once (say in two casings), the first in the text wins; text that is not a
  JSON object, or has no such key, gives null.

Portability: a regular expression over the JSON text (RE2 in DuckDB, Java regex in Spark, both with the
`(?i:...)` group), because Ibis's JSON operations fail on DuckDB for malformed text and unwrap values with a
Python UDF on PySpark.

>>> import ibis
>>> t = ibis.memtable({"tags": ['{"user:Team": "Payments", "env": "prod"}', '{" TEAM ": 42}', "not json"]})
>>> t.select(v=tag_value(t.tags, "team", ["user:"])).to_pyarrow().column("v").to_pylist()
['Payments', '42', None]
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

__all__ = ["regex_literal", "tag_value"]

_REGEX_SPECIAL = frozenset(r".^$*+?()[]{}|\/")


def regex_literal(text: str) -> str:
    """`text` as a literal inside a regular expression, RE2 and Java alike (`re.escape` over-escapes).

    >>> regex_literal("a.b*c")
    'a\\\\.b\\\\*c'
    """
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)


def tag_value(tags: ir.StringValue, key: str, prefixes: Sequence[str] = ()) -> ir.StringValue:
    """The value of `key` in the tags' JSON text, as written (module docstring); null when absent or blank."""
    prefix = f"(?:{'|'.join(regex_literal(p) for p in prefixes)})?" if prefixes else ""
    head = rf'[{{,]\s*"\s*(?i:{prefix}{regex_literal(key)})\s*"\s*:\s*'
    text = tags.re_extract(head + r'"((?:[^"\\]|\\.)*)"', 1).strip()
    bare = tags.re_extract(head + r"(-?[0-9][0-9.eE+-]*|(?i:true|false))", 1)
    return ibis.coalesce(text.nullif(""), bare.nullif(""))

