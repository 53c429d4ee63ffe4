"""SSRF battery, part 2: what the network answers. Names that resolve to private addresses (a stub
resolver), redirects to private destinations, DNS rebinding, proxy variables in the environment.

"The internet" is one loopback address: the session's address policy treats 127.0.0.1 as public
and leaves every other address to the product's own rule (``guard.is_denied_address``), so
127.0.0.2, 10.x, 169.254.169.254... are judged exactly as in production. Canaries listen on the
private side; an audit hook records every connect. Ports are open (``allowed_ports=None``) since
the fakes listen on random ports; every cap and timeout is the default.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from service.pipeline.deps import Deps
from service.pipeline.models import InputFormat, SourceReport
from service.pipeline.posts.reader import parse_post
from service.pipeline.verify import verify_post
from tests.fakes.origin import Origin, StaticResolver, serve_origin
from tests.security.conftest import AuditLog, audited, canary
from tests.security.harness import PUBLIC, deps_with

ROOT = Path(__file__).resolve().parents[2]
PAGE = (
    b"<html><head><title>A</title></head><body><p>The minister said these very words today.</p></body></html>"
)


async def verify_one(url: str, deps: Deps) -> SourceReport:
    """The source entry of a post citing ``url`` under a quote from PAGE."""
    post = parse_post(f'"The minister said these very words today." {url}\n', InputFormat.TEXT)
    report = await verify_post(post, deps=deps)
    [source] = report.sources
    return source


def _foreign_connects(audit: AuditLog, origin: Origin) -> list[tuple[str, str, object]]:
    return [
        c
        for c in audit.connects
        if (c[1], c[2]) not in {(PUBLIC, origin.port), ("::ffff:7f00:1", origin.port)}
    ]


# ---------------------------------------------------------------- names resolving to private addresses

PRIVATE_ANSWERS: dict[str, list[str]] = {
    "localtest.me": ["127.0.0.2"],
    "127.0.0.2.nip.io": ["127.0.0.2"],
    "lvh.me": ["127.0.0.2"],
    "rfc1918.example": ["10.0.0.1"],
    "imds.example": ["169.254.169.254"],
    "alibaba.example": ["100.100.100.200"],
    "cgnat.example": ["100.64.0.1"],
    "zero.example": ["0.0.0.0"],
    "v6loop.example": ["::1"],
    "ula.example": ["fd00::1"],
    "aws6.example": ["fd00:ec2::254"],
    "mapped.example": ["::ffff:127.0.0.2"],
    "siit.example": ["::ffff:0:7f00:2"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "sixtofour.example": ["2002:a9fe:a9fe::1"],
    "linklocal6.example": ["fe80::1"],
    "xn--lcalhost-nbh": ["127.0.0.2"],  # "lоcalhost" with a Cyrillic о: another name, looked up
    "xn--9hbcp.xn--8hb.xn--8hb.xn--9hb": ["127.0.0.2"],  # "١٢٧.٠.٠.١", Arabic-Indic digits
    "two-private.example": ["10.0.0.1", "127.0.0.2"],
    "refusing-then-private.example": ["127.0.0.1", "127.0.0.2"],  # public but closed, then private
}
PUBLIC_FIRST: dict[str, list[str]] = {
    "private-aaaa.example": ["::1", "127.0.0.1"],  # a private AAAA beside a public A
    "private-first.example": ["10.0.0.1", "127.0.0.1"],
}


@pytest.mark.parametrize("name", sorted(PRIVATE_ANSWERS))
async def test_a_name_resolving_to_private_addresses_is_refused_at_connect(name: str) -> None:
    """A harmless-looking name whose every usable answer is private: refused, private_address; no
    connection reaches the canary; the only dial ever made is to the closed public address."""
    async with canary("127.0.0.2") as bird:
        resolver = StaticResolver({name: PRIVATE_ANSWERS[name]})
        with audited() as audit:
            async with deps_with(resolver) as deps:
                source = await verify_one(f"http://{name}:{bird.port}/story", deps)
        assert (source.status, source.reason) == ("refused", "private_address")
        assert name in resolver.asked
        assert bird.accepted == 0
        assert {c[1] for c in audit.connects} <= {PUBLIC}


@pytest.mark.parametrize("name", sorted(PUBLIC_FIRST))
async def test_beside_a_private_answer_the_public_one_is_used(name: str) -> None:
    """A and AAAA records mixing private and public: the page comes from the public address, and the
    private one is never dialled (happy eyeballs falls over to the next address, unconnected)."""
    async with serve_origin(pages={"a": PAGE}) as origin:
        resolver = StaticResolver({name: PUBLIC_FIRST[name]})
        with audited() as audit:
            async with deps_with(resolver) as deps:
                source = await verify_one(origin.url("/pages/a", host=name), deps)
        assert (source.status, source.reason) == ("ok", None)
        assert _foreign_connects(audit, origin) == []


# ---------------------------------------------------------------- redirects

REDIRECT_TARGETS: list[tuple[str, str, str]] = [
    ("http://127.0.0.2:{port}/", "refused", "private_address"),
    ("http://2130706434:{port}/", "refused", "private_address"),
    ("http://0x7f.2:{port}/", "refused", "private_address"),
    ("http://[::ffff:127.0.0.2]:{port}/", "refused", "private_address"),
    ("http://[::ffff:0:127.0.0.2]:{port}/", "refused", "private_address"),
    ("http://[::1]:{port}/", "refused", "private_address"),
    ("http://localhost:{port}/", "refused", "private_address"),
    ("http://169.254.169.254/latest/meta-data/", "refused", "private_address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "refused", "private_address"),
    ("http://100.100.100.200/", "refused", "private_address"),
    ("//127.0.0.2:{port}/", "refused", "private_address"),
    ("https://127.0.0.2:{port}/", "refused", "private_address"),
    ("http://private.test:{port}/", "refused", "private_address"),  # a name on 127.0.0.2
    ("http://user:pass@127.0.0.2:{port}/", "refused", "userinfo_in_url"),
    ("http://user:pass@public.test:{port}/", "refused", "userinfo_in_url"),
    ("http://127.0.0.2:0/", "refused", "bad_port"),
    ("http://%31%32%37.0.0.2/", "refused", "bad_url"),
    ("file:///etc/passwd", "unsupported", "unsupported_scheme"),
    ("gopher://127.0.0.2:{port}/_INFO", "unsupported", "unsupported_scheme"),
    ("dict://127.0.0.2:{port}/stat", "unsupported", "unsupported_scheme"),
    ("data:text/html,<p>x</p>", "unsupported", "unsupported_scheme"),
]
NAMES = {"public.test": PUBLIC, "private.test": "127.0.0.2"}


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(("target", "status", "reason"), REDIRECT_TARGETS)
async def test_a_redirect_to_a_private_destination_is_refused_at_that_hop(
    code: int, target: str, status: str, reason: str
) -> None:
    """A public page redirecting (each 3xx) to a private destination in any spelling: the hop is
    recorded, the source refused for the target's exact reason, and nothing reaches the canary."""
    async with canary("127.0.0.2") as bird, serve_origin(pages={"a": PAGE}) as origin:
        location = target.replace("{port}", str(bird.port))
        url = origin.url(f"/to?code={code}&url={quote(location, safe='')}", host="public.test")
        with audited() as audit:
            async with deps_with(StaticResolver(NAMES)) as deps:
                source = await verify_one(url, deps)
        assert (source.status, source.reason) == (status, reason)
        assert [r.status for r in source.redirects] == [code]
        assert origin.hits["/to"] == 1
        assert bird.accepted == 0
        assert _foreign_connects(audit, origin) == []


