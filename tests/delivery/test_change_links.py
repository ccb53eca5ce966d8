"""Change -> deployment links: change ids, squash merges by merge commit, rebase merges by commit range, the
first deployment's bounded lookback, several production environments, how services and environments are
compared (case, repository names), and the incident link's environment case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engmetrics.delivery.change_links import link_changes_to_deployments, production_deployments
from engmetrics.incidents.linking import link_incidents_to_deployments
from engmetrics.store import Store

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def change(store: Store, change_id: str, merged: datetime | None, *, service: str | None = "api",
           repo: str = "shop", sha: str | None = None) -> None:
    store.sql.execute(
        "INSERT INTO changes (change_id, repo, service, author, created_at, merged_at, merge_commit_sha) "
        "VALUES (?, ?, ?, 'p1', ?, ?, ?)", [change_id, repo, service, (merged or T0) - 3 * D, merged, sha])


def deploy(store: Store, deployment_id: str, started: datetime, *, service: str = "api",
           environment: str = "production", status: str = "success", sha: str | None = None,
           change_ids: list[str] | None = None) -> None:
    store.sql.execute(
        "INSERT INTO deployments (deployment_id, service, environment, started_at, status, commit_sha, change_ids) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", [deployment_id, service, environment, started, status, sha, change_ids])


def links(store: Store, environments: tuple[str, ...] = ("production",), **options) -> dict[str, tuple[str, str]]:
    t = link_changes_to_deployments(store, production_environments=list(environments), **options)
    return {r["change_id"]: (r["deployment_id"], r["rule"]) for r in t.to_pyarrow().to_pylist()}


def test_a_squash_merge_links_by_its_merge_commit_before_any_commit_range(store):
    change(store, "c1", T0 - D, sha="squash-1")
    deploy(store, "d-redeploy", T0 - 2 * H, sha="old-build")  # after the merge, but deployed another commit
    deploy(store, "d-squash", T0, sha="squash-1")
    # explicit evidence (merge commit) wins over the earlier commit-range candidate d-redeploy
    assert links(store) == {"c1": ("d-squash", "merge_commit")}


def test_a_rebase_merge_links_by_commit_range_edges_included(store):
    deploy(store, "d0", T0 - D, sha="a")
    change(store, "c-at-d0", T0 - D, sha="orig-0")  # merged exactly at d0's start: shipped by d0
    change(store, "c-rebased", T0 - 2 * H, sha="orig-1")  # rebase: deployed sha is a rewritten commit
    change(store, "c-at-d1", T0, sha="orig-2")  # merged at d1's start: shipped by d1
    change(store, "c-later", T0 + H, sha="orig-3")  # after d1: waits for d2
    change(store, "c-other-service", T0 - H, service="search")
    change(store, "c-no-service", T0 - 3 * H, service=None, repo="api")  # the repository names the service
    deploy(store, "d1", T0, sha="rewritten")
    deploy(store, "d1-staging", T0 + 2 * H, environment="staging", sha="b")
    deploy(store, "d1-failed", T0 + 2 * H, status="failure", sha="b")
    deploy(store, "d2", T0 + 3 * H, sha="c")
    assert links(store) == {"c-at-d0": ("d0", "commit_range"), "c-rebased": ("d1", "commit_range"),
                            "c-at-d1": ("d1", "commit_range"), "c-no-service": ("d1", "commit_range"),
                            "c-later": ("d2", "commit_range")}


def test_a_deploy_listing_change_ids_ships_exactly_those(store):
    change(store, "c-listed", T0 - 5 * D)
    change(store, "c-unlisted", T0 - H)  # merged before d1 but d1 says what it shipped
    change(store, "c-open", None)  # not merged: never linked
    deploy(store, "d1", T0, change_ids=["c-listed", "c-open", "c-unknown"])
    assert links(store) == {"c-listed": ("d1", "change_ids")}


def test_change_ids_rank_before_merge_commit_on_the_same_deploy(store):
    change(store, "c1", T0 - H, sha="s1")
    deploy(store, "d1", T0, sha="s1", change_ids=["c1"])
    assert links(store) == {"c1": ("d1", "change_ids")}


def test_the_first_deploy_only_takes_changes_within_the_lookback(store):
    change(store, "c-13d", T0 - 13 * D)
    change(store, "c-14d", T0 - 14 * D)  # exactly at the bound: excluded (merged_at must be after it)
    change(store, "c-15d", T0 - 15 * D)
    deploy(store, "d-first", T0)
    assert links(store) == {"c-13d": ("d-first", "commit_range")}
    assert set(links(store, lookback_days=20)) == {"c-13d", "c-14d", "c-15d"}


def test_two_production_environments_link_to_the_first_one_reached(store):
    change(store, "c1", T0 - H)
    deploy(store, "d-stage", T0 - 30 * timedelta(minutes=1), environment="staging")
    deploy(store, "d-eu", T0, environment="production-eu")
    deploy(store, "d-us", T0 + H, environment="production-us")
    assert links(store, ("production-eu", "production-us")) == {"c1": ("d-eu", "commit_range")}
    assert links(store, ("production-us",)) == {"c1": ("d-us", "commit_range")}
    assert links(store) == {}  # plain "production" has no deploy here


def test_production_environments_are_compared_ignoring_case(store):
    change(store, "c1", T0 - H)
    deploy(store, "d-cap", T0, environment="Production")
    deploy(store, "d-upper", T0 + H, environment="PRODUCTION")
    deploy(store, "d-stage", T0 - 30 * timedelta(minutes=1), environment="Staging")
    assert links(store) == {"c1": ("d-cap", "commit_range")}
    assert links(store, ("PRODUCTION",)) == {"c1": ("d-cap", "commit_range")}
    assert {r["deployment_id"] for r in production_deployments(store, ["production"]).to_pyarrow().to_pylist()} \
        == {"d-cap", "d-upper"}
    # the incident link (change fail rate) filters environments the same way
    store.sql.execute("INSERT INTO incidents (incident_id, service, severity, impact_started_at, declared_at) "
                      "VALUES ('i1', 'api', 2, ?, ?)", [T0 + 90 * timedelta(minutes=1), T0 + 2 * H])
    linked = link_incidents_to_deployments(store, window_hours=2.0, environments=("production",))
    # d-upper (1 h before impact) is the latest production deploy within 2 h: "PRODUCTION" counts
    assert [(r["incident_id"], r["deployment_id"]) for r in linked.to_pyarrow().to_pylist()] == [("i1", "d-upper")]


def test_services_match_the_repository_name_and_ignore_case(store):
    deploy(store, "d0", T0 - D, service="shop", sha="x0")
    change(store, "c-github", T0 - H, service=None, repo="acme/shop")  # connector-style repository name
    change(store, "c-empty", T0 - 2 * H, service="", repo="acme/shop")  # an empty service is none
    change(store, "c-case", T0 - 3 * H, service=" Shop ", repo="elsewhere")  # trimmed, case ignored
    change(store, "c-monorepo", T0 - 4 * H, service="search", repo="acme/shop")  # its own service wins
    change(store, "c-prefix", T0 - 5 * H, service=None, repo="acme/shop-web")  # another repository
    deploy(store, "d1", T0, service="Shop", sha="rebased")
    assert links(store) == {"c-github": ("d1", "commit_range"), "c-empty": ("d1", "commit_range"),
                            "c-case": ("d1", "commit_range")}


def test_the_previous_deploy_is_found_across_environment_case(store):
    change(store, "c-listed", T0 - 3 * D)
    change(store, "c-before-d0", T0 - 2 * D)  # merged before d0, which names only what it shipped
    deploy(store, "d0", T0 - D, environment="production", change_ids=["c-listed"])
    deploy(store, "d1", T0, environment="Production")
    # d0 is d1's previous deployment (the same environment, ignoring case), so d1's range starts at d0 and
    # c-before-d0 is not in it; compared case-sensitively d1 would be a first deployment and take it
    assert links(store) == {"c-listed": ("d0", "change_ids")}
