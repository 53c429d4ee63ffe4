"""Source health: soft 404s, paywalls, login walls and bot challenges behind a 200 answer."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline.extract.health import Health, assess, assess_probe, probe_answer, probe_url
from service.pipeline.extract.pool import extract_article
from service.pipeline.models import (
    Extraction,
    FetchResult,
    ProbeAnswer,
    Redirect,
    SourceReason,
    SourceStatus,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "health"
ARTICLE_URL = "https://news.example.com/local/2023/city-council-approves-bridge"


def page(name: str) -> bytes:
    return (DATA / name).read_bytes()


def fetched(
    body: bytes,
    *,
    url: str = ARTICLE_URL,
    final_url: str | None = None,
    status: SourceStatus = SourceStatus.OK,
    http_status: int | None = 200,
    content_type: str = "text/html; charset=utf-8",
    reason: SourceReason | None = None,
) -> FetchResult:
    final = final_url or url
    redirects = (Redirect(url, 302),) if final != url else ()
    return FetchResult(
        url=url, final_url=final, status=status, reason=reason, redirects=redirects,
        http_status=http_status, content_type=content_type, body=body,
    )  # fmt: skip


def extracted(result: FetchResult) -> Extraction:
    return extract_article(result.body, url=result.final_url, content_type=result.content_type)


def check(
    result: FetchResult, *, probe: FetchResult | None = None, probe_extraction: Extraction | None = None
) -> Health:
    """assess() with the real extractor; the probe's answer is read as the pipeline keeps it
    (``probe_answer``, through JSON as a shared cache would hold it). The pipeline's two steps
    (``assess`` without the probe, then ``assess_probe`` for an ok page) say the same."""
    answer = None if probe is None else kept(probe_answer(probe, probe_extraction))
    extraction = extracted(result)
    health = assess(result, extraction, probe=answer)
    first = assess(result, extraction)
    if answer is not None and first.status is SourceStatus.OK:
        assert assess_probe(result, extraction, answer) == health
    else:
        assert first == health
    return health


def kept(answer: ProbeAnswer) -> ProbeAnswer:
    """The answer after a trip through a JSON cache."""
    return ProbeAnswer.from_dict(json.loads(json.dumps(answer.to_dict())))


def titled(title: str, h1: str = "", paragraphs: int = 2) -> bytes:
    body = "".join(
        f"<p>Paragraph {i} of a short page about nothing in particular.</p>" for i in range(paragraphs)
    )
    return f"<html><head><title>{title}</title></head><body><h1>{h1}</h1>{body}</body></html>".encode()


def words(n: int) -> str:
    return " ".join(f"word{i % 50}" for i in range(n))


# ---------------------------------------------------------------- probe_url


def _token(origin: str) -> str:
    return hashlib.sha256(origin.encode()).hexdigest()[:16]


def test_probe_url_is_a_root_path_named_by_the_origin() -> None:
    """The probe is /<16 hex digits of the origin's SHA-256> at the root, whatever the page's path."""
    out = probe_url("https://news.example.com/news/2023/abc-def-ghi")
    assert out == f"https://news.example.com/{_token('https://news.example.com')}"


def test_probe_url_is_one_per_origin() -> None:
    """Every page of an origin gets the same probe: path, query, fragment, user info, letter case
    and a written default port do not change it."""
    pages = ["https://h.example/", "https://h.example", "https://h.example/a/story.html?id=3#top",
             "https://user@H.Example:443/blog/my-post/", "HTTPS://h.example/story/48213"]  # fmt: skip
    assert {probe_url(url) for url in pages} == {f"https://h.example/{_token('https://h.example')}"}


def test_probe_url_differs_per_scheme_host_and_port() -> None:
    """Another scheme, host or port is another origin, with its own probe."""
    urls = [
        "https://h.example/a",
        "http://h.example/a",
        "https://www.h.example/a",
        "https://h.example:8443/a",
    ]
    probes = [probe_url(url) for url in urls]
    assert len(set(probes)) == len(urls)
    assert probes[3] == f"https://h.example:8443/{_token('https://h.example:8443')}"


@pytest.mark.parametrize("url", ["", "/relative/path", "ftp://h.example/a", "http://[::1"])
def test_probe_url_refuses_a_url_without_an_http_origin(url: str) -> None:
    """No origin, no probe: the caller must not guess one."""
    with pytest.raises(ValueError, match="origin"):
        probe_url(url)


_SEGMENT = st.text(alphabet="abcXYZ019-_.~%", max_size=12)


@given(
    scheme=st.sampled_from(["http", "https"]),
    host=st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z]{2,5}){1,2}", fullmatch=True),
    port=st.none() | st.integers(min_value=1, max_value=65535),
    segments=st.lists(_SEGMENT, max_size=6),
    query=st.sampled_from(["", "?a=1", "?x", "#frag"]),
)
def test_probe_url_keeps_the_origin_and_ignores_the_path(
    scheme: str, host: str, port: int | None, segments: list[str], query: str
) -> None:
    """For any path, the probe has the page's scheme, host and port, one hex segment and no query,
    and is the probe of the origin's home page."""
    netloc = host if port is None else f"{host}:{port}"
    url = f"{scheme}://{netloc}/" + "/".join(segments) + query
    out = probe_url(url)
    before, after = urlsplit(url), urlsplit(out)
    default = {"http": 80, "https": 443}[scheme]
    assert (after.scheme, after.hostname, after.port) == (before.scheme, before.hostname,
                                                         None if port == default else port)  # fmt: skip
    assert after.path[1:].isalnum()
    assert len(after.path) == 17
    assert (after.query, after.fragment) == ("", "")
    assert out == probe_url(f"{scheme}://{netloc}/")