@pytest.mark.parametrize(
    ("path", "status", "reason", "hops", "requests"),
    [("/chain/50", "error", "too_many_redirects", 11, 11), ("/loop/a", "error", "too_many_redirects", 11, 11),
     ("/chain/10", "ok", None, 10, 11), ("/no-location", "error", "redirect_without_location", 0, 1)],
)  # fmt: skip
async def test_endless_and_long_redirect_chains_stop_at_the_default_limit(
    path: str, status: str, reason: str | None, hops: int, requests: int
) -> None:
    """A 50-hop chain and an A↔B loop stop once the default 10 redirects are used up (11 requests,
    all redirecting); a chain of exactly 10 is followed to its page; a redirect without Location
    is an error."""
    async with serve_origin() as origin:
        async with deps_with(StaticResolver(NAMES)) as deps:
            source = await verify_one(origin.url(path, host="public.test"), deps)
        assert (source.status, source.reason) == (status, reason)
        assert len(source.redirects) == hops
        assert sum(n for p, n in origin.hits.items() if p.startswith(("/chain", "/loop", "/no-"))) == requests


async def test_a_chain_that_turns_private_halfway_is_refused_at_that_hop() -> None:
    """Three public hops, then a Location on a private address: refused there, three redirects
    recorded before it, nothing at the canary."""
    async with canary("127.0.0.2") as bird, serve_origin() as origin:
        private = f"http://127.0.0.2:{bird.port}/secret"
        hop3 = origin.url(f"/to?url={quote(private, safe='')}", host="public.test")
        hop2 = origin.url(f"/to?url={quote(hop3, safe='')}", host="public.test")
        hop1 = origin.url(f"/to?url={quote(hop2, safe='')}", host="public.test")
        async with deps_with(StaticResolver(NAMES)) as deps:
            source = await verify_one(hop1, deps)
        assert (source.status, source.reason) == ("refused", "private_address")
        assert [r.status for r in source.redirects] == [302, 302, 302]
        assert source.final_url == private
        assert bird.accepted == 0


