"""The HTTP API (service/api): routes, streams, errors, limits, CORS, keys, metrics, OpenAPI."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.api import keys
from service.api.app import OpenOnPublicInterface, create_app
from service.api.credentials import KeyStore
from service.api.openapi import document
from service.pipeline.extract.health import probe_url
from service.pipeline.report.schema import REPORT, report_schema
from service.settings import ApiSettings, ExtractSettings, HttpSettings, Settings
from tests.api.conftest import SEED_POST, SEED_POSTED_AT, TOI, TOI_SENTENCE, MakeClient, seed_settings
from tests.fakes.origin import serve_origin

Client = TestClient[Any, Any]
REPORTS = jsonschema.Draft202012Validator(report_schema())


def _seed_body(**extra: str) -> dict[str, str]:
    return {"text": SEED_POST, "posted_at": SEED_POSTED_AT, **extra}


def _events(stream: str) -> list[tuple[int | None, str, Any]]:
    """(id, event, data) of each server-sent event; comments are dropped."""
    out = []
    for block in stream.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in fields:
            out.append(
                (int(fields["id"]) if "id" in fields else None, fields["event"], json.loads(fields["data"]))
            )
    return out


def assert_seed_events(events: list[tuple[int | None, str, Any]]) -> None:
    """The seed post's stream: started, two sources read, eleven quotes judged (sources first),
    finished, then the whole report; numbered from 1 without a gap."""
    kinds = [kind for _, kind, _ in events]
    assert kinds[0] == "post_started"
    assert kinds.count("source_read") == 2
    assert kinds.count("quote_judged") == 11
    assert kinds[-2:] == ["post_finished", "report"]
    assert [i for i, _, _ in events] == list(range(1, len(events) + 1))
    assert kinds.index("source_read") < kinds.index("quote_judged")
    first_quote = next(data for _, kind, data in events if kind == "quote_judged")
    assert first_quote["quote"]["status"] == "verbatim"
    REPORTS.validate(events[-1][2])


async def test_verify_answers_the_report_of_the_seed_post(client: Client) -> None:
    """POST /v1/verify answers the same report as the CLI: verified, eleven verbatim passages, valid
    against the report schema, with a request id in the answer."""
    resp = await client.post("/v1/verify", json=_seed_body(id="seed"))
    assert resp.status == 200
    assert resp.headers["X-Request-ID"]
    report = await resp.json()
    REPORTS.validate(report)
    assert (report["id"], report["verdict"]) == ("seed", "verified")
    assert [q["status"] for q in report["quotes"]].count("verbatim") == 11


async def test_a_job_streams_its_progress_then_its_report(client: Client) -> None:
    """wait=false answers 202 at once; the job's events arrive numbered, one per source read and per
    quote judged, then the report; Last-Event-ID resumes after a given event."""
    resp = await client.post("/v1/verify?wait=false", json=_seed_body())
    assert resp.status == 202
    job = (await resp.json())["job"]
    stream = await (await client.get(f"/v1/jobs/{job}/events")).text()
    events = _events(stream)
    assert_seed_events(events)
    resumed = _events(
        await (await client.get(f"/v1/jobs/{job}/events", headers={"Last-Event-ID": "10"})).text()
    )
    assert [i for i, _, _ in resumed] == list(range(11, len(events) + 1))
    status = await (await client.get(f"/v1/jobs/{job}")).json()
    assert (status["status"], status["report"]["verdict"]) == ("done", "verified")
    assert (status["text"], status["format"]) == (SEED_POST, "text")
    html = await client.get(f"/v1/jobs/{job}/report.html")
    assert html.status == 200
    assert "attachment" in html.headers["Content-Disposition"]
    assert "VERIFIED" in (await html.text()).upper()


async def test_events_keep_the_connection_alive(make_client: MakeClient) -> None:
    """A stream with nothing new says so with a comment every keep-alive interval, and ends with the
    job's error when the job fails."""
    client = await make_client(keepalive_s=0.05)
    job = client.app[keys.JOBS].new_job("test")
    resp = await client.get(f"/v1/jobs/{job.id}/events")
    first = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
    assert first == b": keep-alive\n\n"
    job.finish(None, {"code": "internal_error", "message": "boom"})
    rest = _events(await resp.text())
    assert rest[-1][1:] == ("error", {"error": {"code": "internal_error", "message": "boom"}})


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "bad_json"),
        (b"[1, 2]", 400, "bad_json"),
        (b"\xff\xfe", 400, "bad_json"),
        (b'{"text": 5}', 400, "wrong_type"),
        (b'{"format": "text"}', 400, "missing_field"),
        (b'{"text": "x", "extra": 1}', 400, "unknown_field"),
        (b'{"text": "x", "format": "pdf"}', 400, "bad_input"),
        (b'{"text": "x", "posted_at": "yesterday"}', 400, "bad_input"),
        (b'{"text": "x", "format": 3}', 400, "wrong_type"),
    ],
)
async def test_bad_bodies_are_json_errors(client: Client, body: bytes, status: int, code: str) -> None:
    """Every malformed body gets a JSON error with a stable code and a 4xx, never a traceback."""
    resp = await client.post("/v1/verify", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == status
    assert (await resp.json())["error"]["code"] == code


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "/nope", 404, "not_found"), ("DELETE", "/v1/verify", 405, "method_not_allowed"),
     ("GET", "/v1/jobs/unknown", 404, "unknown_job"), ("GET", "/v1/batches/unknown", 404, "unknown_batch")],
)  # fmt: skip
async def test_routing_errors_are_json(
    client: Client, method: str, path: str, status: int, code: str
) -> None:
    """Unknown routes, wrong methods and unknown ids answer JSON errors."""
    resp = await client.request(method, path)
    assert resp.status == status
    assert resp.content_type == "application/json"
    assert (await resp.json())["error"]["code"] == code


