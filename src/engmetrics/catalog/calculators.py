"""Built-in calculators: named functions a domain registers for indicators too subtle for the
declarative measures. A calculator takes the store, the period and the definition's `params` and
returns a `CalculatorResult`; it must build its value with Ibis (DESIGN.md, "Portable calculations").

>>> @register_calculator("example.constant", registry=CalculatorRegistry())
... def constant(store, period, **params):
...     return CalculatorResult(value=1.0, sample_size=1)
>>> constant.calculator_name
'example.constant'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import ibis

from .periods import Period

__all__ = ["CALCULATORS", "Calculator", "CalculatorRegistry", "CalculatorResult", "register_calculator"]


@dataclass(frozen=True)
class CalculatorResult:
    """A value and the number of rows behind it (value None = no data)."""

    value: float | None
    sample_size: int


class Calculator(Protocol):
    def __call__(self, store: Any, period: Period, **params: Any) -> CalculatorResult: ...


class CalculatorRegistry(dict[str, Calculator]):
    """Calculators by name."""


CALCULATORS = CalculatorRegistry()


def register_calculator(name: str, *, registry: CalculatorRegistry = CALCULATORS
                        ) -> Callable[[Calculator], Calculator]:
    """Decorator: register a calculator under `name` (refuses to replace another function)."""

    def decorate(fn: Calculator) -> Calculator:
        existing = registry.get(name)
        if existing is not None and existing is not fn:
            raise ValueError(f"calculator {name!r} is already registered")
        registry[name] = fn
        fn.calculator_name = name  # type: ignore[attr-defined]
        return fn

    return decorate


@register_calculator("delivery.deployments_per_day")
def deployments_per_day(store: Any, period: Period, environment: str = "production") -> CalculatorResult:
    """Successful deployments to `environment` started in the period, divided by the period's days.

    Sample size is the number of deployments of any status to that environment in the period; with none,
    there is no data.
    """
    t = store.table("deployments")
    start, end = ibis.timestamp(period.start_ts), ibis.timestamp(period.end_ts)
    t = t.filter((t.started_at >= start) & (t.started_at < end) & (t.environment == environment))
    row = t.aggregate(ok=t.count(where=t.status == "success"), n=t.count()).execute().iloc[0]
    n = int(row["n"])
    return CalculatorResult(float(row["ok"]) / period.days if n else None, n)
