// DOM builders of the web page. Every string from a report goes in as a text node; links are made
// only for http(s) addresses (from reports) or for this site's own paths.

import {
  GROUPS,
  diffPieces,
  httpUrl,
  label,
  oneLine,
  quoteGroup,
  reasonText,
  segments,
  statusText,
  visible,
} from "./page-text.js";

/** An element with attributes and children; strings become text nodes, never markup. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (/^on/i.test(name) || name === "style" || name === "href" || name === "src") {
      throw new Error(`el(): ${name} is not set this way`);
    }
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A link to an outside page when `url` is http(s); otherwise the address as inert text. */
export function outLink(url, text) {
  const shown = oneLine(text ?? url ?? "");
  const href = httpUrl(url);
  if (!href) return el("span", { class: "url" }, shown);
  const a = el("a", { rel: "noopener noreferrer", target: "_blank", class: "url" }, shown);
  a.href = href;
  return a;
}

/** Point one of the page's own links at a path of this site. */
export function setLocalHref(link, path) {
  if (!/^\/(?!\/)/.test(path)) throw new Error(`not a local path: ${path}`);
  link.href = path;
}

function badge(group, extra = "") {
  const g = GROUPS[group];
  return el(
    "span",
    { class: `badge g-${group}` },
    el("span", { class: "icon", "aria-hidden": "true" }, g.icon),
    ` ${g.label}${extra}`,
  );
}

/** The legend: every kind of passage with its colour, icon and label, and how many the post has. */
export function renderLegend(list, quotes) {
  const counts = {};
  for (const quote of quotes) if (quote) counts[quoteGroup(quote)] = (counts[quoteGroup(quote)] ?? 0) + 1;
  list.replaceChildren(
    ...Object.entries(GROUPS).map(([group, g]) =>
      el("li", {}, badge(group, counts[group] ? ` (${counts[group]})` : ""), el("span", { class: "help" }, g.help)),
    ),
  );
}

/**
 * The post with each passage highlighted in place: a focusable button-like span that says its
 * status in words as well as colour. `quotes` may have holes while a verification runs.
 */
export function renderPost(view, text, quotes, selected) {
  const pieces = segments(text, quotes);
  const nodes = pieces.map((piece) => {
    const slice = visible(text.slice(piece.start, piece.end));
    if (piece.quote === null) return document.createTextNode(slice);
    const quote = quotes[piece.quote];
    const group = quoteGroup(quote);
    const g = GROUPS[group];
    return el(
      "span",
      {
        class: `passage g-${group}${quote.flagged ? " flagged" : ""}`,
        role: "button",
        tabindex: "0",
        id: `passage-${piece.quote}`,
        "data-index": String(piece.quote),
        "data-status": quote.status,
        "aria-controls": "details",
        "aria-expanded": piece.quote === selected ? "true" : "false",
      },
      el("span", { class: "tag" }, el("span", { class: "icon", "aria-hidden": "true" }, g.icon), ` ${g.label}`),
      " ",
      el("span", { class: "words" }, slice),
    );
  });
  view.replaceChildren(...nodes);
}

/** When the post's own text is not known (a permalink opened elsewhere): its passages, gaps marked. */
export function reconstructedPost(quotes) {
  let text = "";
  const placed = [];
  const order = quotes
    .map((quote, index) => ({ quote, index }))
    .filter((x) => x.quote && Array.isArray(x.quote.post_span))
    .sort((a, b) => a.quote.post_span[0] - b.quote.post_span[0]);
  for (const { quote, index } of order) {
    if (text) text += "\n[…]\n";
    const start = [...text].length;
    const body = String(quote.text ?? "");
    text += body;
    placed[index] = { ...quote, post_span: [start, start + [...body].length] };
  }
  return { text, quotes: placed };
}

function row(term, ...value) {
  const shown = value.filter((v) => v !== null && v !== undefined && v !== "");
  return shown.length ? [el("dt", {}, term), el("dd", {}, ...shown)] : [];
}

