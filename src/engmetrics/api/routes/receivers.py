"""Push receivers: Prometheus remote-write 1.0 at `POST /api/v1/write`, OTLP/HTTP metrics at `POST /v1/metrics`,
and the queue's counters at `GET /api/v1/receivers/status`.

Both pushes read the body (at most `max_request_bytes` as sent: 413 beyond, before reading it when
Content-Length says so), decode it in the thread pool and hand the samples to the app's `TelemetryReceiver`
(`app.state.receiver`), then await the future of their commit without holding a thread: a 2xx means the
samples are stored (or quarantined). A full queue answers 429, a write that failed all its tries (or a
stopping server) 503, both with Retry-After, which Prometheus and the OTel exporters retry.
Tokens with the role `telemetry-pusher` (push and status only) or `metrics-admin` may call these routes.
The source of the samples is `remote_write:<actor>` or `otlp:<actor>`, the actor being the token's user
(else `token:<id>`), so two pipelines with two tokens are two sources (`telemetry.dedup`).
"""

from __future__ import annotations

import asyncio
import zlib
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from starlette.concurrency import run_in_threadpool

from ...errors import InputError
from ...telemetry.batch import Decoded
from ...telemetry.otlp import decode_otlp
from ...telemetry.receiver import Receipt, TelemetryReceiver, Unstored
from ...telemetry.remote_write import MAX_BODY_BYTES, decode_write_request
from ..auth import PUSHERS, requires
from ..deps import CurrentUser, SettingsDep
from ..problems import Problem

router = APIRouter(tags=["telemetry"])
otlp_router = APIRouter(tags=["telemetry"])

_PROTOBUF, _JSON = "application/x-protobuf", "application/json"


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _receiver(request: Request) -> TelemetryReceiver:
    return request.app.state.receiver


async def _body(request: Request, settings: SettingsDep) -> bytes:
    """The body as sent, refusing (413) more than `max_request_bytes`: at once when Content-Length says so,
    else (chunked) as soon as the bytes read pass the limit."""
    limit = settings.telemetry.receivers.max_request_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"the body is {int(declared):,} bytes; the receivers take at most {limit:,} "
                           "(telemetry.receivers.max_request_bytes): send smaller batches")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"the body is more than {limit:,} bytes, the most the receivers take "
                               "(telemetry.receivers.max_request_bytes): send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


async def _stored(request: Request, settings: SettingsDep, decoded: Decoded, source: str,
                  received: datetime) -> Receipt:
    """Queue the samples and wait, without a thread, until they are committed: 429 when the queue is full,
    503 when they could not be stored."""
    receiver = _receiver(request)
    seconds = settings.telemetry.receivers.retry_after_seconds
    done = receiver.offer(decoded.samples, source, received)
    if done is None:
        raise Problem(429, f"the telemetry queue is full ({receiver.stats()['queued']:,} samples waiting to be "
                           f"stored); retry after {seconds} s", headers={"Retry-After": str(seconds)})
    try:
        return await asyncio.wrap_future(done)
    except Unstored as e:
        raise Problem(503, f"the samples were not stored: {e}; retry after {seconds} s",
                      headers={"Retry-After": str(seconds)}) from None


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


_LIMITS = {413: {"description": "The body is longer than `telemetry.receivers.max_request_bytes`."},
           429: {"description": "The queue is full: retry after `Retry-After` seconds."},
           503: {"description": "Not stored (the write failed, or the server is stopping): retry after "
                                "`Retry-After` seconds."}}


@router.post("/write", dependencies=[requires(*PUSHERS)], status_code=204, response_class=Response,
             responses={204: {"description": "Stored (refused samples are in the quarantine)."},
                        400: {"description": "Not a snappy WriteRequest; Prometheus drops such a batch."},
                        415: {"description": "Not `application/x-protobuf` with `Content-Encoding: snappy`."},
                        **_LIMITS})
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
    decoded = await run_in_threadpool(decode_write_request, await _body(request, settings))
    await _stored(request, settings, decoded, f"remote_write:{user.actor}", received)
    return Response(status_code=204)


@otlp_router.post("/v1/metrics", dependencies=[requires(*PUSHERS)], response_class=Response,
                  responses={200: {"description": "Stored; `partial_success` counts rejected points (not "
                                                   "representable, or quarantined) with the reasons.",
                                   "content": {_PROTOBUF: {}, _JSON: {}}},
                             400: {"description": "Not an ExportMetricsServiceRequest."},
                             415: {"description": "Neither application/x-protobuf nor application/json."},
                             **_LIMITS})
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
    received, body = datetime.now(UTC), await _body(request, settings)
    resource_labels = settings.telemetry.receivers.resource_labels

    def decode():
        return decode_otlp(_gunzip(body) if encoding == "gzip" else body, media, resource_labels)

    decoded = await run_in_threadpool(decode)
    receipt = await _stored(request, settings, decoded, f"otlp:{user.actor}", received)
    answer = ExportMetricsServiceResponse()
    reasons = list(decoded.reasons)
    if receipt.quarantined:
        reasons.append(f"{receipt.quarantined} point(s) quarantined: {'; '.join(receipt.reasons)}")
    if decoded.rejected or receipt.quarantined:
        answer.partial_success.rejected_data_points = decoded.rejected + receipt.quarantined
        answer.partial_success.error_message = "; ".join(reasons)
    if media == _JSON:
        return Response(json_format.MessageToJson(answer, indent=None), media_type=_JSON)
    return Response(answer.SerializeToString(), media_type=_PROTOBUF)


@router.get("/receivers/status", dependencies=[requires(*PUSHERS)])
def receiver_status(request: Request) -> dict[str, int]:
    """The push queue's counters since the server started: `queued` (accepted, not yet committed),
    `accepted`, `rejected_full` (answered 429), `stored` (= `inserted` + `replaced`), `dropped` (lost to a
    higher-priority source: overlaps), `quarantined` (NaN/infinite values, clock skew, behind the retention
    horizon), `superseded` (older copies of a same-source resend within one batch), `batches` (committed writer
    transactions), `lost` (accepted, then given up after failed writes:
    answered 503) and `failures` (consecutive failed writer transactions; 0 after a success).

    Example: `curl -H "Authorization: Bearer TOKEN" http://127.0.0.1:8000/api/v1/receivers/status`
    """
    return _receiver(request).stats()
