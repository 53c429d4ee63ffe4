"""Source health: is a page that answered 200 really the cited page, or a soft 404, wall or challenge?

Servers answer missing pages with 200 (~7 % of them, Prieto et al.), redirect them to the home page
or an error URL (IABot's CheckIfDead), and paywalls, login walls and bot challenges answer 200 with a
teaser or a captcha. Verifying quotes against such a page would flag every quote as a misquote, so
these pages get their own status (landscape.md §1, §3 C/D). Pure: the caller fetches the probe.

Each rule is a small function returning a ``Health`` or None; ``assess`` runs them in order
(blocked, paywalled, soft_404). Every rule that reads page text also demands a *short* page or a
whole-heading match, so an article that merely mentions "not found" or "subscribe" stays ok.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import islice
from urllib.parse import unquote, urlsplit

from service.pipeline.models import (
    Extraction,
    FetchResult,
    PageSignals,
    ProbeAnswer,
    SourceReason,
    SourceStatus,
)
from service.pipeline.urls import url_origin

__all__ = ["Health", "assess", "assess_probe", "probe_answer", "probe_url"]

_MAX_HTML = 2 * 1024 * 1024
_SHORT_WORDS = 150  # a teaser or a challenge page; a real article is longer
_TEASER_WORDS = 400  # with JSON-LD saying "not free", a longer cut-off text is still a teaser
_SAME_TEXT = 0.9  # Jaccard of word 3-shingles above which two pages say the same thing

_APOSTROPHE_WORD_RE = re.compile(r"\w+(?:['’]\w+)*")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_SPACES = re.compile(r"\s+")
_TITLE_SEP = re.compile(r"\s+[|:\-–—·»]+\s+")
_HOME_PATH = re.compile(r"/?(?:(?:index|default|home)\.\w+|[a-z]{2}(?:[-_][a-z]{2})?/?)?", re.I)
_ERROR_SEGMENT = re.compile(
    r"(?:404|410|err(?:or)?s?[-_]?(?:404|410)?|(?:404|410)[-_]?(?:error|page)|(?:page[-_]?)?not[-_]?found)"
    r"(?:\.\w+)?",
    re.I,
)
_LOGIN_SEGMENTS = frozenset(
    {"login", "log-in", "signin", "sign-in", "sign_in", "subscribe", "account", "accounts", "register",
     "registration", "sso", "auth", "paywall", "abo", "abonnement"}
)  # fmt: skip
_LOGIN_HOSTS = ("login.", "accounts.", "account.", "sso.", "auth.", "signin.", "subscribe.")

_NOT_FOUND = re.compile(
    r"\b(?:404|410)\b|not found|can(?:no|')t be found|could ?n[o']t (?:be found|find)|can(?:no|')t find"
    r"|does(?:n't| not) exist|no longer (?:available|exists)|nicht gefunden|nicht mehr verfügbar"
    r"|no (?:se ha )?encontrad[ao]|no existe|introuvable|n'existe pas|non trovat[ao]|non esiste"
    r"|niet gevonden|não encontrad[ao]|не найден[аo]?|ページ[がは]?見つかりません|見つかりません"
    r"|页面(?:未找到|不存在)|未找到|페이지를 찾을 수 없습니다|찾을 수 없습니다"
)
_FILLER = frozenset(
    {"a", "an", "the", "this", "that", "it", "is", "was", "were", "are", "be", "been", "has", "have",
     "may", "or", "and", "we", "you", "your", "our", "for", "here", "sorry", "oops", "whoops", "uh",
     "oh", "hmm", "ouch", "error", "http", "page", "file", "document", "article", "story", "content",
     "post", "video", "item", "requested", "request", "looking", "seems", "looks", "like", "what",
     "nothing", "moved", "removed", "deleted", "longer", "seite", "diese", "die", "der", "fehler",
     "leider", "página", "esta", "la", "el", "cette", "pagina", "questa", "de", "deze", "erro",
     "страница", "ошибка"}
)  # fmt: skip
_CHALLENGE_TITLES = frozenset(
    {"just a moment", "attention required", "access denied", "checking your browser", "please wait",
     "security check", "human verification", "are you a robot", "robot check", "captcha",
     "pardon our interruption", "ddos guard", "one more step", "verify you are human",
     "request unsuccessful", "you have been blocked", "access to this page has been denied"}
)  # fmt: skip
# Markup seen only on challenge pages; then markup that vendors also inject into ordinary pages
# (bot-detection scripts, captcha widgets of comment forms), which only backs up other evidence.
_CHALLENGE_MARKUP = ("cf-browser-verification", "_cf_chl_opt", "cf-chl-", "cf-error-details",
                     "captcha-delivery.com", "px-captcha", "errors.edgesuite.net", "ddos-guard")  # fmt: skip
_CHALLENGE_HINTS = ("challenge-platform", "cf-turnstile", "datadome", "_pxappid", "perimeterx",
                    "_incapsula_resource", "g-recaptcha", "h-captcha")  # fmt: skip
_CHALLENGE_TEXT = re.compile(
    r"checking (?:if the site connection is secure|your browser)|enable javascript and cookies to continue"
    r"|please enable js and disable any ad ?blocker|verify (?:that )?you are (?:a )?human"
    r"|press (?:&|and) hold|you don't have permission to access|complete the security check"
    r"|why have i been blocked"
)
_PAYWALL_CLASSES = ("paywall", "tp-modal", "tp-backdrop", "subscriber-only", "subscribers-only",
                    "premium-content", "meteredcontent", "metered-content", "regwall")  # fmt: skip
_PAYWALL_TEXT = re.compile(
    r"subscribe (?:now )?to (?:continue|keep) reading|to continue reading"
    r"|(?:sign|log) in to (?:continue|read)"
    r"|this (?:article|story|content) is (?:only )?(?:for|available to|exclusive to) (?:paying )?subscribers"
    r"|already (?:a subscriber|have an account)\W+(?:log|sign) ?in|create a free account to (?:continue|read)"
    r"|register to continue|subscribe to read|subscribers only|unlock this (?:article|story)"
    r"|um weiterzulesen|réservé aux abonnés|abonnez-vous pour lire|exclusivo para suscriptores"
)


@dataclass(frozen=True, slots=True)
class Health:
    """What a fetched page really is; ``evidence`` lists the findings behind ``reason``."""

    status: SourceStatus
    reason: SourceReason | None = None
    evidence: tuple[str, ...] = ()


_OK = Health(SourceStatus.OK)


@dataclass(frozen=True)
class _ParsedAnswer:
    """One answer, parsed once for every rule (lowercased where rules match case-insensitively)."""

    fetched: FetchResult
    headings: tuple[str, ...]
    tokens: frozenset[str]
    not_free: bool
    visible_text: str  # as extracted: ``text`` is its normalised form
    main_text: str | None  # None without an extraction
    canonical: str | None

    @cached_property
    def text(self) -> str:
        """The visible text, normalised (``_norm``) once, when a rule first reads it."""
        return _norm(self.visible_text)

    @cached_property
    def text_words(self) -> int:
        """The visible text's words, counted once for every rule that asks. Counted on the text as
        extracted: normalising (spaces, apostrophes, case) does not change what a word is, and
        most pages are long, so ``text`` is never built for them (it was a third of ``assess``)."""
        return _words(self.visible_text, _words_asked(self.not_free))

    @cached_property
    def markup(self) -> str:
        """The lowercased HTML, built only for the few short pages a challenge rule looks into."""
        return self.fetched.body[:_MAX_HTML].decode("utf-8", "replace").lower()


# ---------------------------------------------------------------- probe URL


def probe_url(url: str) -> str:
    """The made-up path probed for ``url``'s origin: ``/<token>`` at its root, the token 16 hex
    digits of the SHA-256 of the origin (scheme, host, port) alone.

    One probe per origin, the same whichever page of the host was read first, so that a replay of
    the evidence store (its pages read in any order) asks for the very probe a live run stored.
    A sitewide catch-all (every unknown path answered 200 with the home page, a search page or one
    "not found" template) answers a root path as it answers a deep one, so it is still caught.
    What a root probe gives up is per-route not-found handling: a site whose ``/news/<slug>``
    route alone renders a 200 placeholder for unknown slugs, while unknown root paths get a real
    404, is no longer caught by the probe (the title and redirect rules still apply).
    Raises ValueError for a URL without an http(s) origin.
    """
    origin = url_origin(url)
    if origin is None:
        raise ValueError(f"no http(s) origin in {url[:80]!r}")
    return f"{origin}/{hashlib.sha256(origin.encode()).hexdigest()[:16]}"


def probe_answer(probe: FetchResult, extraction: Extraction | None) -> ProbeAnswer:
    """What ``assess`` needs of a probe's answer. Texts only for a 2xx ok answer, the one kind
    the soft-404 rule compares with a page."""
    answer = ProbeAnswer(
        url=probe.url,
        final_url=probe.final_url,
        status=probe.status,
        http_status=probe.http_status,
        sha256=probe.sha256,
    )
    if not _comparable(answer):
        return answer
    q = _read(probe, extraction)
    return replace(answer, main_text=q.main_text, page_text=q.text, canonical_url=q.canonical)


def _comparable(probe: ProbeAnswer) -> bool:
    return probe.status is SourceStatus.OK and 200 <= (probe.http_status or 200) < 300


# ---------------------------------------------------------------- reading a page


def _read(fetched: FetchResult, extraction: Extraction | None) -> _ParsedAnswer:
    """The rules' view of one answer, from what the extraction worker read of it.

    Nothing here parses the page: this runs on the event loop, and a hostile page (a hundred
    thousand attributes on one tag) holds lxml for minutes. A page that no worker read (its
    extraction overran its limits, or it was never extracted) is judged from its URL, status and
    raw bytes alone; one that overran is an ``extraction_timeout`` error anyway.
    """
    if extraction is not None and extraction.signals is not None:
        return _page(fetched, extraction, extraction.signals, extraction.page_text)
    main = extraction.main_text if extraction else None
    title = (extraction.title,) if extraction and extraction.title else ()
    text = extraction.page_text if extraction else ""
    canonical = extraction.canonical_url if extraction else None
    return _ParsedAnswer(fetched, _norm_all(title), frozenset(), False, text or main or "", main, canonical)


def _page(fetched: FetchResult, extraction: Extraction, signals: PageSignals, text: str) -> _ParsedAnswer:
    return _ParsedAnswer(
        fetched=fetched,
        headings=_norm_all(signals.headings),
        tokens=signals.class_tokens,
        not_free=signals.not_free,
        visible_text=text,
        main_text=extraction.main_text,
        canonical=extraction.canonical_url,
    )


def _words_asked(not_free: bool) -> int:
    """How far the rules need a page's words counted: past ``_TEASER_WORDS`` only when the page
    says it is not free, else past ``_SHORT_WORDS`` (a larger count changes no rule's answer)."""
    return _TEASER_WORDS if not_free else _SHORT_WORDS


def _norm(text: str) -> str:
    return _SPACES.sub(" ", text.replace("’", "'")).strip().lower()


def _norm_all(texts: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_norm(t) for t in texts))