# ---------------------------------------------------------------- DNS rebinding


@dataclass
class RebindingResolver(AbstractResolver):
    """Answers each name from a script, one answer per lookup, the last one repeated (TTL 0)."""

    script: Mapping[str, Sequence[str]]

    def __post_init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = self.script[host]
        ip = answers[min(self.asked.count(host), len(answers) - 1)]
        self.asked.append(host)
        return [ResolveResult(hostname=host, host=ip, port=port, family=socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST)]  # fmt: skip

    async def close(self) -> None:
        return None


async def test_dns_rebinding_is_checked_on_the_address_dialled() -> None:
    """rebind.test answers 127.0.0.1 (public) on its first lookup and 127.0.0.2 (private) after:
    the first read succeeds; a second one (a fresh session, as another worker would have) dials
    what the second lookup gave, which the guard refuses: nothing reaches the canary on
    127.0.0.2, which listens on the very port the public page was served from."""
    async with serve_origin(pages={"a": PAGE}) as origin, canary("127.0.0.2", origin.port) as bird:
        resolver = RebindingResolver({"rebind.test": [PUBLIC, "127.0.0.2"]})
        async with deps_with(resolver) as deps:
            first = await verify_one(origin.url("/pages/a", host="rebind.test"), deps)
        async with deps_with(resolver) as deps:
            second = await verify_one(origin.url("/pages/a?again", host="rebind.test"), deps)
        assert (first.status, second.status, second.reason) == ("ok", "refused", "private_address")
        assert resolver.asked.count("rebind.test") >= 2
        assert bird.accepted == 0
        assert origin.hits["/pages/a"] == 1


async def test_dns_rebinding_between_two_hops_of_one_fetch_is_refused() -> None:
    """One fetch: the public page redirects to the same name on another port, and the second lookup
    answers private (TTL 0): the hop is refused at connect, nothing reaches the canary."""
    async with serve_origin(pages={"a": PAGE}) as origin, canary("127.0.0.2") as bird:
        resolver = RebindingResolver({"rebind.test": [PUBLIC, "127.0.0.2"]})
        target = f"http://rebind.test:{bird.port}/secret"
        async with deps_with(resolver) as deps:
            source = await verify_one(
                origin.url(f"/to?url={quote(target, safe='')}", host="rebind.test"), deps
            )
        assert (source.status, source.reason) == ("refused", "private_address")
        assert len(source.redirects) == 1
        assert bird.accepted == 0


# ---------------------------------------------------------------- proxies

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


async def test_proxy_variables_in_the_environment_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every proxy variable points at a canary "proxy": pages still come straight from their
    origin, private destinations are still refused, and the proxy never sees a connection (a
    proxy would hide the real destination from the socket guard)."""
    async with canary("127.0.0.3") as proxy, serve_origin(pages={"a": PAGE}) as origin:
        for name in PROXY_VARIABLES:
            monkeypatch.setenv(name, f"http://127.0.0.3:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with deps_with(StaticResolver(NAMES)) as deps:
            ok = await verify_one(origin.url("/pages/a", host="public.test"), deps)
            refused = await verify_one(f"http://private.test:{origin.port}/pages/a", deps)
        assert (ok.status, refused.status, refused.reason) == ("ok", "refused", "private_address")
        assert origin.hits["/pages/a"] == 1
        assert proxy.accepted == 0


async def test_the_cli_ignores_proxy_variables() -> None:
    """``provenance verify`` run with every proxy variable set to a canary: the loopback origin
    (allowed by flag) is reached directly; the proxy sees nothing."""
    async with canary("127.0.0.3") as proxy, serve_origin(pages={"a": PAGE}) as origin:
        env = {**os.environ, **dict.fromkeys(PROXY_VARIABLES, f"http://127.0.0.3:{proxy.port}")}
        env.pop("NO_PROXY", None)
        env.pop("no_proxy", None)
        post = f'"The minister said these very words today." {origin.url("/pages/a")}\n'
        with tempfile.TemporaryDirectory() as data:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "service", "verify", "-", "--format", "json", "--data-dir", data,
                "--archive", "none", "--allow-private-addresses", cwd=ROOT, env=env,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate(post.encode()), 120)
        assert proc.returncode == 0, err.decode()
        report = json.loads(out)
        assert [s["status"] for s in report["sources"]] == ["ok"]
        assert origin.hits["/pages/a"] == 1
        assert proxy.accepted == 0
