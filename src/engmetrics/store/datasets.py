"""The canonical datasets (DESIGN.md, "Datasets"). docs/datasets.md is generated from this file."""

from __future__ import annotations

from .registry import Column as C
from .registry import Dataset, Registry, Rule

__all__ = ["REGISTRY"]

ts = "timestamp"


def _after(later: str, earlier: str) -> Rule:
    return Rule(f"{later} >= {earlier}", f"{later} is before {earlier}", later)


_teams = Dataset(
    "teams", "Teams, their parent in the org tree and their working hours.", ("team",), (
        C("team", required=True, description="team identifier"),
        C("name", description="display name"),
        C("parent", description="parent team or group"),
        C("timezone", description="IANA time zone of the team's working hours"),
        C("work_start", "time", description="start of the working day (local)"),
        C("work_end", "time", description="end of the working day (local)"),
        C("work_days", description="working days, e.g. Mon-Fri"),
        C("holiday_calendar", description="calendar in `holidays`"),
    ), rules=(_after("work_end", "work_start"),))

_people = Dataset(
    "people", "Effective-dated team membership of (pseudonymised) people.", ("person", "valid_from"), (
        C("person", required=True, person=True, description="pseudonymised person id"),
        C("valid_from", "date", required=True, description="first day of this membership"),
        C("valid_to", "date", description="last day of this membership (null = current)"),
        C("team", required=True, description="team the person belongs to"),
        C("timezone", description="IANA time zone of the person's working hours"),
        C("aliases", "string[]", person=True, since=7,
          description="other identifiers of the person in other sources (git e-mail, VCS login), pseudonymised"),
    ), rules=(_after("valid_to", "valid_from"),))

_services = Dataset(
    "services", "Services, their owning team, tier and dependencies.", ("service",), (
        C("service", required=True),
        C("team", required=True, description="owning team"),
        C("tier", "int", min=0, max=4, description="criticality tier, 0 most critical"),
        C("depends_on", "string[]", description="services this one calls"),
        C("repo", since=7, description="repository of its code (default: the repository named like the service)"),
        C("path_prefix", since=7, description="path of its code inside the repository (monorepos); none: all"),
    ))

_holidays = Dataset(
    "holidays", "Public holidays per calendar.", ("calendar", "date"), (
        C("calendar", required=True), C("date", "date", required=True), C("name"),
    ))

_sli_events = Dataset(
    "sli_events", "Good and total event counts per service indicator and time bucket.",
    ("service", "indicator", "ts"), (
        C("service", required=True), C("indicator", required=True, description="e.g. availability"),
        C("ts", ts, required=True, description="start of the bucket"),
        C("good", "float", required=True, min=0, description="good events in the bucket"),
        C("total", "float", required=True, min=0, description="all events in the bucket"),
    ), rules=(Rule("good <= total", "good is greater than total", "good"),), time_column="ts")

_telemetry = Dataset(
    "telemetry_samples", "Raw counter, gauge and histogram samples.", ("series", "ts"), (
        C("series", required=True, description="series identity: metric name and sorted labels"),
        C("ts", ts, required=True), C("metric", required=True), C("labels", "json"),
        C("value", "float", required=True), C("source", description="scrape target or receiver"),
        C("received_at", ts, since=11, description="when engmetrics received the sample (clock checks)"),
    ), rules=(Rule("metric = split_part(series, '{', 1)",
                   "must be the metric name, alone or followed by its {labels}", "series"),),
    time_column="ts", restricted=True)

_request_events = Dataset(
    "request_events", "High-volume request or span events, sampled (policies/sampling.yaml): each kept row "
    "carries its weight = 1 / inclusion probability.", ("event_id",), (
        C("event_id", required=True), C("ts", ts, required=True), C("service", required=True),
        C("operation", description="endpoint, RPC method or span name"),
        C("outcome", required=True, enum=("ok", "error")),
        C("duration_ms", "float", min=0), C("attributes", "json"),
        C("weight", "float", min=1, description="1 / inclusion probability; 1 when kept with certainty "
          "(null reads as 1: not sampled)"),
    ), time_column="ts", restricted=True, since=13)

_deployments = Dataset(
    "deployments", "Deployments of a service to an environment.", ("deployment_id",), (
        C("deployment_id", required=True), C("service", required=True),
        C("environment", required=True, description="e.g. production, staging; those named in "
          "delivery.production_environments count as production (several may)"),
        C("started_at", ts, required=True), C("finished_at", ts),
        C("status", required=True, enum=("success", "failure", "in_progress", "cancelled")),
        C("commit_sha"), C("change_ids", "string[]", description="changes shipped by this deploy"),
        C("is_rollback", "bool"), C("is_hotfix", "bool"),
        C("fixes_incident_id", description="incident this deploy was made to fix"),
    ), rules=(_after("finished_at", "started_at"),), time_column="started_at")