# ---------------------------------------------------------------- probe_answer


_TEXT = st.text(max_size=40)
_OPT_TEXT = st.none() | _TEXT


@given(
    answer=st.builds(
        ProbeAnswer,
        url=_TEXT,
        final_url=_TEXT,
        status=st.sampled_from(SourceStatus),
        http_status=st.none() | st.integers(min_value=100, max_value=599),
        sha256=st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
        main_text=_OPT_TEXT,
        page_text=_TEXT,
        canonical_url=_OPT_TEXT,
    )
)
def test_probe_answer_round_trips_through_json(answer: ProbeAnswer) -> None:
    """Any answer survives to_dict -> JSON -> from_dict unchanged, field for field and in type."""
    back = kept(answer)
    assert back == answer
    assert type(back.status) is SourceStatus


def test_probe_answer_of_another_format_version_is_refused() -> None:
    """An entry written by another format version is not misread as this one."""
    data = ProbeAnswer(url="u", final_url="u", status=SourceStatus.OK).to_dict()
    with pytest.raises(ValueError, match="format"):
        ProbeAnswer.from_dict({**data, "v": 2})


def test_probe_answer_keeps_no_text_of_a_probe_the_rule_does_not_compare() -> None:
    """A 404 probe is kept as its status alone: no page text is stored for it."""
    probe = fetched(page("not_found.html"), url=probe_url(ARTICLE_URL), status=SourceStatus.DEAD,
                    http_status=404, reason=SourceReason("http_404"))  # fmt: skip
    answer = probe_answer(probe, None)
    assert (answer.status, answer.http_status, answer.page_text, answer.main_text) == (
        SourceStatus.DEAD,
        404,
        "",
        None,
    )


# ---------------------------------------------------------------- pass-through


def test_a_normal_article_is_ok() -> None:
    """An ordinary article (with Cloudflare's bot script injected) is ok, with no evidence."""
    assert check(fetched(page("article.html"))) == Health(SourceStatus.OK)


