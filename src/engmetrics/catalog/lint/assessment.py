"""`assessment`: no new or changed team or individual indicator becomes active without an impact assessment.

ERROR when an active indicator with audience `team` or `individual` has a definition version the archive has
not recorded (new, or changed since `engmetrics.governance.archive.record_definitions` last ran; without a
store every indicator is new) and there is no `assessments/<id>.yaml`. WARNING when an assessment's
review date has passed.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import Issue
from ..version import definition_version
from .base import LintContext, issue

RULE = "assessment"
AUDIENCES = ("team", "individual")


def check(ctx: LintContext) -> Iterator[Issue]:
    catalog = ctx.catalog
    seen = ctx.versions_seen or {}
    for d in catalog.active:
        ind = d.indicator
        if ind.audience not in AUDIENCES or ind.id in catalog.assessment_files:
            continue
        if definition_version(ind) in seen.get(ind.id, set()):
            continue
        change = "changed" if seen.get(ind.id) else "new"
        yield issue("ERROR", RULE, d, f"refusing to activate {change} {ind.audience} indicator {ind.id} without "
                    f"an impact assessment: write assessments/{ind.id}.yaml (or keep it proposed)", "status")
    for metric, found in catalog.assessment_files.items():
        if found.assessment.review_date < ctx.today:
            yield Issue("WARNING", RULE, f"assessment review date {found.assessment.review_date} has passed: "
                        "check whether the behaviour changed as intended", file=found.file,
                        line=found.line, metric=metric)