function diffView(quote) {
  const pieces = diffPieces(quote.diff);
  if (!pieces.some((p) => p.op !== "equal")) return null;
  const out = [];
  pieces.forEach((piece, i) => {
    if (i > 0) out.push(" ");
    if (piece.op === "equal") out.push(piece.text);
    else if (piece.op === "delete") {
      out.push(el("del", {}, el("span", { class: "sr-only" }, "[source had: "), piece.text, el("span", { class: "sr-only" }, "]")));
    } else {
      out.push(el("ins", {}, el("span", { class: "sr-only" }, "[post has: "), piece.text, el("span", { class: "sr-only" }, "]")));
    }
  });
  return [
    el("h3", {}, "What changed"),
    el(
      "p",
      { class: "diff-key" },
      el("del", {}, "struck out"),
      ": in the source, not in the post; ",
      el("ins", {}, "underlined"),
      ": in the post, not in the source.",
    ),
    el("p", { class: "diff" }, out),
  ];
}

/** The details of one passage: status, reasons, diff, its source and the link to the passage there. */
export function renderDetails(heading, body, quote, index, total, sources) {
  const group = quoteGroup(quote);
  heading.replaceChildren(`Passage ${index + 1} of ${total}: `, badge(group));
  // The page the passage was found in (for a misattributed one, not the cited page), else the cited one.
  const byUrl = (url) => (url ? sources.find((s) => s && (s.url === url || s.final_url === url)) : null);
  const source = byUrl(quote.source?.url) ?? byUrl(quote.cited_url) ?? null;
  const fragment = httpUrl(quote.source?.text_fragment_url);
  const foundIn = quote.found_in ?? (quote.status === "misattributed" ? quote.source?.url : null);
  const parts = [
    el("p", { class: "status-text" }, statusText(quote), ` (status: ${label(quote.status)}`,
      typeof quote.score === "number" ? `, score ${quote.score.toFixed(2)})` : ")"),
    el("blockquote", { class: "passage-text" }, visible(quote.text)),
  ];
  if (Array.isArray(quote.reasons) && quote.reasons.length) {
    parts.push(el("h3", {}, "Why"), el("ul", { class: "reasons" }, quote.reasons.map((r) => el("li", {}, reasonText(r)))));
  }
  parts.push(diffView(quote));
  const facts = [
    ...row("Cited page", quote.cited_url ? outLink(quote.cited_url) : "none"),
    ...row("Found in", foundIn && foundIn !== quote.cited_url ? outLink(foundIn) : null),
  ];
  if (source) {
    facts.push(
      ...row("Source title", oneLine(source.title) || "(no title)"),
      ...row("Source status", sourceStatus(source)),
    );
  }
  if (quote.source) {
    facts.push(...row("Matched in", `the ${quote.source.text === "page" ? "whole page's" : "article's"} text`,
      Array.isArray(quote.source.span) ? `, characters ${quote.source.span[0]}–${quote.source.span[1]}` : ""));
  }
  parts.push(el("h3", {}, "Source"), el("dl", { class: "facts" }, facts));
  if (fragment) {
    const link = outLink(fragment, "Open the cited page at this passage");
    link.classList.add("fragment");
    parts.push(el("p", {}, link));
  }
  body.replaceChildren(...parts.flat().filter(Boolean));
}

function sourceStatus(source) {
  const status = source.status === "ok" ? "✓ ok" : `✗ ${label(source.status)}`;
  return el(
    "span",
    {},
    el("span", { class: `badge s-${source.status === "ok" ? "ok" : "bad"}` }, status),
    source.reason ? ` ${reasonText(source.reason)}` : "",
    Number.isInteger(source.http_status) ? ` (HTTP ${source.http_status})` : "",
  );
}