async def test_a_bad_wait_parameter_is_refused(client: Client) -> None:
    """``wait`` is true or false; anything else is a 400 rather than a guess."""
    resp = await client.post("/v1/verify?wait=soon", json={"text": "no links here"})
    assert (resp.status, (await resp.json())["error"]["code"]) == (400, "bad_parameter")


async def test_a_body_over_the_limit_is_refused_before_it_is_read(make_client: MakeClient) -> None:
    """A declared length over the limit gets 413 at once: the server does not wait for the body."""
    client = await make_client(max_body_bytes=1000)
    assert client.server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 50000000\r\n\r\n{\"text\": \"")  # fmt: skip
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 413")
    streamed = await client.post("/v1/verify", data=_chunks(b'{"text": "' + b"a" * 5000 + b'"}'))
    assert streamed.status == 413
    assert (await streamed.json())["error"]["code"] == "body_too_large"


async def _chunks(data: bytes) -> Any:
    for i in range(0, len(data), 100):
        yield data[i : i + 100]


async def test_cors_preflight_from_an_allowed_extension_only(make_client: MakeClient) -> None:
    """A preflight from the allowed extension origin succeeds and its answers carry the origin,
    errors and streams included; another origin's preflight is refused."""
    ext = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    client = await make_client(cors_origins=(ext,))
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = await client.options("/v1/verify", headers={"Origin": ext, **preflight})
    assert ok.status == 204
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    refused = await client.options("/v1/verify", headers={"Origin": "https://evil.example", **preflight})
    assert refused.status == 403
    assert "Access-Control-Allow-Origin" not in refused.headers
    error = await client.post("/v1/verify", data=b"{", headers={"Origin": ext})
    assert (error.status, error.headers["Access-Control-Allow-Origin"]) == (400, ext)
    job = await (
        await client.post("/v1/verify?wait=false", json=_seed_body(), headers={"Origin": ext})
    ).json()
    stream = await client.get(job["events"], headers={"Origin": ext})
    assert stream.headers["Access-Control-Allow-Origin"] == ext
    await stream.text()
    other = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_keys_are_required_when_not_open(make_client: MakeClient, tmp_path: Path) -> None:
    """Without open access: no key 401, a created key works (Bearer or X-API-Key), a revoked one 401."""
    store = KeyStore(tmp_path / "data")
    key, token = store.create("tests")
    client = await make_client(open_access=False)
    assert (await client.get("/v1/jobs/x")).status == 401
    assert (await client.get("/v1/jobs/x", headers={"Authorization": f"Bearer {token}"})).status == 404
    assert (await client.get("/v1/jobs/x", headers={"X-API-Key": token})).status == 404
    assert (await client.get("/v1/jobs/x", headers={"X-API-Key": token + "x"})).status == 401
    store.revoke(key.id)
    revoked = await client.get("/v1/jobs/x", headers={"X-API-Key": token})
    assert (revoked.status, (await revoked.json())["error"]["code"]) == (401, "bad_key")
    assert (await client.get("/healthz")).status == 200
    stored = (tmp_path / "data" / "api-keys.json").read_text()
    assert token not in stored