def _at_least_words(cap: int) -> re.Pattern[str]:
    """Matches the start of a text holding ``cap`` words (``_APOSTROPHE_WORD_RE``'s words: each is
    taken whole, possessively, so no word can be split into two and no match backtracks)."""
    pattern = _AT_LEAST.get(cap)
    if pattern is None:
        pattern = _AT_LEAST[cap] = re.compile(rf"\W*+(?:(?>\w++(?:['’]\w++)*+)\W*+){{{cap}}}")
    return pattern


_AT_LEAST: dict[int, re.Pattern[str]] = {}


def _words(text: str, cap: int = _TEASER_WORDS) -> int:
    """Words in ``text``, counted up to ``cap`` only: every rule asks "fewer than N?", and a
    full article need not be counted to the end (one match in C says whether it reaches ``cap``;
    only a shorter text is counted word by word)."""
    if _at_least_words(cap).match(text):
        return cap
    words = sum(1 for _ in islice(_APOSTROPHE_WORD_RE.finditer(text), cap))
    if words >= cap:
        return words
    return min(cap, words + sum(1 for _ in islice(_CJK.finditer(text), 2 * cap)) // 2)


def _path(url: str) -> str:
    return unquote(urlsplit(url).path)


def _redirected(f: FetchResult) -> bool:
    return f.final_url != f.url or bool(f.redirects)


# ---------------------------------------------------------------- rules


def _challenge_page(p: _ParsedAnswer) -> Health | None:
    """Blocked: a bot challenge answered instead of the page (Cloudflare, DataDome, PerimeterX,
    Akamai, Imperva, captchas). Evidence, on a short page only (a long page titled "Access denied"
    is a story): a title part that *is* a challenge title, challenge-only markup, or challenge
    text. Bot scripts and captcha widgets, which vendors inject into real pages, only back these up."""
    if p.text_words >= _SHORT_WORDS:
        return None
    titles = [part.strip(" .!?…") for h in p.headings for part in _TITLE_SEP.split(h)]
    hits = [f"title: {t!r}" for t in titles if t.replace("-", " ") in _CHALLENGE_TITLES]
    hits += [f"markup: {m}" for m in _CHALLENGE_MARKUP if m in p.markup]
    hits += [f"text: {m.group(0)!r}" for m in _CHALLENGE_TEXT.finditer(p.text)]
    if not hits:
        return None
    hits += [f"markup: {m}" for m in _CHALLENGE_HINTS if m in p.markup]
    return Health(SourceStatus.BLOCKED, SourceReason.CHALLENGE_PAGE, tuple(hits))


def _http_402(p: _ParsedAnswer) -> Health | None:
    """Paywalled: the server said "Payment Required"."""
    if p.fetched.http_status == 402:
        return Health(SourceStatus.PAYWALLED, SourceReason.for_http_status(402), ("http status 402",))
    return None


def _login_wall(p: _ParsedAnswer) -> Health | None:
    """Paywalled: an article URL redirected to a login, sign-in, subscribe or account page."""
    f = p.fetched
    if not _redirected(f) or _is_login(f.url) or _is_home(_path(f.url)) or not _is_login(f.final_url):
        return None
    return Health(SourceStatus.PAYWALLED, SourceReason.LOGIN_WALL, (f"final url: {f.final_url}",))


def _is_login(url: str) -> bool:
    parts = urlsplit(url)
    segments = {s.rpartition(".")[0] or s for s in _path(url).lower().split("/")}
    return bool(segments & _LOGIN_SEGMENTS) or (parts.hostname or "").startswith(_LOGIN_HOSTS)


def _paywall_markers(p: _ParsedAnswer) -> Health | None:
    """Paywalled: a cut-short text with paywall markers. Evidence: JSON-LD/microdata
    ``isAccessibleForFree: false`` (text < 400 words), or paywall classes/ids (``paywall``,
    ``piano``, ``tp-modal``, ``premium-content``...), Piano scripts, or "subscribe to continue
    reading"-style phrases (text < 150 words). A long article with a newsletter box stays ok."""
    words = _words(p.main_text, _words_asked(p.not_free)) if p.main_text is not None else p.text_words
    hits = ["json-ld: isAccessibleForFree false"] if p.not_free and words < _TEASER_WORDS else []
    if words < _SHORT_WORDS:
        hits += sorted({f"class: {m}" for t in p.tokens for m in _PAYWALL_CLASSES if m in t})
        hits += sorted({f"class: {t}" for t in p.tokens if t == "piano" or t.startswith("script:")})
        hits += [f"text: {m.group(0)!r}" for m in _PAYWALL_TEXT.finditer(p.text)]
    if not hits:
        return None
    return Health(SourceStatus.PAYWALLED, SourceReason.PAYWALL_MARKERS, (f"main text: {words} words", *hits))


def _redirect_to_home(p: _ParsedAnswer) -> Health | None:
    """Soft 404: a deep URL (or one with a query) redirected to the site's home page (IABot)."""
    f = p.fetched
    req, final = urlsplit(f.url), urlsplit(f.final_url)
    if not _redirected(f) or not _is_home(final.path) or (_is_home(req.path) and req.query == final.query):
        return None
    return Health(SourceStatus.SOFT_404, SourceReason.REDIRECT_TO_HOME, (f"final url: {f.final_url}",))


def _is_home(path: str) -> bool:
    return _HOME_PATH.fullmatch(path) is not None


def _error_page_url(p: _ParsedAnswer) -> Health | None:
    """Soft 404: a redirect ended on an error URL (``/404``, ``404.htm``, ``/not-found``,
    ``notfound``, ``/error``, ``?error=404``). The cited URL itself may look so (a docs page on
    errors): only a redirect to it counts."""
    f = p.fetched
    if _looks_error(f.url) or not _looks_error(f.final_url):  # so only a redirect can get here
        return None
    return Health(SourceStatus.SOFT_404, SourceReason.ERROR_PAGE_URL, (f"final url: {f.final_url}",))


def _looks_error(url: str) -> bool:
    parts = urlsplit(url)
    segments = _path(url).lower().split("/")
    query = re.split(r"[&=]", parts.query.lower())
    return (
        any(_ERROR_SEGMENT.fullmatch(s) or "404.htm" in s or "notfound" in s for s in segments)
        or "404" in query
    )


def _not_found_title(p: _ParsedAnswer) -> Health | None:
    """Soft 404: the title or an h1 *is* a not-found message ("404", "Page not found", "Seite
    nicht gefunden", "This article is no longer available"...): once the tell-tale phrase is
    removed, only filler words remain. "How to fix page not found errors" stays ok."""
    hits = tuple(f"heading: {h!r}" for h in p.headings if any(map(_is_not_found, _TITLE_SEP.split(h))))
    return Health(SourceStatus.SOFT_404, SourceReason.NOT_FOUND_TITLE, hits) if hits else None


def _is_not_found(part: str) -> bool:
    if not _NOT_FOUND.search(part):
        return False
    rest = _APOSTROPHE_WORD_RE.findall(_NOT_FOUND.sub(" ", part))
    return all(w in _FILLER or (w.isdigit() and len(w) <= 3) for w in rest)


_RULES: tuple[Callable[[_ParsedAnswer], Health | None], ...] = (
    _challenge_page,
    _http_402,
    _login_wall,
    _paywall_markers,
    _redirect_to_home,
    _error_page_url,
    _not_found_title,
)


# ---------------------------------------------------------------- random-path probe


def _same_as_random_path(p: _ParsedAnswer, probe: ProbeAnswer) -> Health | None:
    """Soft 404: the host's made-up path (``probe_url``) also answered 200 with near-identical text
    (robustify.js). Not when the probe is a real 4xx, was redirected to this very page, or
    declares this page's canonical URL (a decorative slug: ``/questions/123/<any-slug>``)."""
    f = p.fetched
    if not _comparable(probe):
        return None
    if probe.final_url == f.final_url or (p.canonical and p.canonical == probe.canonical_url and not (
        _is_home(_path(p.canonical)) or _looks_error(p.canonical) or p.canonical == probe.url
    )):  # fmt: skip
        return None
    score = _similarity(p, probe)
    if score is None:
        return None
    if score < _SAME_TEXT:
        return None
    evidence = (f"probe: {probe.final_url}", f"similarity: {score:.2f}")
    return Health(SourceStatus.SOFT_404, SourceReason.SAME_AS_RANDOM_PATH, evidence)


def _similarity(p: _ParsedAnswer, q: ProbeAnswer) -> float | None:
    """Main texts when both pages were extracted (boilerplate shared by every page of a site would
    make two articles look alike), else visible texts; None for an article against an empty page."""
    f = p.fetched
    if f.sha256 is not None and f.sha256 == q.sha256:  # the same non-empty body
        return 1.0
    mine, theirs = (f.url, f.final_url), (q.url, q.final_url)
    if p.main_text is None or q.main_text is None or not (p.main_text.strip() or q.main_text.strip()):
        return _jaccard(_shingles(p.text, mine), _shingles(q.page_text, theirs))
    if not (p.main_text.strip() and q.main_text.strip()):
        return None
    return _jaccard(_shingles(p.main_text, mine), _shingles(q.main_text, theirs))


def _shingles(text: str, urls: tuple[str, str]) -> set[tuple[str, ...]]:
    """Word 3-shingles, without the words of the page's own last path segment (error pages
    often echo the requested path); ``urls`` are the requested and the final URL."""
    echo = {w for url in urls for w in _APOSTROPHE_WORD_RE.findall(_path(url).lower().rsplit("/", 1)[-1])}
    words = [w for w in _APOSTROPHE_WORD_RE.findall(text.lower()) if w not in echo]
    if len(words) < 3:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def _jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


# ---------------------------------------------------------------- assess


def assess(
    fetched: FetchResult, extraction: Extraction | None, *, probe: ProbeAnswer | None = None
) -> Health:
    """The health of one fetch: blocked, paywalled or soft_404 for a page that came back ok.

    Other statuses pass through unchanged, except an HTTP 503 error whose body is a challenge
    page (blocked) and any HTTP 402 (paywalled). ``probe`` is ``probe_answer`` of the fetch of
    ``probe_url(fetched.final_url)``; it is consulted last, only when every other rule found the
    page ok, so a caller may assess without it first and fetch it only then.
    """
    if fetched.status is not SourceStatus.OK:
        if fetched.http_status == 402:
            return Health(SourceStatus.PAYWALLED, SourceReason.for_http_status(402), ("http status 402",))
        if fetched.http_status == 503 and fetched.body:
            found = _challenge_page(_read(fetched, extraction))
            if found is not None:
                return found
        return Health(fetched.status, fetched.reason)
    page = _read(fetched, extraction)
    for rule in _RULES:
        found = rule(page)
        if found is not None:
            return found
    if probe is not None:
        found = _same_as_random_path(page, probe)
        if found is not None:
            return found
    return _OK


def assess_probe(fetched: FetchResult, extraction: Extraction | None, probe: ProbeAnswer) -> Health:
    """``assess(fetched, extraction, probe=probe)`` for a page that ``assess(fetched, extraction)``
    found ok already: the probe's rule alone, the others not run again."""
    return _same_as_random_path(_read(fetched, extraction), probe) or _OK