@given(
    status=st.sampled_from([s for s in SourceStatus if s is not SourceStatus.OK]),
    http_status=st.none() | st.integers(min_value=100, max_value=599).filter(lambda c: c not in (402, 503)),
    reason=st.none()
    | st.sampled_from(
        [SourceReason.for_http_status(404), SourceReason.TIMEOUT, SourceReason.PRIVATE_ADDRESS]
    ),
)
def test_other_statuses_pass_through_unchanged(
    status: SourceStatus, http_status: int | None, reason: SourceReason | None
) -> None:
    """A fetch that did not come back ok keeps its status and reason (402 and 503 aside)."""
    result = fetched(page("cloudflare.html"), status=status, http_status=http_status, reason=reason)
    assert assess(result, None) == Health(status, reason)


def test_a_non_html_body_is_left_alone() -> None:
    """A PDF is not parsed as HTML and stays ok."""
    result = fetched(b"%PDF-1.7\n404 not found\n", content_type="application/pdf")
    assert assess(result, Extraction(main_text="", page_text="")).status is SourceStatus.OK


# ---------------------------------------------------------------- blocked


def test_a_cloudflare_challenge_answering_200_is_blocked() -> None:
    """A "Just a moment..." page with Cloudflare's challenge markup is a challenge page."""
    health = check(fetched(page("cloudflare.html")))
    assert (health.status, health.reason) == (SourceStatus.BLOCKED, "challenge_page")
    assert "title: 'just a moment'" in health.evidence
    assert "markup: _cf_chl_opt" in health.evidence


def test_a_challenge_behind_a_503_is_blocked() -> None:
    """Cloudflare serves its challenge with 503: an error with a challenge body is blocked."""
    result = fetched(
        page("cloudflare.html"), status=SourceStatus.ERROR, http_status=503, reason=SourceReason("http_503")
    )
    health = assess(result, extracted(result))
    assert (health.status, health.reason) == (SourceStatus.BLOCKED, "challenge_page")


def test_a_503_without_a_challenge_stays_an_error() -> None:
    """A plain 503 (no body, or an ordinary maintenance page) keeps its error status."""
    bare = fetched(b"", status=SourceStatus.ERROR, http_status=503, reason=SourceReason("http_503"))
    maintenance = fetched(titled("Down for maintenance"), status=SourceStatus.ERROR, http_status=503)
    assert assess(bare, None) == Health(SourceStatus.ERROR, SourceReason("http_503"))
    assert assess(maintenance, None).status is SourceStatus.ERROR


@pytest.mark.parametrize(
    "body",
    [
        titled("Attention Required! | Cloudflare", "Sorry, you have been blocked"),
        titled("Access Denied", "Access Denied"),
        titled("example.com", "Please enable JS and disable any ad blocker",
               ) + b"<script src='https://ct.captcha-delivery.com/c.js'></script>",
        titled("Access to this page has been denied", "Press & Hold to confirm you are a human"),
        b"<html><body><div class='g-recaptcha'></div><p>Verify you are human</p></body></html>",
    ],
    ids=["cloudflare-blocked", "akamai", "datadome", "perimeterx", "recaptcha"],
)  # fmt: skip
def test_challenge_pages_of_other_vendors_are_blocked(body: bytes) -> None:
    """DataDome, PerimeterX, Akamai and captcha pages are challenge pages too."""
    health = check(fetched(body))
    assert (health.status, health.reason) == (SourceStatus.BLOCKED, "challenge_page")
    assert health.evidence


def test_a_long_article_titled_access_denied_is_not_a_challenge() -> None:
    """A story called "Access Denied" with a full text is an article, not a wall."""
    body = page("long_free_article.html").replace(
        b"<title>How the river towns learned to live with floods", b"<title>Access Denied"
    )
    assert check(fetched(body)).status is SourceStatus.OK


def test_bot_scripts_and_captcha_widgets_on_a_short_article_are_not_a_challenge() -> None:
    """A short brief with Cloudflare's injected script and a captcha on its comment form is ok."""
    body = titled("Council meeting moved to Thursday", h1="Council meeting moved to Thursday") + (
        b"<script src='/cdn-cgi/challenge-platform/scripts/jsd/main.js'></script>"
        b"<form class='comments'><div class='g-recaptcha'></div></form>"
    )
    assert check(fetched(body)) == Health(SourceStatus.OK)