async def test_rate_limit_answers_429_with_retry_after(make_client: MakeClient) -> None:
    """Past the per-key rate, 429 with a Retry-After in seconds."""
    client = await make_client(rate_limit="3/minute")
    statuses = [(await client.get("/v1/jobs/x")).status for _ in range(3)]
    limited = await client.get("/v1/jobs/x")
    assert statuses == [404, 404, 404]
    assert limited.status == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert (await limited.json())["error"]["code"] == "rate_limited"


async def test_concurrent_jobs_are_limited_per_key(make_client: MakeClient) -> None:
    """Past the number of running verifications allowed for one key, 429 too_many_jobs."""
    client = await make_client(max_jobs_per_key=1)
    first = await client.post("/v1/verify?wait=false", json=_seed_body())
    second = await client.post("/v1/verify?wait=false", json=_seed_body())
    assert first.status == 202
    assert (second.status, (await second.json())["error"]["code"]) == (429, "too_many_jobs")


async def test_check_judges_one_quote_and_caches_the_answer(client: Client) -> None:
    """POST /v1/check: a sentence of the cited page is verbatim on fetched evidence, a changed one
    altered; the same question again is a cache hit (counted in /metrics)."""
    good = await client.post("/v1/check", json={"quote": TOI_SENTENCE, "url": TOI})
    answer = await good.json()
    assert (answer["status"], answer["evidence"], answer["flagged"]) == ("verbatim", "fetched", False)
    changed = TOI_SENTENCE.replace("nearly an hour", "nearly three hours")
    bad = await (await client.post("/v1/check", json={"quote": changed, "url": TOI})).json()
    assert (bad["status"], bad["flagged"]) == ("altered", True)
    again = await (await client.post("/v1/check", json={"quote": TOI_SENTENCE, "url": TOI})).json()
    assert again == answer
    metrics = await (await client.get("/metrics")).text()
    assert 'provenance_check_cache_total{outcome="hit"} 1.0' in metrics
    assert 'provenance_check_cache_total{outcome="miss"} 2.0' in metrics


async def test_check_rests_on_the_page_the_client_sees_when_the_server_cannot_read_it(client: Client) -> None:
    """A page the server cannot fetch (not in replay here, a paywall in life) is judged on the HTML the
    client sent; the answer says so and names the client page's digest."""
    url = "https://paywalled.example/story"
    html = f"<html><body><article><p>{TOI_SENTENCE}</p></article></body></html>"
    answer = await (
        await client.post("/v1/check", json={"quote": TOI_SENTENCE, "url": url, "html": html})
    ).json()
    assert (answer["status"], answer["evidence"]) == ("verbatim", "client")
    assert len(answer["client_sha256"]) == 64
    alone = await (await client.post("/v1/check", json={"quote": TOI_SENTENCE, "url": url})).json()
    assert (alone["status"], alone["evidence"], alone["source_status"]) == (
        "unverifiable",
        "fetched",
        "error",
    )


async def test_sources_tells_what_is_known(client: Client) -> None:
    """GET /v1/sources: nothing known before a source is read, its status and digest after."""
    before = await client.get("/v1/sources", params={"url": TOI})
    assert (before.status, (await before.json())["error"]["code"]) == (404, "unknown_source")
    await client.post("/v1/verify", json=_seed_body())
    after = await (await client.get("/v1/sources", params={"url": TOI})).json()
    assert after["source"]["status"] == "ok"
    assert len(after["source"]["sha256"]) == 64
    assert (await client.get("/v1/sources", params={"url": "ftp://x"})).status == 404
    assert (await client.get("/v1/sources")).status == 400