_changes = Dataset(
    "changes", "Pull or merge requests.", ("change_id",), (
        C("change_id", required=True), C("repo", required=True), C("service"),
        C("author", required=True, person=True), C("first_commit_at", ts), C("created_at", ts, required=True),
        C("ready_at", ts), C("first_review_at", ts), C("approved_at", ts), C("merged_at", ts),
        C("closed_at", ts), C("merge_commit_sha"), C("additions", "int", min=0), C("deletions", "int", min=0),
        C("is_bot", "bool"),
        C("is_draft", "bool", since=7, description="still a draft (not ready for review) when last read"),
    ), rules=(_after("merged_at", "created_at"), _after("first_review_at", "created_at")),
    time_column="created_at", bot_flag=("is_bot", "author"))

_reviews = Dataset(
    "reviews", "Reviews submitted on changes.", ("change_id", "reviewer", "submitted_at"), (
        C("change_id", required=True), C("reviewer", required=True, person=True),
        C("submitted_at", ts, required=True),
        C("state", required=True, enum=("approved", "changes_requested", "commented", "dismissed")),
        C("is_bot", "bool", since=7, description="the reviewer is a bot (delivery.bots or the source says so)"),
    ), time_column="submitted_at", bot_flag=("is_bot", "reviewer"))

_commit_files = Dataset(
    "commit_files", "Files touched per commit (from git log --numstat).", ("sha", "path"), (
        C("sha", required=True), C("path", required=True), C("repo", required=True),
        C("author", required=True, person=True), C("committed_at", ts, required=True),
        C("added", "int", min=0), C("deleted", "int", min=0),
        C("is_bot", "bool", since=7, description="the author is a bot (delivery.bots or the source says so)"),
        C("is_merge", "bool", since=7,
          description="a merge commit's diff against its first parent: scopes changes, not authorship or churn"),
    ), time_column="committed_at", bot_flag=("is_bot", "author"))

_incidents = Dataset(
    "incidents", "Incidents with their lifecycle timestamps.", ("incident_id",), (
        C("incident_id", required=True), C("service"), C("team"),
        C("severity", "int", required=True, min=1, max=5, description="1 most severe"),
        C("title"), C("summary"), C("impact_started_at", ts), C("detected_at", ts),
        C("declared_at", ts, required=True), C("acknowledged_at", ts), C("mitigated_at", ts),
        C("resolved_at", ts), C("detection_source"), C("customer_impact", "bool"),
        C("users_affected", "int", min=0), C("root_cause_category"),
        C("contributing_factors", "string[]"), C("caused_by_deployment_id"),
        C("confidentiality", enum=("public", "internal", "confidential", "restricted")),
    ), rules=(_after("resolved_at", "declared_at"), _after("mitigated_at", "impact_started_at"),
              _after("acknowledged_at", "detected_at"), _after("resolved_at", "mitigated_at")),
    time_column="declared_at")

_action_items = Dataset(
    "action_items", "Postmortem action items.", ("incident_id", "item_id"), (
        C("incident_id", required=True), C("item_id", required=True),
        C("type", enum=("mitigate", "prevent", "process")), C("owner_team"),
        C("created_at", ts, required=True), C("due_at", ts), C("completed_at", ts),
        C("status", enum=("open", "in_progress", "done", "wont_do")),
    ), rules=(_after("completed_at", "created_at"),), time_column="created_at")

_alerts = Dataset(
    "alerts", "Alerts fired by monitoring rules.", ("alert_id",), (
        C("alert_id", required=True), C("rule", required=True), C("source"), C("service"), C("team"),
        C("urgency", enum=("high", "low")), C("fired_at", ts, required=True), C("acknowledged_at", ts),
        C("resolved_at", ts), C("responder", person=True), C("incident_id"),
        C("actionable", "bool"), C("auto_resolved", "bool"),
    ), rules=(_after("resolved_at", "fired_at"), _after("acknowledged_at", "fired_at")),
    time_column="fired_at")

_oncall = Dataset(
    "oncall_shifts", "On-call shifts.", ("person", "rotation", "start_at"), (
        C("person", required=True, person=True), C("rotation", required=True),
        C("start_at", ts, required=True), C("team"), C("end_at", ts, required=True),
    ), rules=(Rule("end_at > start_at", "end_at is not after start_at", "end_at"),), time_column="start_at")