def test_a_403_from_the_fetcher_stays_blocked_with_its_reason() -> None:
    """The fetcher's own blocked status (401/403/429) is not reworded."""
    result = fetched(b"", status=SourceStatus.BLOCKED, http_status=403, reason=SourceReason("http_403"))
    assert assess(result, None) == Health(SourceStatus.BLOCKED, SourceReason("http_403"))


# ---------------------------------------------------------------- paywalled


def test_a_paywalled_teaser_is_paywalled() -> None:
    """JSON-LD isAccessibleForFree "False" plus a "Subscribe to continue reading" box."""
    health = check(fetched(page("paywall_teaser.html")))
    assert (health.status, health.reason) == (SourceStatus.PAYWALLED, "paywall_markers")
    assert "json-ld: isAccessibleForFree false" in health.evidence
    assert "text: 'subscribe to continue reading'" in health.evidence
    assert "class: paywall" in health.evidence


def test_json_ld_not_free_alone_marks_a_cut_off_text() -> None:
    """With only JSON-LD saying "not free", a 300-word text is a teaser but a 600-word one is whole."""
    body = b"""<html><head><script type="application/ld+json">
        [{"@type": "NewsArticle", "isAccessibleForFree": false}]</script>
        </head><body><p>x</p></body></html>"""
    signals = extracted(fetched(body)).signals
    teaser = assess(fetched(body), Extraction(main_text=words(300), page_text=words(300), signals=signals))
    whole = assess(fetched(body), Extraction(main_text=words(600), page_text=words(600), signals=signals))
    assert teaser.status is SourceStatus.PAYWALLED
    assert whole.status is SourceStatus.OK


def test_microdata_not_free_and_malformed_json_ld_are_read_safely() -> None:
    """itemprop=isAccessibleForFree counts; a broken JSON-LD block is skipped, not fatal."""
    body = b"""<html><head><script type="application/ld+json">{not json</script>
        <meta itemprop="isAccessibleForFree" content="false"></head><body><p>Short.</p></body></html>"""
    signals = extracted(fetched(body)).signals
    short = Extraction(main_text="Short.", page_text="Short.", signals=signals)
    assert assess(fetched(body), short).status is SourceStatus.PAYWALLED


def test_a_piano_script_on_a_short_page_is_a_paywall() -> None:
    """A Piano/Tinypass script with a short text: the wall is drawn by JavaScript."""
    body = b"""<html><head><script src="https://experience.tinypass.com/xbuilder/experience/load"></script>
        </head><body><h1>Title</h1><p>The first paragraph only.</p></body></html>"""
    health = check(fetched(body))
    assert (health.status, health.reason) == (SourceStatus.PAYWALLED, "paywall_markers")


def test_a_long_free_article_with_a_newsletter_box_is_ok() -> None:
    """A "Subscribe to our newsletter" box under a full article is not a paywall."""
    assert check(fetched(page("long_free_article.html"))).status is SourceStatus.OK


def test_a_short_article_with_a_newsletter_box_is_ok() -> None:
    """Even a short text is fine when the only "subscribe" is the newsletter's."""
    short = Extraction(main_text=words(80), page_text=words(80))
    assert assess(fetched(page("long_free_article.html")), short).status is SourceStatus.OK


def test_paywall_phrases_under_a_long_text_are_ignored() -> None:
    """A full text that carries "to continue reading" boilerplate was read in full: ok."""
    body = page("paywall_teaser.html").replace(b'"False"', b'"True"')
    long_text = Extraction(main_text=words(900), page_text=words(900))
    assert assess(fetched(body), long_text).status is SourceStatus.OK


@pytest.mark.parametrize("status", [SourceStatus.PAYWALLED, SourceStatus.OK])
def test_http_402_is_paywalled(status: SourceStatus) -> None:
    """402 Payment Required is paywalled, whether the fetcher or a replay reported it."""
    health = assess(fetched(b"", status=status, http_status=402, reason=SourceReason("http_402")), None)
    assert (health.status, health.reason) == (SourceStatus.PAYWALLED, "http_402")


