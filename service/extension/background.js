// The extension's background (a service worker in Chromium, an event page in Firefox): menus,
// shortcuts and every call to the provenance API. Only this script reads the API key; pages and the
// content script never see it.
"use strict";

const DEFAULTS = Object.freeze({ apiBase: "http://127.0.0.1:8080", apiKey: "" });
const CONTENT_FILES = ["legend.js", "content.js"];
const MENU = Object.freeze({
  "check-post": "Check this post's quotes with Provenance",
  "check-quote": "Check this quote with Provenance",
});

/** A failure worth a sentence to the user: `code` says which (unreachable, bad_key, rate_limited…). */
class ApiFailure extends Error {
  constructor(code, message, retryAfter = null) {
    super(message);
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

async function settings() {
  const stored = await chrome.storage.local.get(DEFAULTS);
  const base = String(stored.apiBase || DEFAULTS.apiBase).replace(/\/+$/, "");
  return { apiBase: base, apiKey: String(stored.apiKey || "") };
}

function headers(config, extra = {}) {
  const out = { Accept: "application/json", ...extra };
  if (config.apiKey) out["X-API-Key"] = config.apiKey;
  return out;
}

/** When to try again, from a Retry-After header (seconds or an HTTP date): seconds from now. */
function retryAfterSeconds(value) {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, Math.round((when - Date.now()) / 1000));
}

async function failure(response, config) {
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body?.error?.code) code = String(body.error.code);
    if (body?.error?.message) message = String(body.error.message);
  } catch {
    // not JSON: the status line says enough
  }
  if (response.status === 401 || response.status === 403) {
    const why = code === "key_required" ? "this API needs a key" : "the API refused the key";
    return new ApiFailure(code === "key_required" ? "key_required" : "bad_key",
      `${why} (${message}). Set the key in the extension's options.`);
  }
  if (response.status === 429) {
    const wait = retryAfterSeconds(response.headers.get("Retry-After"));
    const when = wait === null ? "later" : `in ${wait} s (at ${new Date(Date.now() + wait * 1000)
      .toLocaleTimeString()})`;
    return new ApiFailure("rate_limited", `Rate-limited by ${config.apiBase}: try again ${when}. ${message}`,
      wait);
  }
  return new ApiFailure(code, `The API answered ${response.status}: ${message}`);
}

async function call(config, path, init = {}) {
  let response;
  try {
    response = await fetch(config.apiBase + path, { ...init, headers: headers(config, init.headers),
      credentials: "omit", cache: "no-store" });
  } catch (error) {
    throw new ApiFailure("unreachable", `The provenance API at ${config.apiBase} is unreachable ` +
      `(${error.message}). Is \`provenance serve\` running? The address is set in the extension's options.`);
  }
  if (!response.ok && response.status !== 202) throw await failure(response, config);
  return response;
}

/** Read a server-sent event stream, calling `onEvent(kind, data, id)` for each; resolves at its end. */
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let kind = "message";
      let id = null;
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") kind = text;
        else if (field === "data") data.push(text);
        else if (field === "id") id = text;
      }
      if (data.length) onEvent(kind, JSON.parse(data.join("\n")), id);
    }
  }
}

function tell(tabId, message) {
  return chrome.tabs.sendMessage(tabId, message).catch(() => null);
}

/** Put the content script (and its underline styles) in the tab: allowed by activeTab after a menu,
 * shortcut or toolbar click, or by a host permission. */
async function inject(tabId) {
  await chrome.scripting.insertCSS({ target: { tabId }, files: ["content.css"] });
  await chrome.scripting.executeScript({ target: { tabId }, files: CONTENT_FILES });
}

async function flagOnToolbar(tabId, message) {
  try {
    await chrome.action.setBadgeBackgroundColor({ tabId, color: "#cf222e" });
    await chrome.action.setBadgeText({ tabId, text: "!" });
    await chrome.action.setTitle({ tabId, title: `Provenance: ${message}` });
  } catch {
    // the tab is gone
  }
}

