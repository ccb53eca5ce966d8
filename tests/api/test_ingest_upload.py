"""Multipart upload into a dataset: the CLI's accounting, quarantine under the uploaded names."""

from __future__ import annotations

import gzip

URL = "/api/v1/datasets/holidays/ingest"
GOOD = b"calendar,date,name\nuk,2026-12-25,Christmas\nuk,2026-12-26,Boxing Day\n"
MIXED = b'{"calendar": "de", "date": "2026-10-03", "name": "Unity"}\n{"calendar": "de", "date": "nope"}\n'


def test_upload_accounting_matches_the_cli(client, auth):
    files = [("files", ("uk.csv", GOOD, "text/csv")),
             ("files", ("de.jsonl.gz", gzip.compress(MIXED), "application/gzip"))]
    answer = client.post(URL, files=files, headers=auth("metrics-admin"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert list(body) == ["dataset", "files", "read", "inserted", "updated", "unchanged", "quarantined"]
    assert body == {"dataset": "holidays", "files": ["uk.csv", "de.jsonl.gz"], "read": 4, "inserted": 3,
                    "updated": 0, "unchanged": 0, "quarantined": 1}

    again = client.post(URL, files=[("files", ("uk.csv", GOOD.replace(b"Boxing Day", b"St Stephen"), "text/csv"))],
                        headers=auth("metrics-admin")).json()
    assert (again["read"], again["inserted"], again["updated"], again["unchanged"]) == (2, 0, 1, 1)

    rows = client.get("/api/v1/quarantine", params={"dataset": "holidays"}, headers=auth("auditor")).json()
    assert [(r["source_file"], r["line"], r["column"]) for r in rows] == [("de.jsonl.gz", 2, "date")]
    datasets = {d["name"]: d["rows"] for d in client.get("/api/v1/datasets", headers=auth("viewer")).json()}
    assert datasets["holidays"] == 3


def test_same_file_name_twice_and_directories_stripped(client, auth):
    files = [("files", ("../../etc/a.csv", GOOD, "text/csv")), ("files", ("a.csv", GOOD, "text/csv"))]
    body = client.post(URL, files=files, headers=auth("metrics-admin")).json()
    assert body["files"] == ["a.csv", "a.csv"] and (body["inserted"], body["unchanged"]) == (2, 2)


def test_strict_refuses_the_whole_batch(client, auth):
    answer = client.post(URL, files=[("files", ("de.jsonl", MIXED, "application/jsonl"))], data={"strict": "true"},
                         headers=auth("metrics-admin"))
    assert answer.status_code == 400 and "nothing was written" in answer.json()["detail"]
    assert {d["name"]: d["rows"] for d in client.get("/api/v1/datasets", headers=auth("viewer")).json()}[
        "holidays"] == 0


def test_upload_errors(client, auth):
    admin = auth("metrics-admin")
    assert client.post("/api/v1/datasets/nope/ingest", files=[("files", ("a.csv", GOOD))],
                       headers=admin).status_code == 404
    missing = client.post(URL, headers=admin)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "files"
    unknown = client.post(URL, files=[("files", ("a.txt", GOOD))], headers=admin)
    assert unknown.status_code == 400 and "a.txt" in unknown.json()["detail"]


def test_a_newer_cost_export_replaces_its_billing_period(client, auth):
    head = b"BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost," \
           b"EffectiveCost,ProviderName,BillingAccountId\n"
    row = b"2026-03-01,2026-04-01,2026-03-02,2026-03-03,Usage,%s,%s,AWS,acct\n"
    url = "/api/v1/datasets/cost/ingest"
    first = client.post(url, files=[("files", ("m.csv", head + row % (b"10", b"10"), "text/csv"))],
                        headers=auth("metrics-admin")).json()
    assert (first["inserted"], first["replaced"]) == (1, 0)
    restated = client.post(url, files=[("files", ("m2.csv", head + row % (b"9.5", b"9.5"), "text/csv"))],
                           headers=auth("metrics-admin")).json()
    assert (restated["read"], restated["inserted"], restated["replaced"]) == (1, 1, 1)  # 10 gone, 9.5 in