@pytest.mark.parametrize(
    "final",
    [
        "https://times.example.com/account/login?return=%2Fbusiness%2Fport-deal",
        "https://times.example.com/signin",
        "https://times.example.com/subscribe?src=wall",
        "https://accounts.example.com/authorize",
    ],
)
def test_an_article_redirected_to_a_login_page_is_a_login_wall(final: str) -> None:
    """Article → /login, /signin, /subscribe, /account/ or a login host: a login wall."""
    result = fetched(page("login.html"), url="https://times.example.com/business/port-deal", final_url=final)
    health = check(result)
    assert health == Health(SourceStatus.PAYWALLED, SourceReason.LOGIN_WALL, (f"final url: {final}",))


def test_a_login_page_cited_directly_is_not_a_login_wall() -> None:
    """Citing the sign-in page itself (no redirect, or from the home page) is not a wall."""
    direct = fetched(page("login.html"), url="https://times.example.com/login")
    from_home = fetched(
        page("login.html"), url="https://times.example.com/", final_url="https://times.example.com/login"
    )
    assert check(direct).status is SourceStatus.OK
    assert check(from_home).status is SourceStatus.OK


# ---------------------------------------------------------------- soft 404: URL rules


@pytest.mark.parametrize(
    "final",
    [
        "https://news.example.com/",
        "https://news.example.com",
        "https://news.example.com/index.php",
        "https://news.example.com/en/",
    ],
)
def test_a_deep_url_redirected_to_the_home_page_is_a_soft_404(final: str) -> None:
    """A deep article URL that lands on the site's home page is gone (IABot's rule)."""
    health = check(fetched(page("home.html"), final_url=final))
    assert (health.status, health.reason) == (SourceStatus.SOFT_404, "redirect_to_home")


def test_a_query_url_redirected_to_the_home_page_is_a_soft_404() -> None:
    """WordPress-style /?p=123 that lands on / lost its content too."""
    result = fetched(
        page("home.html"), url="https://blog.example.com/?p=123", final_url="https://blog.example.com/"
    )
    assert check(result).reason == "redirect_to_home"


def test_the_home_page_redirected_to_itself_is_ok() -> None:
    """http → https on the home page, or a deep → deep redirect, is no soft 404."""
    home = fetched(page("home.html"), url="http://news.example.com/", final_url="https://news.example.com/")
    moved = fetched(page("article.html"), url=ARTICLE_URL.replace("2023", "2022"), final_url=ARTICLE_URL)
    assert check(home).status is SourceStatus.OK
    assert check(moved).status is SourceStatus.OK


@pytest.mark.parametrize(
    "final_path",
    ["/404", "/404.htm", "/errors/404.html", "/not-found", "/notfound.aspx", "/error", "/page?status=404"],
)
def test_a_redirect_to_an_error_url_is_a_soft_404(final_path: str) -> None:
    """The redirect chain ended on a URL that names an error page."""
    result = fetched(page("home.html"), final_url=f"https://news.example.com{final_path}")
    health = check(result)
    assert (health.status, health.reason) == (SourceStatus.SOFT_404, "error_page_url")


@pytest.mark.parametrize(
    ("url", "final"),
    [
        ("https://docs.example.com/guide/errors", None),
        ("https://docs.example.com/guide/error", "https://docs.example.com/guide/error/"),
        ("https://docs.example.com/a/error-handling", "https://docs.example.com/b/error-handling"),
    ],
)
def test_error_words_in_a_cited_or_moved_url_are_fine(url: str, final: str | None) -> None:
    """A docs page about errors, or a slash-only redirect to it, is not an error page."""
    assert check(fetched(page("article.html"), url=url, final_url=final)).status is SourceStatus.OK


# ---------------------------------------------------------------- soft 404: titles


def test_a_200_page_not_found_page_is_a_soft_404() -> None:
    """The local "Page not found" page answers 200 but its title and h1 give it away."""
    health = check(fetched(page("not_found.html")))
    assert (health.status, health.reason) == (SourceStatus.SOFT_404, "not_found_title")
    assert "heading: 'page not found | example news'" in health.evidence