async function checkPost(tabId, config) {
  const post = await tell(tabId, { type: "collect-post" });
  if (!post?.ok) return post ?? { ok: false, code: "no_page", message: "The page did not answer." };
  await tell(tabId, { type: "progress", text: `Sending the post to ${config.apiBase}…` });
  const started = await call(config, "/v1/verify?wait=false", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text: post.text, format: "markdown" }),
  });
  const job = await started.json();
  let report = null;
  let failed = null;
  let lastId = null;
  const counts = { sources: 0, sourcesRead: 0, quotes: 0, judged: 0 };
  for (let attempt = 0; attempt < 3 && report === null && failed === null; attempt += 1) {
    const resume = lastId === null ? {} : { "Last-Event-ID": lastId };
    const stream = await call(config, `/v1/jobs/${encodeURIComponent(job.job)}/events`, {
      headers: { Accept: "text/event-stream", ...resume },
    });
    await readEvents(stream, (kind, data, id) => {
      if (id !== null) lastId = id;
      if (kind === "post_started") {
        counts.sources = data.sources ?? 0;
        counts.quotes = data.quotes ?? 0;
      } else if (kind === "source_read") {
        counts.sourcesRead += 1;
      } else if (kind === "quote_judged") {
        counts.judged += 1;
        tell(tabId, { type: "quote", index: data.index, quote: data.quote });
      } else if (kind === "report") {
        report = data;
      } else if (kind === "error") {
        failed = data?.error?.message ?? "the verification failed";
      }
      if (kind === "source_read" || kind === "quote_judged") {
        tell(tabId, { type: "progress",
          text: `${counts.sourcesRead} of ${counts.sources} sources read, ${counts.judged} quotes judged` });
      }
    });
  }
  if (report === null) throw new ApiFailure("failed", failed ?? "The event stream ended before the report.");
  await tell(tabId, { type: "report", report, job: job.job, apiBase: config.apiBase });
  return { ok: true, verdict: report.verdict, quotes: report.quotes.length };
}

async function checkQuote(config, quote, url, html) {
  const body = { quote, url };
  if (typeof html === "string") body.html = html;
  const response = await call(config, "/v1/check", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return response.json();
}

async function checkSelection(tabId, config, options = {}) {
  const picked = await tell(tabId, { type: "collect-quote", url: options.url ?? null });
  if (!picked?.ok) return picked ?? { ok: false, code: "no_page", message: "The page did not answer." };
  await tell(tabId, { type: "progress", text: `Checking the quote against ${picked.url}…` });
  const answer = await checkQuote(config, picked.quote, picked.url, picked.html);
  await tell(tabId, { type: "quote-result", answer, url: picked.url, sentHtml: typeof picked.html === "string" });
  return { ok: true, status: answer.status, evidence: answer.evidence };
}

/** The one entry point of every trigger: context menu, keyboard shortcut, toolbar button, tests. */
async function run(command, tabId, options = {}) {
  const config = await settings();
  try {
    await inject(tabId);
  } catch (error) {
    const message = `cannot read this page (${error.message}).`;
    await flagOnToolbar(tabId, message);
    return { ok: false, code: "no_access", message };
  }
  await chrome.action.setBadgeText({ tabId, text: "" }).catch(() => null);
  try {
    const result = command === "check-quote"
      ? await checkSelection(tabId, config, options)
      : await checkPost(tabId, config);
    if (!result.ok) await tell(tabId, { type: "error", code: result.code, text: result.message });
    return result;
  } catch (error) {
    const code = error instanceof ApiFailure ? error.code : "failed";
    const message = error instanceof ApiFailure ? error.message : `The check failed: ${error.message}`;
    await tell(tabId, { type: "error", code, text: message });
    return { ok: false, code, message, retryAfter: error.retryAfter ?? null };
  }
}

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.removeAll(() => {
    chrome.contextMenus.create({ id: "check-post", title: MENU["check-post"], contexts: ["page", "selection", "link"] });
    chrome.contextMenus.create({ id: "check-quote", title: MENU["check-quote"], contexts: ["selection"] });
  });
});

chrome.contextMenus.onClicked.addListener((info, tab) => {
  if (tab?.id !== undefined) run(String(info.menuItemId), tab.id, { url: null });
});

chrome.commands.onCommand.addListener((command, tab) => {
  if (tab?.id !== undefined) run(command, tab.id);
});

chrome.action.onClicked.addListener((tab) => {
  if (tab?.id !== undefined) run("check-post", tab.id);
});

// From the content script's panel ("check against this address") and from the extension's own pages.
chrome.runtime.onMessage.addListener((message, sender, reply) => {
  if (sender.id !== chrome.runtime.id || message?.type !== "run") return false;
  const tabId = sender.tab?.id ?? message.tabId;
  if (!Number.isInteger(tabId)) return false;
  const command = message.command === "check-quote" ? "check-quote" : "check-post";
  const options = typeof message.url === "string" ? { url: message.url } : {};
  run(command, tabId, options).then(reply);
  return true;
});
