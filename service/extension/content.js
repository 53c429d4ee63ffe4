// Injected on demand (after a menu, shortcut or toolbar click): reads the post under the cursor or
// the selection, marks each judged passage in the page, and shows details in a panel of its own
// (a shadow root, so the page's styles do not reach it). It never sees the API key: the background
// script makes every request. Report strings become text nodes, never markup.
"use strict";

(() => {
  if (globalThis.__provenanceContent) return;
  globalThis.__provenanceContent = true;

  const LEGEND = globalThis.PROVENANCE_LEGEND;
  const POSTS = [
    "article", "[role='article']", "[itemtype*='Comment']", "[itemtype*='SocialMediaPosting']",
    ".post", ".comment", ".message", ".postMessage", ".post-body", ".tweet",
  ].join(", ");
  const BLOCKS = new Set(["ADDRESS", "ARTICLE", "ASIDE", "BLOCKQUOTE", "DD", "DIV", "DL", "DT", "FIELDSET",
    "FIGCAPTION", "FIGURE", "FOOTER", "FORM", "H1", "H2", "H3", "H4", "H5", "H6", "HEADER", "HR", "LI", "MAIN",
    "NAV", "OL", "P", "PRE", "SECTION", "TABLE", "TR", "UL"]);
  const PARAGRAPHS = new Set(["BLOCKQUOTE", "P", "PRE", "TABLE", "UL", "OL", "H1", "H2", "H3", "H4", "H5", "H6"]);
  const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "BUTTON", "IFRAME", "TEXTAREA", "INPUT",
    "SELECT", "svg", "SVG"]);
  const MAX_HTML_CHARS = 5 * 1024 * 1024;

  const state = { post: null, marks: new Map(), report: null, quote: null, apiBase: "" };

  // ---------------------------------------------------------------- reading the post as Markdown

  const httpUrl = (value) => {
    try {
      const url = new URL(String(value), document.baseURI);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  };
  const squash = (text) => String(text ?? "").replace(/\s+/g, " ").trim();
  const withoutHash = (url) => String(url).split("#")[0];
  const looksLikeAddress = (text) =>
    /^(https?:\/\/)?[\w-]+(\.[\w-]+)+(\/\S*)?$/i.test(text) || /^(https?:\/\/)?\S+…$/.test(text);

  /** Markdown text built character by character, each character tied to the text node it came from. */
  class Writer {
    constructor(range) {
      this.range = range;
      this.chars = [];
      this.map = [];
      this.want = 0;
      this.depth = 0;
      this.lineStart = true;
      this.links = 0;
    }

    put(ch, entry) {
      if (/\s/.test(ch) && ch !== "\u00a0") {
        if (this.lineStart || this.chars.length === 0 || this.chars.at(-1) === " ") return;
        this.chars.push(" ");
        this.map.push(entry);
        return;
      }
      if (this.want > 0 && this.chars.length > 0) {
        while (this.chars.at(-1) === " ") {
          this.chars.pop();
          this.map.pop();
        }
        let have = 0;
        for (let i = this.chars.length - 1; i >= 0 && this.chars[i] === "\n"; i -= 1) have += 1;
        for (; have < this.want; have += 1) {
          this.chars.push("\n");
          this.map.push(null);
        }
        this.lineStart = true;
      }
      this.want = 0;
      if (this.lineStart && this.depth > 0) {
        for (const c of "> ".repeat(this.depth)) {
          this.chars.push(c);
          this.map.push(null);
        }
      }
      this.chars.push(ch);
      this.map.push(entry);
      this.lineStart = false;
    }

    synthetic(text) {
      for (const ch of text) for (const unit of ch) this.put(unit, null);
    }

    lineBreak(n) {
      this.want = Math.max(this.want, n);
    }

    text(node) {
      let start = 0;
      let end = node.data.length;
      if (this.range) {
        if (!this.range.intersectsNode(node)) return;
        if (node === this.range.startContainer) start = this.range.startOffset;
        if (node === this.range.endContainer) end = this.range.endOffset;
      }
      for (let i = start; i < end; i += 1) this.put(node.data[i], { node, offset: i });
    }

    walk(node) {
      if (node.nodeType === Node.TEXT_NODE) return this.text(node);
      if (node.nodeType !== Node.ELEMENT_NODE || SKIP.has(node.tagName) || node.id === PANEL_ID) return;
      if (node.tagName === "BR") return this.lineBreak(1);
      const block = BLOCKS.has(node.tagName);
      if (block) this.lineBreak(PARAGRAPHS.has(node.tagName) ? 2 : 1);
      if (node.tagName === "BLOCKQUOTE") this.depth += 1;
      const href = node.tagName === "A" ? httpUrl(node.getAttribute("href")) : null;
      if (href && (!this.range || this.range.intersectsNode(node))) {
        this.links += 1;
        const shown = squash(node.textContent);
        if (shown === href || withoutHash(shown) === withoutHash(href)) {
          for (const child of node.childNodes) this.walk(child);
        } else if (!shown || looksLikeAddress(shown)) {
          this.synthetic(` ${href} `);
        } else {
          this.synthetic("[");
          for (const child of node.childNodes) this.walk(child);
          this.synthetic(`](${href})`);
        }
      } else {
        for (const child of node.childNodes) this.walk(child);
      }
      if (node.tagName === "BLOCKQUOTE") this.depth -= 1;
      if (block) this.lineBreak(PARAGRAPHS.has(node.tagName) ? 2 : 1);
    }

    result() {
      const text = this.chars.join("");
      const units = [];
      let unit = 0;
      for (const ch of text) {
        units.push(unit);
        unit += ch.length;
      }
      units.push(unit);
      const byNode = new Map();
      for (const entry of this.map) {
        if (!entry) continue;
        if (!byNode.has(entry.node)) byNode.set(entry.node, []);
        byNode.get(entry.node).push(entry);
      }
      return { text, map: this.map, units, byNode, links: this.links };
    }
  }

  function postUnder(element) {
    if (!element || element === document.body || element === document.documentElement) return null;
    const known = element.closest(POSTS);
    if (known) return known;
    for (let el = element; el && el !== document.body; el = el.parentElement) {
      if (el.querySelector("a[href]") && squash(el.textContent).length >= 80) return el;
    }
    return null;
  }

  function hovered() {
    const all = document.querySelectorAll(":hover");
    return all.length ? all[all.length - 1] : null;
  }

  function selectedRange() {
    const selection = getSelection();
    if (!selection || selection.isCollapsed || selection.rangeCount === 0) return null;
    if (!squash(selection.toString())) return null;
    return selection.getRangeAt(0).cloneRange();
  }

  function collectPost() {
    clearMarks();
    const range = selectedRange();
    let root = range ? range.commonAncestorContainer : postUnder(hovered());
    if (!root) {
      const posts = [...document.querySelectorAll(POSTS)].filter((p) => !p.parentElement?.closest(POSTS));
      if (posts.length === 1) root = posts[0];
    }
    if (!root) {
      return fail("no_post", "No post found here: point at a post, or select its text, and try again.");
    }
    if (root.nodeType === Node.TEXT_NODE) root = root.parentNode;
    const writer = new Writer(range);
    writer.walk(root);
    const post = writer.result();
    if (!post.text.trim()) return fail("empty", "The post has no text to check.");
    if (post.links === 0) {
      outline(root);
      return fail("no_links", "This post cites no link: there is no page to check its quotes against.");
    }
    state.post = post;
    state.report = null;
    outline(root);
    panel().progress(`Reading the post: ${post.links} link${post.links === 1 ? "" : "s"} found.`);
    return { ok: true, text: post.text, links: post.links };
  }

  function fail(code, message) {
    panel().error(code, message);
    return { ok: false, code, message, shown: true };
  }

  function outline(root) {
    document.querySelectorAll("[data-provenance-post]").forEach((el) => el.removeAttribute("data-provenance-post"));
    root.setAttribute("data-provenance-post", "");
  }

  // ------------------------------------------------------------------------- marking passages

  function split(post, node, offset) {
    const tail = node.splitText(offset);
    const kept = [];
    const moved = [];
    for (const entry of post.byNode.get(node) ?? []) {
      if (entry.offset >= offset) {
        entry.node = tail;
        entry.offset -= offset;
        moved.push(entry);
      } else {
        kept.push(entry);
      }
    }
    post.byNode.set(node, kept);
    post.byNode.set(tail, moved);
    return tail;
  }

  /** Wrap the characters of `entries` (consecutive in the text) in spans, one per text node run. */
  function wrapEntries(post, entries) {
    const runs = [];
    for (const entry of entries) {
      const last = runs.at(-1);
      if (last && last.at(-1).node === entry.node && last.at(-1).offset + 1 === entry.offset) last.push(entry);
      else runs.push([entry]);
    }
    const spans = [];
    for (const run of runs) {
      let node = run[0].node;
      if (run[0].offset > 0) node = split(post, node, run[0].offset);
      const length = run.at(-1).offset - run[0].offset + 1;
      if (length < node.data.length) split(post, node, length);
      const span = document.createElement("span");
      node.parentNode.replaceChild(span, node);
      span.append(node);
      spans.push(span);
    }
    return spans;
  }

  function decorate(spans, index, quote, onOpen) {
    const group = LEGEND.group(quote);
    const g = LEGEND.groups[group];
    spans.forEach((span, i) => {
      span.className = "provenance-mark";
      span.dataset.provenanceGroup = group;
      span.dataset.provenanceStatus = String(quote.status ?? "");
      span.dataset.provenanceQuote = String(index);
      span.title = `Provenance: ${g.icon} ${g.label} (click for details)`;
      if (i === 0) {
        span.tabIndex = 0;
        span.setAttribute("role", "button");
        span.setAttribute("aria-label", `${g.label}: show what Provenance found`);
      }
      if (!span.dataset.provenanceBound) {
        span.dataset.provenanceBound = "1";
        span.addEventListener("click", (event) => {
          event.preventDefault();
          event.stopPropagation();
          onOpen();
        });
        span.addEventListener("keydown", (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            onOpen();
          }
        });
      }
    });
  }

  function markQuote(index, quote) {
    const post = state.post;
    if (!post || !quote || !Array.isArray(quote.post_span)) return false;
    let spans = state.marks.get(index);
    if (!spans) {
      const [start, end] = quote.post_span.map((cp) => post.units[Math.min(cp, post.units.length - 1)]);
      const entries = post.map.slice(start, end).filter(Boolean);
      if (!entries.length) return false;
      spans = wrapEntries(post, entries);
      state.marks.set(index, spans);
    }
    decorate(spans, index, quote, () => panel().details(quote, state.report, index));
    return true;
  }

  function clearMarks() {
    for (const span of document.querySelectorAll(".provenance-mark")) {
      const parent = span.parentNode;
      span.replaceWith(...span.childNodes);
      parent?.normalize();
    }
    state.marks.clear();
    state.post = null;
  }

  function showReport(report, job, apiBase) {
    state.report = report;
    state.apiBase = apiBase;
    const quotes = Array.isArray(report.quotes) ? report.quotes : [];
    let placed = 0;
    quotes.forEach((quote, index) => {
      if (markQuote(index, quote)) placed += 1;
    });
    panel().summary(report, placed, job, apiBase);
  }

  // ----------------------------------------------------------------------------- one quote

  function linkNear(range) {
    const start = range.startContainer.nodeType === Node.ELEMENT_NODE
      ? range.startContainer : range.startContainer.parentElement;
    const inside = start?.closest("a[href]");
    if (inside && httpUrl(inside.getAttribute("href"))) return httpUrl(inside.getAttribute("href"));
    const container = postUnder(start);
    if (!container) return null;
    const links = [...container.querySelectorAll("a[href]")].filter((a) => httpUrl(a.getAttribute("href")));
    const after = links.find((a) => range.comparePoint(a, 0) > 0);
    const before = links.filter((a) => range.comparePoint(a, 0) < 0).at(-1);
    const chosen = after ?? before;
    return chosen ? httpUrl(chosen.getAttribute("href")) : null;
  }

  function collectQuote(url) {
    const range = selectedRange();
    if (!range && !(state.quote && url)) {
      return fail("no_selection", "Select the sentence you want to check, then try again.");
    }
    const given = url ? httpUrl(url) : null;
    if (url && !given) return fail("bad_url", `Not a web address: ${url}`);
    const target = given ?? (range && linkNear(range)) ?? withoutHash(location.href);
    if (range) {
      const text = squash(range.toString());
      clearQuoteMark();
      const writer = new Writer(range);
      writer.walk(range.commonAncestorContainer.nodeType === Node.TEXT_NODE
        ? range.commonAncestorContainer.parentNode : range.commonAncestorContainer);
      const post = writer.result();
      const spans = wrapEntries(post, post.map.filter(Boolean));
      state.quote = { text, spans, url: null };
      getSelection()?.removeAllRanges();
    }
    state.quote.url = target;
    const answer = { ok: true, quote: state.quote.text, url: target };
    if (withoutHash(target) === withoutHash(location.href)) {
      const html = document.documentElement.outerHTML;
      if (html.length <= MAX_HTML_CHARS) answer.html = html;
    }
    return answer;
  }

  function clearQuoteMark() {
    for (const span of state.quote?.spans ?? []) {
      if (!span.isConnected) continue;
      const parent = span.parentNode;
      span.replaceWith(...span.childNodes);
      parent?.normalize();
    }
    state.quote = null;
  }

  function showQuoteResult(answer, url, sentHtml) {
    if (state.quote) decorate(state.quote.spans, "quote", answer, () => panel().quote(answer, url, sentHtml));
    panel().quote(answer, url, sentHtml);
  }

  // ---------------------------------------------------------------------------------- panel

  const PANEL_ID = "provenance-extension-panel";
  const PANEL_CSS = `
    :host { all: initial; position: fixed; top: 12px; right: 12px; z-index: 2147483647; width: 380px;
      max-width: calc(100vw - 24px); max-height: calc(100vh - 24px); overflow: auto; display: block;
      font: 14px/1.45 system-ui, sans-serif; color: #1f2328; background: #fff; border: 1px solid #d0d7de;
      border-radius: 8px; box-shadow: 0 8px 24px rgba(0,0,0,.2); }
    header { display: flex; justify-content: space-between; align-items: center; padding: 8px 12px;
      background: #f6f8fa; border-bottom: 1px solid #d0d7de; font-weight: 600; }
    button { font: inherit; cursor: pointer; }
    .close { border: 0; background: transparent; font-size: 18px; line-height: 1; }
    section { padding: 8px 12px; }
    .status { margin: 0; }
    .error { color: #82071e; background: #ffebe9; border: 1px solid #ff818266; border-radius: 6px; padding: 8px; }
    h2 { font-size: 15px; margin: 4px 0 8px; }
    ul { margin: 4px 0; padding-left: 18px; }
    .legend { list-style: none; padding: 0; }
    .swatch { display: inline-block; width: 22px; margin-right: 6px; border-bottom-width: 3px; vertical-align: middle; }
    .diff { background: #f6f8fa; border-radius: 6px; padding: 6px 8px; white-space: pre-wrap; }
    del { background: #ffebe9; color: #82071e; text-decoration: line-through; }
    ins { background: #dafbe1; color: #116329; text-decoration: underline; }
    dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 8px; margin: 6px 0; }
    dt { color: #59636e; } dd { margin: 0; overflow-wrap: anywhere; }
    a { color: #0969da; }
    form { display: flex; gap: 6px; margin-top: 8px; } input { flex: 1; font: inherit; min-width: 0; }
    .evidence { font-weight: 600; }
  `;

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined) continue;
      if (name === "class") node.className = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function link(url, text) {
    const href = httpUrl(url);
    if (!href) return el("span", {}, text ?? String(url ?? ""));
    const a = el("a", { rel: "noopener noreferrer", target: "_blank" }, text ?? href);
    a.href = href;
    return a;
  }

  function swatch(group) {
    const g = LEGEND.groups[group];
    const s = el("span", { class: "swatch", "aria-hidden": "true" });
    s.style.borderBottomStyle = g.line === "wavy" ? "dashed" : g.line;
    s.style.borderBottomColor = g.color;
    return s;
  }

  function diffView(diff) {
    const box = el("p", { class: "diff" });
    for (const op of Array.isArray(diff) ? diff : []) {
      if (op.op === "equal") box.append(String(op.post ?? ""), " ");
      if ((op.op === "delete" || op.op === "replace") && op.source) box.append(el("del", {}, String(op.source)), " ");
      if ((op.op === "insert" || op.op === "replace") && op.post) box.append(el("ins", {}, String(op.post)), " ");
    }
    return box;
  }

  function sourceRows(source) {
    if (!source) return [];
    const rows = [["Source", source.title ? String(source.title) : link(source.url)],
      ["Status", source.reason ? `${source.status} (${source.reason})` : String(source.status ?? "?")],
      ["Cited URL", link(source.url)]];
    const warc = source.archive?.warc;
    if (warc && typeof warc === "object") {
      rows.push(["WARC capture", `${warc.file ?? "?"} @${warc.offset ?? "?"}${warc.captured_at
        ? ` (captured ${warc.captured_at})` : ""}`]);
    }
    const wayback = source.archive?.wayback;
    if (wayback && typeof wayback === "object") {
      rows.push(["Wayback capture", wayback.url ? link(wayback.url, `${wayback.status} ${wayback.timestamp ?? ""}`)
        : String(wayback.status ?? "?")]);
    }
    if (source.at_post?.archive_url) rows.push(["At post time", link(source.at_post.archive_url)]);
    return rows;
  }

  function rows(pairs) {
    return el("dl", {}, pairs.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }

  function quoteDetails(quote, source) {
    const group = LEGEND.group(quote);
    const g = LEGEND.groups[group];
    const parts = [el("h2", { class: `group-${group}` }, swatch(group), `${g.icon} ${g.label}`),
      el("p", { class: "help" }, `${g.help}.`)];
    const reasons = Array.isArray(quote.reasons) ? quote.reasons : [];
    if (reasons.length) parts.push(el("ul", { class: "reasons" }, reasons.map((r) => el("li", {}, LEGEND.reasons[r] ?? String(r)))));
    if (Array.isArray(quote.diff) && quote.diff.some((op) => op.op !== "equal")) parts.push(diffView(quote.diff));
    parts.push(rows(sourceRows(source)));
    const fragment = httpUrl(quote.source?.text_fragment_url);
    if (fragment) {
      const a = link(fragment, "Open the cited page at this passage");
      a.className = "fragment";
      parts.push(el("p", {}, a));
    }
    return parts;
  }

  let panelApi = null;
  function panel() {
    if (panelApi && panelApi.host.isConnected) return panelApi;
    const host = el("div", { id: PANEL_ID });
    const root = host.attachShadow({ mode: "open" });
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(PANEL_CSS);
      root.adoptedStyleSheets = [sheet];
    } catch {
      root.append(el("style", {}, PANEL_CSS));
    }
    const close = el("button", { class: "close", type: "button", "aria-label": "Close" }, "×");
    close.addEventListener("click", () => host.remove());
    const status = el("p", { class: "status", role: "status", "aria-live": "polite" });
    const body = el("section", { class: "body" });
    root.append(el("header", {}, "Provenance", close), el("section", {}, status), body);
    document.documentElement.append(host);
    const show = (...nodes) => body.replaceChildren(...nodes.flat(Infinity));
    panelApi = {
      host,
      progress(text) {
        status.className = "status";
        status.textContent = text;
      },
      error(code, text) {
        status.className = "status error";
        status.dataset.code = code ?? "";
        status.textContent = text;
        show();
      },
      summary(report, placed, job, apiBase) {
        const quotes = Array.isArray(report.quotes) ? report.quotes : [];
        const counts = {};
        for (const q of quotes) counts[LEGEND.group(q)] = (counts[LEGEND.group(q)] ?? 0) + 1;
        if (report.verdict === "no_citations") {
          this.error("no_links", "The API found no cited link in this post: there is no page to check its quotes against.");
          return;
        }
        status.className = "status";
        status.textContent = `Verdict: ${String(report.verdict).toUpperCase()}: ${quotes.length} passages checked.`;
        const items = Object.entries(counts).map(([group, n]) =>
          el("li", { "data-group": group }, swatch(group), `${LEGEND.groups[group].icon} ${n} ${LEGEND.groups[group].label}`));
        const extra = [];
        if (placed < quotes.length) extra.push(el("p", {}, `${quotes.length - placed} passages could not be placed in the page.`));
        const sources = Array.isArray(report.sources) ? report.sources : [];
        const full = httpUrl(`${apiBase}/?job=${encodeURIComponent(job)}`);
        show(el("ul", { class: "legend" }, items), extra,
          el("p", {}, `${sources.filter((s) => s.status === "ok").length} of ${sources.length} sources read. `,
            "Click an underlined passage for its details."),
          full ? el("p", {}, link(full, "The full report on the API's page")) : null);
      },
      details(quote, report, index) {
        const sources = Array.isArray(report?.sources) ? report.sources : [];
        const url = quote.source?.url ?? quote.cited_url;
        const source = sources.find((s) => s.url === url) ?? null;
        status.className = "status";
        status.textContent = `Passage ${Number(index) + 1}${report ? ` of ${report.quotes.length}` : ""}`;
        show(el("div", { class: "details" }, quoteDetails(quote, source)));
      },
      quote(answer, url, sentHtml) {
        status.className = "status";
        status.textContent = `The quote, checked against ${url}`;
        const evidence = answer.evidence === "client"
          ? "Rests on your browser's copy of the page (sent with the request), not on one the server fetched."
          : "Rests on the page as the server fetched it.";
        const source = { url, status: answer.source_status, title: null, archive: null };
        const input = el("input", { type: "url", name: "url", "aria-label": "Another address to check against",
          placeholder: "another page's address" });
        input.value = url;
        const again = el("form", {}, input, el("button", { type: "submit" }, "Check against this address"));
        again.addEventListener("submit", (event) => {
          event.preventDefault();
          chrome.runtime.sendMessage({ type: "run", command: "check-quote", url: input.value });
        });
        show(el("div", { class: "details" }, quoteDetails(answer, source),
          el("p", { class: "evidence", "data-evidence": String(answer.evidence) }, evidence),
          sentHtml && answer.evidence !== "client"
            ? el("p", {}, "Your copy of the page was sent too, but the server's own copy settled it.") : null,
          again));
      },
    };
    return panelApi;
  }

  chrome.runtime.onMessage.addListener((message, sender, reply) => {
    if (sender.id !== chrome.runtime.id || !message) return false;
    switch (message.type) {
      case "collect-post":
        reply(collectPost());
        break;
      case "collect-quote":
        reply(collectQuote(message.url));
        break;
      case "progress":
        panel().progress(String(message.text));
        break;
      case "quote":
        if (Number.isInteger(message.index)) markQuote(message.index, message.quote);
        break;
      case "report":
        showReport(message.report, message.job, String(message.apiBase ?? ""));
        break;
      case "quote-result":
        showQuoteResult(message.answer, String(message.url), Boolean(message.sentHtml));
        break;
      case "error":
        panel().error(message.code, String(message.text));
        break;
      default:
        return false;
    }
    return false;
  });
})();