function evidence(source) {
  const out = [];
  const warc = source.archive?.warc;
  if (warc && typeof warc === "object") {
    out.push(...row("WARC capture", `${oneLine(warc.file)} @${oneLine(String(warc.offset ?? "?"))}`,
      warc.captured_at ? ` (captured ${oneLine(warc.captured_at)})` : ""));
  }
  const wayback = source.archive?.wayback;
  if (wayback && typeof wayback === "object") {
    const when = wayback.timestamp ? ` ${oneLine(wayback.timestamp)}` : "";
    out.push(...row("Wayback capture", `${label(wayback.status)}${when} `,
      wayback.url ? outLink(wayback.url, "open the capture") : null));
  }
  const atPost = source.at_post;
  if (atPost && typeof atPost === "object") {
    const where = atPost.archive_url ? outLink(atPost.archive_url) : null;
    out.push(...row("At post time", `captured ${oneLine(atPost.captured_at)}`, where ? " in " : "", where));
  }
  return out;
}

/** One source card: title, status and reason, final URL and redirects, captures. */
export function renderSource(source) {
  const redirects = Array.isArray(source.redirects) ? source.redirects : [];
  const hops = redirects.length
    ? el("ol", { class: "hops" }, redirects.map((hop) => el("li", {}, `${oneLine(String(hop?.status ?? ""))} `, outLink(hop?.url))))
    : null;
  const facts = [
    ...row("Status", sourceStatus(source)),
    ...row("Cited URL", outLink(source.url)),
    ...row("Final URL", !source.final_url ? null : source.final_url === source.url ? "the same" : outLink(source.final_url)),
    ...row("Redirects", hops ?? "none"),
    ...row("Author", oneLine(source.author)),
    ...row("Published", oneLine(source.published)),
    ...row("Fetched", oneLine(source.fetched_at)),
    ...evidence(source),
    ...row("SHA-256", source.sha256 ? el("code", {}, oneLine(source.sha256)) : null),
  ];
  return el(
    "article",
    { class: `source ${source.status === "ok" ? "s-ok" : "s-bad"}` },
    el("h3", {}, oneLine(source.title) || oneLine(source.url)),
    el("dl", { class: "facts" }, facts),
  );
}

const VERDICT = {
  verified: { icon: "✓", text: "VERIFIED" },
  flagged: { icon: "✗", text: "FLAGGED" },
  unverifiable: { icon: "?", text: "UNVERIFIABLE" },
  no_citations: { icon: "–", text: "NO CITATIONS" },
};

/** The verdict heading, or "Checking…" while none is known. */
export function renderVerdict(heading, verdict) {
  const v = VERDICT[verdict];
  if (!v) {
    heading.replaceChildren("Checking…");
    return;
  }
  heading.replaceChildren("Verdict: ", el("span", { class: `verdict v-${verdict}` },
    el("span", { class: "icon", "aria-hidden": "true" }, v.icon), ` ${v.text}`));
}

/** "11 passages: 10 faithful, 1 altered · 2 sources, all read" */
export function summaryText(report) {
  const quotes = Array.isArray(report.quotes) ? report.quotes : [];
  const sources = Array.isArray(report.sources) ? report.sources : [];
  const counts = {};
  for (const quote of quotes) counts[quoteGroup(quote)] = (counts[quoteGroup(quote)] ?? 0) + 1;
  const parts = Object.keys(GROUPS).filter((g) => counts[g]).map((g) => `${counts[g]} ${GROUPS[g].label}`);
  const read = sources.filter((s) => s.status === "ok").length;
  const p = quotes.length === 1 ? "passage" : "passages";
  const s = sources.length === 1 ? "source" : "sources";
  const head = `${quotes.length} ${p}${parts.length ? `: ${parts.join(", ")}` : ""}`;
  return `${head} · ${read} of ${sources.length} ${s} read`;
}

/** "posted 2023-12-10T14:23:38Z · checked 2026-12-02T13:43:08Z · provenance 0.1.0" */
export function metaText(report) {
  const parts = [];
  if (report.id) parts.push(`id ${oneLine(report.id)}`);
  if (report.posted_at) parts.push(`posted ${oneLine(report.posted_at)}`);
  if (report.checked_at) parts.push(`checked ${oneLine(report.checked_at)}`);
  if (report.generator?.version) parts.push(`provenance ${oneLine(report.generator.version)}`);
  return parts.join(" · ");
}