@pytest.mark.parametrize(
    "title",
    ["404", "Error 404 - Example News", "404 Not Found", "Seite nicht gefunden", "Página no encontrada",
     "Page introuvable | Le Site", "This article is no longer available", "Sorry, this page doesn't exist",
     "Pagina non trovata", "ページが見つかりません"],
)  # fmt: skip
def test_not_found_titles_in_several_languages(title: str) -> None:
    """Tell-tale titles, alone or beside the site name, in several languages."""
    health = check(fetched(titled(title)))
    assert (health.status, health.reason) == (SourceStatus.SOFT_404, "not_found_title")


def test_a_not_found_h1_under_a_normal_title_is_a_soft_404() -> None:
    """The title may be the site's name; the h1 still says "Page not found"."""
    assert check(fetched(titled("Example News", h1="Page not found"))).reason == "not_found_title"


@pytest.mark.parametrize(
    "title",
    ["How to fix page not found errors in WordPress", "Why the Higgs boson was not found sooner",
     "404 Squadron returns home", "God does not exist, says philosopher"],
)  # fmt: skip
def test_headlines_that_merely_contain_not_found_words_are_ok(title: str) -> None:
    """A headline that uses the words in a sentence is an article."""
    assert check(fetched(titled(title, h1=title))).status is SourceStatus.OK


def test_an_article_that_mentions_not_found_in_its_text_is_ok() -> None:
    """An article whose title and body say "not found" / "page not found error" stays ok."""
    assert check(fetched(page("article_mentions_not_found.html"))) == Health(SourceStatus.OK)


@given(
    phrase=st.sampled_from(["404", "Page not found", "not found", "no longer available",
                            "Seite nicht gefunden", "this page doesn't exist",
                            "Subscribe to continue reading", "Access denied", "Just a moment...",
                            "Checking your browser"]),
    where=st.integers(min_value=0, max_value=8),
)  # fmt: skip
def test_phrases_inside_a_long_article_body_never_change_its_status(phrase: str, where: int) -> None:
    """Any tell-tale phrase written into the body of a long article leaves it ok."""
    paragraphs = page("long_free_article.html").split(b"</p>")
    paragraphs[where] += f" {phrase}.".encode()
    result = fetched(b"</p>".join(paragraphs))
    assert check(result).status is SourceStatus.OK


# ---------------------------------------------------------------- soft 404: random-path probe


def catch_all(slug: str) -> bytes:
    return page("catch_all.html").replace(b"__SLUG__", slug.encode())


def test_a_random_path_answering_the_same_template_is_a_soft_404() -> None:
    """The page and a random path answer the same catch-all page (echoing the path): soft 404."""
    url = "https://blog.example.com/2019/garden-notes"
    probe = fetched(catch_all(probe_url(url).rsplit("/", 1)[1]), url=probe_url(url))
    result = fetched(catch_all("garden-notes"), url=url)
    assert check(result).status is SourceStatus.OK  # nothing else gives it away
    health = check(result, probe=probe, probe_extraction=extracted(probe))
    assert (health.status, health.reason) == (SourceStatus.SOFT_404, "same_as_random_path")
    assert health.evidence[0] == f"probe: {probe.final_url}"


def test_a_site_serving_its_home_page_for_any_path_is_a_soft_404() -> None:
    """Identical bodies at the article and at a random path, without a redirect: soft 404."""
    url = "https://news.example.com/local/2023/gone-story"
    probe = fetched(page("home.html"), url=probe_url(url))
    health = assess(fetched(page("home.html"), url=url), None, probe=kept(probe_answer(probe, None)))
    assert (health.status, health.reason) == (SourceStatus.SOFT_404, "same_as_random_path")
    assert "similarity: 1.00" in health.evidence


def test_a_random_path_answering_a_different_article_is_ok() -> None:
    """When the probe's page says something else, the cited page is real."""
    probe = fetched(page("long_free_article.html"), url=probe_url(ARTICLE_URL))
    health = check(fetched(page("article.html")), probe=probe, probe_extraction=extracted(probe))
    assert health == Health(SourceStatus.OK)