_maintenance = Dataset(
    "maintenance_windows", "Planned maintenance windows (excluded from SLOs).", ("window_id",), (
        C("window_id", required=True), C("service"), C("start_at", ts, required=True),
        C("end_at", ts, required=True), C("rrule", description="RFC 5545 recurrence rule"),
        C("reason"), C("approved_by"),
    ), rules=(Rule("end_at > start_at", "end_at is not after start_at", "end_at"),), time_column="start_at")

_FOCUS_STRINGS = (
    "BillingAccountId", "BillingAccountName", "BillingCurrency", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountStatus", "CommitmentDiscountType", "ConsumedUnit", "InvoiceIssuerName",
    "PricingCategory", "PricingUnit", "ProviderName", "PublisherName", "RegionId", "RegionName",
    "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId",
    "SubAccountId", "SubAccountName", "AvailabilityZone",
)
_FOCUS_NUMBERS = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity", "ContractedUnitPrice",
    "ListUnitPrice", "PricingQuantity",
)
_FOCUS_1_1_STRINGS = (
    "CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountUnit", "ServiceSubcategory", "SkuMeter",
)
_FOCUS_1_1_NUMBERS = ("CommitmentDiscountQuantity",)
_FOCUS_1_2_STRINGS = ("BillingAccountType", "SubAccountType", "InvoiceId", "PricingCurrency")
_FOCUS_1_2_NUMBERS = (
    "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice",
)
# Enumerated FOCUS columns (spec values; files in any casing are normalised to these). ServiceCategory is
# checked by `engmetrics cost validate`, not at ingest: a mislabelled category is no reason to drop a charge.
_FOCUS_ENUMS = {
    "ChargeClass": ("Correction",), "ChargeFrequency": ("One-Time", "Recurring", "Usage-Based"),
    "PricingCategory": ("Standard", "Dynamic", "Committed", "Other"),
    "CommitmentDiscountStatus": ("Used", "Unused"), "CommitmentDiscountCategory": ("Spend", "Usage"),
    "CapacityReservationStatus": ("Used", "Unused"),
}


def _exclusive_end(end: str, start: str) -> Rule:
    """FOCUS periods include their start and exclude their end: an end not after the start is an empty period."""
    return Rule(f"{end} > {start}", f"{end} (exclusive) is not after {start}", end)


_cost = Dataset(
    "cost", "Cloud billing in FOCUS 1.x columns (spec names) plus x_ extensions. An ingest is authoritative for "
    "the billing periods it contains: the stored rows of every (ProviderName, BillingAccountId, BillingPeriodStart) "
    "among its valid rows that the ingest does not have are deleted (a restated or re-exported month replaces the "
    "earlier export), so ingest all files of one period's export together.", ("x_row_hash",), (
        C("x_row_hash", required=True, description="hash of every other column (the row's identity); the n-th "
          "identical line of one file adds n, so repeated charges stay distinct"),
        C("BillingPeriodStart", ts, required=True), C("BillingPeriodEnd", ts, required=True),
        C("ChargePeriodStart", ts, required=True), C("ChargePeriodEnd", ts, required=True),
        C("ChargeCategory", required=True, enum=("Usage", "Purchase", "Tax", "Credit", "Adjustment")),
        *(C(n, "float", required=n in ("BilledCost", "EffectiveCost")) for n in _FOCUS_NUMBERS),
        *(C(n, enum=_FOCUS_ENUMS.get(n, ())) for n in _FOCUS_STRINGS),
        C("Tags", "json", description="FOCUS Tags as a JSON object"),
        *(C(n, enum=_FOCUS_ENUMS.get(n, ()), since=7) for n in _FOCUS_1_1_STRINGS + _FOCUS_1_2_STRINGS),
        *(C(n, "float", since=7) for n in _FOCUS_1_1_NUMBERS + _FOCUS_1_2_NUMBERS),
        C("SkuPriceDetails", "json", since=7, description="FOCUS 1.1 SkuPriceDetails as a JSON object"),
        C("x_extensions", "json", since=7,
          description="the export's other columns (x_* and provider columns outside the spec), by name"),
    ), rules=(_exclusive_end("ChargePeriodEnd", "ChargePeriodStart"),
              _exclusive_end("BillingPeriodEnd", "BillingPeriodStart")),
    time_column="ChargePeriodStart", naive_timestamps_utc=True, hash_key=True, restricted=True,
    null_strings=("NULL", "null", "Null", ""), ignore_header_case=True, extensions_column="x_extensions",
    replace_partitions=("ProviderName", "BillingAccountId", "BillingPeriodStart"))

_utilization = Dataset(
    "utilization", "CPU and memory utilisation per resource.", ("resource_id", "ts"), (
        C("resource_id", required=True), C("ts", ts, required=True),
        C("cpu_util", "float", min=0, max=1), C("mem_util", "float", min=0, max=1),
        C("provider"), C("resource_type"), C("region"),
    ), time_column="ts")

