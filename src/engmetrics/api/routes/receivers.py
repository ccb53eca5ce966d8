"""Push receivers: Prometheus remote-write 1.0 at `POST /api/v1/write`, OTLP/HTTP metrics at `POST /v1/metrics`,
and the queue's counters at `GET /api/v1/receivers/status`.

Both pushes decode the body in the thread pool and hand the samples to the app's `TelemetryReceiver`
(`app.state.receiver`); a 2xx means the samples will be stored. A full queue answers 429 with Retry-After.
The source of the samples is `remote_write:<actor>` or `otlp:<actor>`, the actor being the token's user
(else `token:<id>`), so two pipelines with two tokens are two sources (`telemetry.dedup`).
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from starlette.concurrency import run_in_threadpool

from ...errors import InputError
from ...telemetry.otlp import decode_otlp
from ...telemetry.receiver import TelemetryReceiver
from ...telemetry.remote_write import MAX_BODY_BYTES, decode_write_request
from ..auth import WRITERS, requires
from ..deps import CurrentUser, SettingsDep
from ..problems import Problem

router = APIRouter(tags=["telemetry"])
otlp_router = APIRouter(tags=["telemetry"])

_PROTOBUF, _JSON = "application/x-protobuf", "application/json"


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _receiver(request: Request) -> TelemetryReceiver:
    return request.app.state.receiver


def _full(receiver: TelemetryReceiver, settings: SettingsDep) -> Problem:
    seconds = settings.telemetry.receivers.retry_after_seconds
    return Problem(429, f"the telemetry queue is full ({receiver.stats()['queued']:,} samples waiting to be "
                        f"stored); retry after {seconds} s", headers={"Retry-After": str(seconds)})


def _gunzip(body: bytes) -> bytes:
    """The gzip body, refusing more than MAX_BODY_BYTES uncompressed."""
    inflate = zlib.decompressobj(wbits=31)
    try:
        out = inflate.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as e:
        raise InputError(f"OTLP body: Content-Encoding is gzip but the body is not gzip ({e})") from None
    if len(out) > MAX_BODY_BYTES or inflate.unconsumed_tail:
        raise InputError(f"OTLP body: more than {MAX_BODY_BYTES:,} bytes uncompressed")
    return out


@router.post("/write", dependencies=[requires(*WRITERS)], status_code=204, response_class=Response,
             responses={204: {"description": "Stored (or queued to be stored)."},
                        400: {"description": "Not a snappy WriteRequest; Prometheus drops such a batch."},
                        415: {"description": "Not `application/x-protobuf` with `Content-Encoding: snappy`."},
                        429: {"description": "The queue is full: retry after `Retry-After` seconds."}})
async def remote_write(request: Request, user: CurrentUser, settings: SettingsDep) -> Response:
    """Prometheus remote-write 1.0: a snappy-compressed `prometheus.WriteRequest` (protobuf).

    Example Prometheus configuration: `remote_write: [{url: http://HOST:8000/api/v1/write,
    authorization: {credentials: TOKEN}, queue_config: {retry_on_http_429: true}}]`.
    """
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if _media(request) != _PROTOBUF or encoding != "snappy":
        raise Problem(415, f"remote-write needs Content-Type {_PROTOBUF} and Content-Encoding snappy; got "
                           f"{request.headers.get('content-type')!r} and {encoding or None!r}")
    received = datetime.now(UTC)
    decoded = await run_in_threadpool(decode_write_request, await request.body())
    receiver = _receiver(request)
    if not receiver.offer(decoded.samples, f"remote_write:{user.actor}", received):
        raise _full(receiver, settings)
    return Response(status_code=204)


@otlp_router.post("/v1/metrics", dependencies=[requires(*WRITERS)], response_class=Response,
                  responses={200: {"description": "Accepted; `partial_success` counts rejected points.",
                                   "content": {_PROTOBUF: {}, _JSON: {}}},
                             400: {"description": "Not an ExportMetricsServiceRequest."},
                             415: {"description": "Neither application/x-protobuf nor application/json."},
                             429: {"description": "The queue is full: retry after `Retry-After` seconds."}})
async def otlp_metrics(request: Request, user: CurrentUser, settings: SettingsDep) -> Response:
    """OTLP/HTTP metrics export: protobuf or JSON, optionally `Content-Encoding: gzip`; the answer is an
    `ExportMetricsServiceResponse` in the request's encoding.

    Example: `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://HOST:8000/v1/metrics
    OTEL_EXPORTER_OTLP_METRICS_HEADERS="Authorization=Bearer TOKEN"`.
    """
    media = _media(request)
    if media not in (_PROTOBUF, _JSON):
        raise Problem(415, f"OTLP needs Content-Type {_PROTOBUF} or {_JSON}; got "
                           f"{request.headers.get('content-type')!r}")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("gzip", "identity"):
        raise Problem(415, f"OTLP Content-Encoding {encoding!r}: expected gzip or none")
    received, body = datetime.now(UTC), await request.body()
    resource_labels = settings.telemetry.receivers.resource_labels

    def decode():
        return decode_otlp(_gunzip(body) if encoding == "gzip" else body, media, resource_labels)

    decoded = await run_in_threadpool(decode)
    receiver = _receiver(request)
    if not receiver.offer(decoded.samples, f"otlp:{user.actor}", received):
        raise _full(receiver, settings)
    answer = ExportMetricsServiceResponse()
    if decoded.rejected:
        answer.partial_success.rejected_data_points = decoded.rejected
        answer.partial_success.error_message = "; ".join(decoded.reasons)
    if media == _JSON:
        return Response(json_format.MessageToJson(answer, indent=None), media_type=_JSON)
    return Response(answer.SerializeToString(), media_type=_PROTOBUF)


@router.get("/receivers/status", dependencies=[requires(*WRITERS)])
def receiver_status(request: Request) -> dict[str, int]:
    """The push queue's counters since the server started: `queued` (accepted, not yet stored), `accepted`,
    `rejected_full` (answered 429), `stored` (= `inserted` + `replaced`), `dropped` (lost to a
    higher-priority source: overlaps), `quarantined` (clock skew), `batches` (writer transactions).

    Example: `curl -H "Authorization: Bearer TOKEN" http://127.0.0.1:8000/api/v1/receivers/status`
    """
    return _receiver(request).stats()
