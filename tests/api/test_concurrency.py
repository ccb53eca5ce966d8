"""Concurrent requests on one app: reads on their own cursors run beside serialised uploads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient


def test_concurrent_reads_and_uploads(app, auth):
    def read(i: int) -> tuple[int, object]:
        client = TestClient(app)
        path = ("/api/v1/metrics", "/api/v1/datasets", "/api/v1/scorecard")[i % 3]
        answer = client.get(path, params={"as_of": "2026-03-31"}, headers=auth("viewer"))
        value = None
        if path == "/api/v1/metrics":
            value = sorted((r["metric"], r["group"] or "", r["value"]) for r in answer.json())
        return answer.status_code, value

    def upload(i: int) -> tuple[int, object]:
        client = TestClient(app)
        body = f"calendar,date,name\nc{i},2026-01-01,New Year\nc{i},2026-12-25,Christmas\n".encode()
        answer = client.post("/api/v1/datasets/holidays/ingest", files=[("files", (f"h{i}.csv", body))],
                             headers=auth("metrics-admin"))
        return answer.status_code, answer.json().get("inserted")

    with ThreadPoolExecutor(max_workers=12) as pool:
        reads = [pool.submit(read, i) for i in range(36)]
        uploads = [pool.submit(upload, i) for i in range(8)]
        read_results = [f.result(timeout=120) for f in reads]
        upload_results = [f.result(timeout=120) for f in uploads]
    assert {status for status, _ in read_results + upload_results} == {200}
    assert [inserted for _, inserted in upload_results] == [2] * 8
    values = {repr(v) for _, v in read_results if v is not None}
    assert len(values) == 1 and "('deploys', '', 6.0)" in values.pop()  # every reader saw the same numbers
    rows = {d["name"]: d["rows"] for d in TestClient(app).get("/api/v1/datasets", headers=auth("viewer")).json()}
    assert rows["holidays"] == 16
