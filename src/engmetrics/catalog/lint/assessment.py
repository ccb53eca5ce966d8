"""`assessment`: no new or changed team or individual indicator becomes active without an impact assessment.

ERROR when an active indicator with audience `team` or `individual` has no `assessments/<id>.yaml` and its
definition version is not an *assessed* one: a version the archive shows in force while an assessment of the
indicator was in force too (`engmetrics.governance.archive.assessed_versions`). Archiving a version (which
`metrics evaluate`, `governance snapshot` and the API server do) does not make it assessed, so running them
never switches the rule off. Without a store no version is assessed. WARNING when an assessment's review
date has passed.
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
    assessed = ctx.assessed_versions or {}
    for d in catalog.active:
        ind = d.indicator
        if ind.audience not in AUDIENCES or ind.id in catalog.assessment_files:
            continue
        if definition_version(ind) in assessed.get(ind.id, set()):
            continue
        change = "changed" if assessed.get(ind.id) else "new"
        yield issue("ERROR", RULE, d, f"refusing to activate {change} {ind.audience} indicator {ind.id} without "
                    f"an impact assessment: write assessments/{ind.id}.yaml (or keep it proposed)", "status")
    for metric, found in catalog.assessment_files.items():
        if found.assessment.review_date < ctx.today:
            yield Issue("WARNING", RULE, f"assessment review date {found.assessment.review_date} has passed: "
                        "check whether the behaviour changed as intended", file=found.file,
                        line=found.line, metric=metric)