_business_volume = Dataset(
    "business_volume", "Business volume per service (e.g. transactions per day).", ("service", "metric", "ts"), (
        C("service", required=True), C("metric", required=True), C("ts", ts, required=True),
        C("value", "float", required=True, min=0),
    ), time_column="ts")

_csat = Dataset(
    "csat", "Customer satisfaction survey responses.", ("response_id",), (
        C("response_id", required=True), C("ts", ts, required=True), C("segment"), C("service"),
        C("score", "float", required=True, min=0), C("scale", "int", required=True, min=2, max=100),
    ), rules=(Rule("score <= scale", "score is above the scale", "score"),), time_column="ts")

_support = Dataset(
    "support_requests", "Requests one team makes of another.", ("request_id",), (
        C("request_id", required=True), C("from_team"), C("to_team", required=True),
        C("created_at", ts, required=True), C("resolved_at", ts), C("topic"),
    ), rules=(_after("resolved_at", "created_at"),), time_column="created_at")

_doc_updates = Dataset(
    "doc_updates", "Documentation updates.", ("doc_id", "updated_at"), (
        C("doc_id", required=True), C("updated_at", ts, required=True), C("team"),
        C("author", person=True), C("service", since=7, description="service the document is about"),
    ), time_column="updated_at")

_decisions = Dataset(
    "decisions", "Decision log: what was decided, on which metrics, with what outcome.", ("decision_id",), (
        C("decision_id", required=True), C("date", "date", required=True), C("title", required=True),
        C("owner_team"), C("metrics", "string[]"), C("outcome"),
    ), time_column="date")

_perception = Dataset(
    "perception", "Team perception survey scores (aggregated per team).", ("team", "period", "dimension"), (
        C("team", required=True), C("period", required=True, description="e.g. 2026-Q3"),
        C("dimension", required=True), C("score", "float", required=True),
    ))

_feedback = Dataset(
    "feedback", "Peer feedback scores (individual-level; review board only).",
    ("rater", "ratee", "period", "dimension"), (
        C("rater", required=True, person=True), C("ratee", required=True, person=True),
        C("period", required=True), C("dimension", required=True), C("score", "float", required=True),
    ), restricted=True)

_release_gate_overrides = Dataset(
    "release_gate_overrides", "Overrides of the SLO release gate (`engmetrics slo gate --override`).",
    ("override_id",), (
        C("override_id", required=True), C("service", required=True),
        C("slo", description="the SLO that drove the blocked decision"),
        C("stage", required=True, description="the policy stage that blocked releases"),
        C("reason", required=True, description="why releases go out anyway"),
        C("overridden_by", required=True, description="who decided the override"),
        C("created_at", ts, required=True),
        C("expires_at", ts, required=True, description="the override opens the gate until then"),
    ), rules=(Rule("expires_at > created_at", "expires_at is not after created_at", "expires_at"),),
    time_column="created_at", since=5)

_postmortems = Dataset(
    "postmortems", "Postmortems imported by `engmetrics postmortem import` (standard: docs/incidents.md).",
    ("incident_id",), (
        C("incident_id", required=True, description="the incident in `incidents`"),
        C("file", required=True, description="the postmortem file as imported"),
        C("team", description="owning team named in the postmortem"),
        C("summary"),
        C("users_affected", "int", min=0),
        C("duration_minutes", "float", min=0, description="impact started to mitigated (else resolved)"),
        C("slo_budget_consumed", "float", min=0, description="share of the error budget consumed"),
        C("detection_source"), C("trigger"), C("resolution"),
        C("contributing_factors", "string[]", description="names from the postmortem taxonomy"),
        C("went_well", description="one item per line"),
        C("went_wrong", description="one item per line"),
        C("got_lucky", description="one item per line"),
        C("confidentiality", enum=("public", "internal", "confidential", "restricted")),
        C("authors", "string[]", description="team names"),
        C("action_items", "int", min=0, description="number of action items listed"),
        C("completeness", "float", required=True, min=0, max=1, description="weighted share of the standard's "
          "fields present and valid"),
        C("content_sha256", required=True, description="hash of the file's text"),
        C("imported_at", ts, required=True, description="first import of this content"),
    ), time_column="imported_at", since=6)

REGISTRY = Registry([
    _teams, _people, _services, _holidays, _sli_events, _telemetry, _request_events, _deployments, _changes, _reviews,
    _commit_files, _incidents, _action_items, _alerts, _oncall, _maintenance, _cost, _utilization,
    _business_volume, _csat, _support, _doc_updates, _decisions, _perception, _feedback,
    _release_gate_overrides, _postmortems,
])
