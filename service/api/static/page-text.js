// Pure helpers of the web page: no DOM, no network, so each can be checked on its own.
//
// Reports carry text from hostile posts and pages. Nothing here builds HTML: the renderer inserts
// every string as a text node, and only http(s) addresses ever become links.

// Control characters (not tab or newline), DEL, C1, lone surrogates and the bidi controls that
// reorder text on screen: shown as visible escapes, as the server's HTML report does.
const UNSAFE =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const UNSAFE_ANY = new RegExp(UNSAFE.source);

/** Untrusted text with its invisible trouble-makers shown as \xNN or \uNNNN. */
export function visible(text) {
  return String(text ?? "").replace(UNSAFE, (ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Untrusted text for one line: whitespace collapsed, controls visible. */
export function oneLine(text) {
  return visible(String(text ?? "").split(/\s+/).filter(Boolean).join(" "));
}

/** The address itself when it is an absolute http(s) URL; null for anything else (javascript:, data:). */
export function httpUrl(url) {
  if (typeof url !== "string" || !/^https?:\/\//i.test(url) || UNSAFE_ANY.test(url)) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * Offsets in code points (the server's, Python's) turned into offsets in UTF-16 units (JavaScript's).
 * Returns an array `map` with `map[cp]` = the UTF-16 index of code point `cp`, for 0..count inclusive.
 */
export function codePointIndex(text) {
  const map = [0];
  let unit = 0;
  for (const ch of text) {
    unit += ch.length;
    map.push(unit);
  }
  return map;
}

/**
 * The post cut into pieces: plain text, and the passages of `quotes` by their `post_span`.
 * Spans outside the text are dropped, overlapping ones cut back, so every character shows once.
 * Each piece is {start, end, quote} in UTF-16 units; `quote` is the index into `quotes` or null.
 */
export function segments(text, quotes) {
  const map = codePointIndex(text);
  const last = map.length - 1;
  const spans = [];
  quotes.forEach((quote, index) => {
    const span = quote && quote.post_span;
    if (!Array.isArray(span) || span.length !== 2) return;
    const [a, b] = span;
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b > last || a >= b) return;
    spans.push({ start: map[a], end: map[b], quote: index });
  });
  spans.sort((x, y) => x.start - y.start || y.end - x.end);
  const pieces = [];
  let at = 0;
  for (const span of spans) {
    const start = Math.max(span.start, at);
    if (start >= span.end) continue;
    if (start > at) pieces.push({ start: at, end: start, quote: null });
    pieces.push({ start, end: span.end, quote: span.quote });
    at = span.end;
  }
  if (at < text.length) pieces.push({ start: at, end: text.length, quote: null });
  return pieces;
}

/**
 * A word diff in reading order: equal words, source words the post dropped (delete), post words the
 * source lacks (insert). A replace is a delete then an insert; whitespace inside a piece collapses.
 */
export function diffPieces(diff) {
  const pieces = [];
  for (const part of Array.isArray(diff) ? diff : []) {
    const post = String(part?.post ?? "");
    const source = String(part?.source ?? "");
    if (part?.op === "equal") {
      pieces.push({ op: "equal", text: post || source });
      continue;
    }
    if (part?.op === "delete" || part?.op === "replace") pieces.push({ op: "delete", text: source });
    if (part?.op === "insert" || part?.op === "replace") pieces.push({ op: "insert", text: post });
  }
  return pieces
    .map((p) => ({ op: p.op, text: p.text.split(/\s+/).filter(Boolean).join(" ") }))
    .filter((p) => p.text);
}

/** The kinds of passage the page tells apart, in the legend's order: colour, icon and label. */
export const GROUPS = {
  faithful: { icon: "✓", label: "faithful", help: "the source's words (verbatim, cosmetic or elided)" },
  altered: { icon: "≠", label: "altered", help: "words inserted, deleted or replaced" },
  misattributed: { icon: "⇄", label: "misattributed", help: "found in another cited page" },
  not_found: { icon: "✗", label: "not found", help: "a quote in none of the cited pages" },
  source_changed: { icon: "↻", label: "source changed", help: "matches the page as it was, not as it is" },
  unverifiable: { icon: "?", label: "unverifiable", help: "its page could not be read" },
  own_words: { icon: "✎", label: "own words", help: "unquoted text found nowhere: the poster's own" },
};

const FAITHFUL = new Set(["verbatim", "cosmetic", "elided"]);

/** Which group a quote belongs to. An unmarked passage found nowhere is the poster's own words. */
export function quoteGroup(quote) {
  const status = quote?.status;
  if (FAITHFUL.has(status)) return "faithful";
  if (status === "not_found") return quote.explicit || quote.flagged ? "not_found" : "own_words";
  return Object.hasOwn(GROUPS, status) ? status : "unverifiable";
}

const STATUS_TEXT = {
  verbatim: "The same words as the source.",
  cosmetic: "The same words as the source; only typography differs (quote marks, dashes, case, spacing).",
  elided: "Pieces of the source in order, the gaps marked.",
  altered: "Words were inserted, deleted or replaced: the diff below shows how.",
  misattributed: "Found, but in another page the post cites, not the one it stands under.",
  not_found: "In none of the pages the post cites.",
  source_changed: "Matches the page as it was when the post was written, not the page as it is now.",
  unverifiable: "Its page could not be read, so the passage could not be checked.",
};

/** A sentence saying what a quote's status means. */
export function statusText(quote) {
  if (quoteGroup(quote) === "own_words") {
    return "Not marked as a quote and found in none of the cited pages: the poster's own words.";
  }
  return STATUS_TEXT[quote?.status] ?? `Status: ${oneLine(quote?.status)}.`;
}

const REASON_TEXT = {
  number_changed: "a number was changed",
  negation_changed: "a negation was added or removed",
  name_changed: "a name was changed",
  words_replaced: "words were replaced",
  words_inserted: "words were inserted",
  words_deleted: "words were deleted",
  spliced: "pieces of different places were joined",
  reordered: "words were put in another order",
  extended: "the passage goes on past the source's words",
  misleading_elision: "a gap leaves out words that change the meaning",
  bracketed_substitution: "a bracketed substitution (cosmetic)",
};

/** A reason code in words (unknown codes are shown as they are). */
export function reasonText(reason) {
  return REASON_TEXT[reason] ?? oneLine(String(reason ?? "").replaceAll("_", " "));
}

/** A status or reason code for reading: underscores become spaces. */
export function label(code) {
  return oneLine(String(code ?? "").replaceAll("_", " "));
}

/** The progress line: "3 of 5 sources read, 4 quotes judged". */
export function progressLine({ sources, sourcesRead, quotesJudged }) {
  const of = Number.isInteger(sources) ? ` of ${sources}` : "";
  const s = sources === 1 ? "source" : "sources";
  const q = quotesJudged === 1 ? "quote" : "quotes";
  return `${sourcesRead}${of} ${s} read, ${quotesJudged} ${q} judged`;
}

function zoneOffsetMs(utcMs, timeZone) {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const p = Object.fromEntries(format.formatToParts(new Date(utcMs)).map((x) => [x.type, x.value]));
  const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
  return wall - Math.floor(utcMs / 1000) * 1000;
}

/**
 * A `datetime-local` value read as wall-clock time in an IANA time zone, as ISO-8601 UTC
 * ("2023-12-10T14:23:38Z"); null when the value or the zone cannot be read.
 */
export function zonedToUtc(local, timeZone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(String(local ?? ""));
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0));
  if (Number.isNaN(wall)) return null;
  try {
    // Twice: the zone's offset at the first guess may differ from the one at the answer (DST).
    const guess = wall - zoneOffsetMs(wall, timeZone);
    const utc = wall - zoneOffsetMs(guess, timeZone);
    return new Date(utc).toISOString().replace(/\.\d{3}Z$/, "Z");
  } catch {
    return null;
  }
}

/** The input format a file's name suggests, or null. */
export function formatForFile(name) {
  const ext = String(name ?? "").toLowerCase().split(".").pop();
  return { txt: "text", md: "markdown", markdown: "markdown", html: "html", htm: "html" }[ext] ?? null;
}