async def test_a_batch_runs_in_the_background_and_answers_ndjson(client: Client) -> None:
    """POST /v1/batches takes NDJSON; GET shows progress, then the reports in input order, a bad
    line being its own error report."""
    lines = [json.dumps({"id": "a", **_seed_body()}), "{broken", json.dumps({"id": "c", "text": "no links"})]
    resp = await client.post("/v1/batches", data="\n".join(lines).encode())
    assert resp.status == 202
    batch = (await resp.json())["batch"]
    for _ in range(200):
        got = await client.get(f"/v1/batches/{batch}")
        if got.content_type == "application/x-ndjson":
            break
        progress = await got.json()
        assert progress["posts"] == 3
        await asyncio.sleep(0.05)
    reports = [json.loads(line) for line in (await got.text()).splitlines()]
    assert [r["id"] for r in reports] == ["a", None, "c"]
    assert [r["verdict"] for r in reports] == ["verified", "unverifiable", "no_citations"]
    assert reports[1]["error"]["code"] == "bad_json"


async def test_health_readiness_metrics_and_openapi(client: Client) -> None:
    """healthz and readyz answer; metrics count requests by route; the OpenAPI document embeds the
    pipeline's own report schema (one source of truth)."""
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    assert (await (await client.get("/readyz")).json()) == {"status": "ready"}
    metrics = await (await client.get("/metrics")).text()
    assert 'provenance_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in metrics
    spec = await (await client.get("/openapi.json")).json()
    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["schemas"]["Report"] == json.loads(json.dumps(REPORT))
    assert spec == json.loads(json.dumps(document()))


def test_refuses_to_serve_open_on_a_public_address(tmp_path: Path) -> None:
    """Open access on a public interface needs an explicit opt-in; loopback is open by default."""
    with pytest.raises(OpenOnPublicInterface):
        create_app(seed_settings(tmp_path, host="0.0.0.0", open_access=True))
    create_app(seed_settings(tmp_path, host="0.0.0.0", open_access=True, allow_open_public=True))
    create_app(seed_settings(tmp_path, host="0.0.0.0"))


async def test_rate_limits_are_shared_through_redis(make_client: MakeClient, tmp_path: Path) -> None:
    """With Redis configured, two API processes count one key's requests together."""
    import secrets

    import redis.asyncio as redis

    prefix = f"provenance-test-{secrets.token_hex(4)}"
    conn = redis.from_url("redis://127.0.0.1:6379/0")
    try:
        await conn.ping()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    try:
        settings = replace(seed_settings(tmp_path, rate_limit="4/minute"), redis_url="redis://127.0.0.1:6379/0",
                           redis_prefix=prefix)  # fmt: skip
        apps = [TestClient(TestServer(create_app(settings), host="127.0.0.1")) for _ in range(2)]
        for app in apps:
            await app.start_server()
        try:
            statuses = [(await apps[i % 2].get("/v1/jobs/x")).status for i in range(5)]
        finally:
            for app in apps:
                await app.close()
        assert statuses == [404, 404, 404, 404, 429]
    finally:
        leftovers = [key async for key in conn.scan_iter(f"{prefix}:*")]
        if leftovers:
            await conn.delete(*leftovers)
        await conn.aclose()


async def test_readiness_fails_when_the_extraction_pool_is_gone(client: Client) -> None:
    """/readyz answers 503 once the extraction pool has been killed (a load balancer stops sending)."""
    from service.pipeline.extract import ExtractorPool

    pool = client.app[keys.DEPS].extractor
    assert isinstance(pool, ExtractorPool)
    assert (await client.get("/readyz")).status == 200
    await pool.__aexit__(None, None, None)
    resp = await client.get("/readyz")
    assert (resp.status, (await resp.json())["error"]["code"]) == (503, "not_ready")


@pytest.mark.parametrize(("max_age_s", "probes"), [(900.0, 1), (0.0, 2)])
async def test_the_server_probes_a_host_once_per_source_max_age(
    tmp_path: Path, max_age_s: float, probes: int
) -> None:
    """Two requests citing two pages of one host: the server sends one soft-404 probe to the host
    while its answer is younger than ``source_max_age_s``, and probes again once it is older."""
    async with serve_origin() as origin:
        settings = Settings(
            archive=frozenset(),
            data_dir=tmp_path / "data",
            http=HttpSettings(allow_private_addresses=True, total_timeout=10.0),
            extract=ExtractSettings(workers=1),
            api=ApiSettings(source_max_age_s=max_age_s),
        )
        async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
            for name in ("a", "b"):
                resp = await client.post("/v1/verify", json={"text": origin.url(f"/pages/{name}")})
                assert resp.status == 200, await resp.text()
        probe = urlsplit(probe_url(origin.url("/"))).path
        assert origin.hits[probe] == probes
        assert origin.hits["/pages/a"] == origin.hits["/pages/b"] == 1