def test_a_random_path_answering_404_is_ok() -> None:
    """A site that answers a random path with a real 404 has real pages at its other URLs."""
    probe = fetched(page("not_found.html"), url=probe_url(ARTICLE_URL),
                    status=SourceStatus.DEAD, http_status=404, reason=SourceReason("http_404"))  # fmt: skip
    assert check(fetched(page("article.html")), probe=probe, probe_extraction=None).status is SourceStatus.OK


def test_a_probe_redirected_to_this_very_page_is_ok() -> None:
    """/questions/123/<any-slug> redirecting to the real slug is the article, not a soft 404."""
    url = "https://qa.example.com/questions/123/real-slug"
    probe = fetched(page("article.html"), url=probe_url(url), final_url=url)
    answer = kept(probe_answer(probe, None))
    assert assess(fetched(page("article.html"), url=url), None, probe=answer).status is SourceStatus.OK


def test_a_probe_declaring_the_same_canonical_article_is_ok() -> None:
    """A decorative slug served without redirect but with the article's canonical URL is the article."""
    url = "https://qa.example.com/questions/123/real-slug"
    probe = fetched(page("article.html"), url=probe_url(url))
    result = fetched(page("article.html"), url=url)
    assert check(result, probe=probe, probe_extraction=extracted(probe)).status is SourceStatus.OK


def test_an_article_against_an_empty_probe_page_is_ok() -> None:
    """An extracted article compared with a probe page that has no main text: not the same page."""
    probe = fetched(b"<html><body><div id='app'></div></body></html>", url=probe_url(ARTICLE_URL))
    result = fetched(page("article.html"))
    assert check(result, probe=probe, probe_extraction=extracted(probe)).status is SourceStatus.OK


# ---------------------------------------------------------------- rule order


def test_blocked_comes_before_soft_404() -> None:
    """A challenge page reached by a redirect to the home page is reported as blocked."""
    result = fetched(page("cloudflare.html"), final_url="https://news.example.com/")
    assert check(result).status is SourceStatus.BLOCKED


def test_paywalled_comes_before_soft_404() -> None:
    """A teaser whose redirect ended on an error-looking URL is still reported as paywalled."""
    result = fetched(page("paywall_teaser.html"), final_url="https://news.example.com/error")
    assert check(result).status is SourceStatus.PAYWALLED


def test_word_count_reads_the_text_as_extracted_without_normalising_it() -> None:
    """A long page's words are counted on its visible text as extracted (curly apostrophes, runs
    of spaces, capitals count as the normalised text would), and the normalised text is not built."""
    from service.pipeline.extract import health

    visible = "It’s   A  Story\n\nabout DON’T " * 60
    page = health._ParsedAnswer(_fetch_for_words(), (), frozenset(), False, visible, None, None)
    assert page.text_words == health._words(health._norm(visible), health._words_asked(False))
    assert "text" not in page.__dict__


def _fetch_for_words() -> FetchResult:
    return FetchResult(url="https://a.example/x", final_url="https://a.example/x", status=SourceStatus.OK)


_WORDISH = st.text(alphabet=st.sampled_from(list("ab1_é日本'’ \n-.")), max_size=80)


@given(_WORDISH, st.integers(min_value=1, max_value=12))
def test_word_count_matches_counting_one_by_one(text: str, cap: int) -> None:
    """The one-match test for "at least ``cap`` words" agrees with counting the words one by one."""
    from service.pipeline.extract.health import _APOSTROPHE_WORD_RE, _CJK, _words

    words = len(_APOSTROPHE_WORD_RE.findall(text))
    expected = cap if words >= cap else min(cap, words + len(_CJK.findall(text)) // 2)
    assert _words(text, cap) == expected


def test_word_count_of_a_long_article_stops_at_the_cap() -> None:
    from service.pipeline.extract.health import _words

    assert _words("don't stop " * 100_000, 150) == 150
    assert _words("word " * 149, 150) == 149
