// The page's side of the HTTP API: start a verification, follow its events, read a job, download.
//
// An optional API key is kept in localStorage and sent as X-API-Key; EventSource cannot send
// headers, so the events URL carries it as ?key= instead.

const KEY_STORAGE = "provenance.apiKey";
const POSTS_STORAGE = "provenance.posts";
const POSTS_KEPT = 20;
const PROGRESS_KINDS = ["post_started", "source_read", "quote_judged", "post_finished"];

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage refused (privacy settings): the page works, it just remembers nothing
  }
}

/** The stored API key, or "". */
export function apiKey() {
  return storage()?.getItem(KEY_STORAGE) ?? "";
}

/** Keep (or, with "", forget) the API key in this browser. */
export function setApiKey(key) {
  const store = storage();
  if (!store) return;
  if (key) store.setItem(KEY_STORAGE, key);
  else store.removeItem(KEY_STORAGE);
}

/** A refused request: the API's {"error": {"code", "message"}}, or what the HTTP status says. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra = {}) {
  const out = { Accept: "application/json", ...extra };
  const key = apiKey();
  if (key) out["X-API-Key"] = key;
  return out;
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = body && typeof body === "object" ? body.error : null;
    throw new ApiError(
      response.status,
      String(error?.code ?? `http_${response.status}`),
      String(error?.message ?? (response.statusText || "the request failed")),
    );
  }
  if (body === null || typeof body !== "object") {
    throw new ApiError(response.status, "bad_answer", "the server's answer is not JSON");
  }
  return body;
}

async function request(url, init = {}) {
  let response;
  try {
    response = await fetch(url, { ...init, headers: headers(init.headers), credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "the server could not be reached");
  }
  return answer(response);
}

const jobPath = (id) => `/v1/jobs/${encodeURIComponent(id)}`;

/** Where a job's JSON (its state and report) is. */
export const jobUrl = (id) => jobPath(id);
/** Where a job's self-contained HTML report is. */
export const reportHtmlUrl = (id) => `${jobPath(id)}/report.html`;

/** POST /v1/verify?wait=false: {job, events, status_url}. */
export function startJob(body) {
  return request("/v1/verify?wait=false", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** GET /v1/jobs/<id>: {job, status, report, error}. */
export function getJob(id) {
  return request(jobPath(id));
}

function parse(data) {
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}

/**
 * Follow a job to its end. `on.progress(kind, data)` for each progress event, then exactly one of
 * `on.report(report)` or `on.failed({code, message})`; `on.reconnecting()` while the stream is
 * re-established. The event stream is used when it can be; polling the job otherwise.
 * Returns {close()}.
 */
export function follow(id, eventsPath, on) {
  let closed = false;
  let source = null;
  let timer = null;

  const finish = () => {
    closed = true;
    source?.close();
    source = null;
    if (timer !== null) clearTimeout(timer);
  };

  const poll = async (delay) => {
    if (closed) return;
    try {
      const job = await getJob(id);
      if (closed) return;
      if (job.status === "done" && job.report) {
        finish();
        on.report(job.report);
        return;
      }
      if (job.status === "failed") {
        finish();
        on.failed(job.error ?? { code: "failed", message: "the verification failed" });
        return;
      }
    } catch (error) {
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) {
        finish();
        on.failed({ code: error.code, message: error.message });
        return;
      }
    }
    if (!closed) timer = setTimeout(() => poll(Math.min(delay * 1.5, 5000)), delay);
  };

  if (typeof EventSource !== "function") {
    poll(500);
    return { close: finish };
  }
  const url = new URL(eventsPath || `${jobPath(id)}/events`, window.location.href);
  const key = apiKey();
  if (key) url.searchParams.set("key", key);
  source = new EventSource(url.href);
  for (const kind of PROGRESS_KINDS) {
    source.addEventListener(kind, (event) => {
      const data = parse(event.data);
      if (!closed && data) on.progress(kind, data);
    });
  }
  source.addEventListener("report", (event) => {
    const report = parse(event.data);
    if (closed || !report) return;
    finish();
    on.report(report);
  });
  // "error" is both the server's named event (a MessageEvent with data) and EventSource's own
  // signal that the connection dropped (a plain Event).
  source.addEventListener("error", (event) => {
    if (closed) return;
    if (event instanceof MessageEvent && event.data) {
      const data = parse(event.data);
      finish();
      on.failed(data?.error ?? { code: "failed", message: "the verification failed" });
      return;
    }
    if (source && source.readyState === EventSource.CLOSED) {
      source = null; // refused outright (unknown job, bad key): the job's own answer says why
      poll(500);
    } else {
      on.reconnecting?.();
    }
  });
  return { close: finish };
}

/** Save `url` as a file: a plain download, or through fetch when an API key must go with it. */
export async function download(url, filename) {
  const key = apiKey();
  const link = document.createElement("a");
  link.download = filename;
  if (!key) {
    link.href = url;
    link.click();
    return;
  }
  let response;
  try {
    response = await fetch(url, { headers: headers(), credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "the server could not be reached");
  }
  if (!response.ok) await answer(response);
  const blobUrl = URL.createObjectURL(await response.blob());
  link.href = blobUrl;
  link.click();
  setTimeout(() => URL.revokeObjectURL(blobUrl), 10_000);
}

/**
 * The reports do not carry the post, so the page keeps the last few posts it sent, by job id, to
 * show them again from a permalink in this browser.
 */
export function rememberPost(id, text, format) {
  const store = storage();
  if (!store) return;
  let kept = parse(store.getItem(POSTS_STORAGE) ?? "[]");
  if (!Array.isArray(kept)) kept = [];
  kept = kept.filter((entry) => entry && entry.id !== id);
  kept.push({ id, text, format });
  try {
    store.setItem(POSTS_STORAGE, JSON.stringify(kept.slice(-POSTS_KEPT)));
  } catch {
    // quota: forget the older posts and keep this one alone
    try {
      store.setItem(POSTS_STORAGE, JSON.stringify([{ id, text, format }]));
    } catch {
      store.removeItem(POSTS_STORAGE);
    }
  }
}

/** The post sent for job `id` from this browser, or null. */
export function recalledPost(id) {
  const kept = parse(storage()?.getItem(POSTS_STORAGE) ?? "[]");
  if (!Array.isArray(kept)) return null;
  const entry = kept.find((item) => item && item.id === id);
  return entry && typeof entry.text === "string" ? entry : null;
}
