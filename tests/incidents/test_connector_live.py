"""Live pulls against a real local HTTP server (stdlib `http.server` in a thread) serving the recorded
pages with each vendor's pagination and checking the auth header: the result equals the file import."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from engmetrics.errors import InputError
from engmetrics.incidents.connectors import CONNECTORS, Options, ingest_vendor
from engmetrics.settings import IncidentSettings
from engmetrics.store import Store

FIXTURES = Path(__file__).parent.parent / "fixtures" / "incidents"
KEY = bytes(range(32))
TOKEN = "s3cret"
Route = Callable[[str, dict[str, str], str], tuple[str, dict[str, str]] | None]  # -> (fixture, headers)


def _pagerduty(path: str, query: dict[str, str], base: str) -> tuple[str, dict[str, str]] | None:
    parts = path.strip("/").split("/")
    offset = query.get("offset", "0")
    if parts == ["incidents"] and query.get("date_range") == "all":
        return f"pagerduty/incidents.offset{offset}.json", {}
    if len(parts) == 3 and parts[0] == "incidents" and parts[2] == "log_entries":
        return f"pagerduty/log_entries.{parts[1]}.offset{offset}.json", {}
    return None


def _opsgenie(path: str, query: dict[str, str], base: str) -> tuple[str, dict[str, str]] | None:
    return (f"opsgenie/alerts.offset{query.get('offset', '0')}.json", {}) if path == "/v2/alerts" else None


def _incidentio(path: str, query: dict[str, str], base: str) -> tuple[str, dict[str, str]] | None:
    if path != "/v2/incidents":
        return None
    page = {None: 1, "01HQ80A1B2C3D4E5F6G7H8J9KM": 2}.get(query.get("after"))
    return (f"incidentio/incidents.page{page}.json", {}) if page else None


def _github(path: str, query: dict[str, str], base: str) -> tuple[str, dict[str, str]] | None:
    if path != "/repos/acme/ops/issues" or query.get("labels") != "incident" or query.get("state") != "all":
        return None
    page = int(query.get("page", "1"))
    last = f"<{base}/repos/acme/ops/issues?labels=incident&state=all&per_page=2&page=2>"
    headers = {"Link": f'{last}; rel="next", {last}; rel="last"'} if page == 1 else {}
    return f"github/issues.page{page}.json", headers


VENDORS = {  # route, expected Authorization header, public base URL to rewrite in bodies
    "pagerduty": (_pagerduty, f"Token token={TOKEN}", "https://api.pagerduty.com"),
    "opsgenie": (_opsgenie, f"GenieKey {TOKEN}", "https://api.opsgenie.com"),
    "incidentio": (_incidentio, f"Bearer {TOKEN}", "https://api.incident.io"),
    "github": (_github, f"Bearer {TOKEN}", "https://api.github.com"),
}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        route, auth, public = VENDORS[self.server.vendor]
        url = urlsplit(self.path)
        self.server.requests.append(self.path)
        if self.headers.get("Authorization") != auth:
            return self._send(401, b'{"error": "unauthorized"}', {})
        found = route(url.path, {k: v[0] for k, v in parse_qs(url.query).items()}, self.server.base)
        if found is None or not (FIXTURES / found[0]).is_file():
            return self._send(404, b'{"error": "not found"}', {})
        body = (FIXTURES / found[0]).read_text().replace(public, self.server.base)
        return self._send(200, body.encode(), found[1])

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    vendor: str
    requests: list[str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def api() -> Iterator[Callable[[str], _Server]]:
    servers: list[_Server] = []

    def start(vendor: str) -> _Server:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.vendor, server.requests = vendor, []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


FILES = {
    "pagerduty": sorted((FIXTURES / "pagerduty").glob("*.offset*.json")),
    "opsgenie": sorted((FIXTURES / "opsgenie").glob("alerts.offset*.json")),
    "incidentio": sorted((FIXTURES / "incidentio").glob("*.json")),
    "github": sorted((FIXTURES / "github").glob("*.json")),
}


def _table(store: Store, dataset: str) -> list[tuple]:
    return store.sql.execute(f"SELECT * FROM {dataset} ORDER BY 1").fetchall()


@pytest.mark.parametrize("vendor", list(VENDORS))
def test_live_pull_equals_file_import(api, vendor):
    server = api(vendor)
    connector = CONNECTORS[vendor]
    options = Options(repo="acme/ops", page_size=2)
    with Store.open("duckdb://") as from_files, Store.open("duckdb://") as live:
        recorded = ingest_vendor(from_files, connector, IncidentSettings(), files=FILES[vendor], pseudonym_key=KEY)
        pulled = ingest_vendor(live, connector, IncidentSettings(), token=TOKEN, url=server.base, options=options,
                               pseudonym_key=KEY)
        assert {k: v for k, v in pulled.as_dict().items() if k != "files"} == {
            k: v for k, v in recorded.as_dict().items() if k != "files"}
        assert _table(live, connector.dataset) == _table(from_files, connector.dataset)
        assert len(_table(live, connector.dataset)) >= 2  # every vendor fixture has at least two good items


def test_pagination_is_followed(api):
    pd = api("pagerduty")
    ingest_vendor(Store.open("duckdb://"), CONNECTORS["pagerduty"], IncidentSettings(), token=TOKEN, url=pd.base,
                  options=Options(page_size=2), pseudonym_key=KEY)
    paths = [urlsplit(p).path + "@" + parse_qs(urlsplit(p).query)["offset"][0] for p in pd.requests]
    # incidents: offsets 0, 2 (more=false); PT4KHLK log entries 0, 2, 4; the two others one page each
    assert paths == ["/incidents@0", "/incidents@2", "/incidents/PT4KHLK/log_entries@0",
                     "/incidents/PT4KHLK/log_entries@2", "/incidents/PT4KHLK/log_entries@4",
                     "/incidents/PQ1Z9XB/log_entries@0", "/incidents/PRX7M2A/log_entries@0"]
    og = api("opsgenie")
    ingest_vendor(Store.open("duckdb://"), CONNECTORS["opsgenie"], IncidentSettings(), token=TOKEN, url=og.base,
                  options=Options(page_size=2), pseudonym_key=KEY)
    assert [parse_qs(urlsplit(p).query)["offset"] for p in og.requests] == [["0"], ["2"]]  # paging.next, then none


def test_wrong_token_is_a_clear_error(api):
    server = api("incidentio")
    with pytest.raises(InputError, match="HTTP 401"):
        ingest_vendor(Store.open("duckdb://"), CONNECTORS["incidentio"], IncidentSettings(), token="wrong",
                      url=server.base, pseudonym_key=KEY)


def test_cli_live_pull(api, workspace, cli):
    server = api("github")
    result = cli("ingest", "incidents", "--from", "github", "--token", TOKEN, "--url", server.base,
                 "--repo", "acme/ops", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    # 4 issues over two pages: 3 incidents + 1 without a severity label
    assert (summary["read"], summary["inserted"], summary["quarantined"]) == (4, 3, 1)
    assert summary["files"][0].startswith(f"{server.base}/repos/acme/ops/issues?labels=incident&state=all")
    missing = cli("ingest", "incidents", "--from", "github", "--token", TOKEN, "--url", server.base)
    assert missing.exit_code == 1 and "--repo owner/name is required" in missing.output
