// The web page at /: paste a post, verify it, watch it checked live, see each passage in place.
// No inline handlers anywhere (the page runs under Content-Security-Policy: default-src 'self').

import {
  ApiError,
  apiKey,
  download,
  follow,
  getJob,
  jobUrl,
  recalledPost,
  rememberPost,
  reportHtmlUrl,
  setApiKey,
  startJob,
} from "./page-api.js";
import {
  metaText,
  reconstructedPost,
  renderDetails,
  renderLegend,
  renderPost,
  renderSource,
  renderVerdict,
  setLocalHref,
  summaryText,
} from "./page-render.js";
import { formatForFile, progressLine, zonedToUtc } from "./page-text.js";

const MAX_FILE_BYTES = 4 * 1024 * 1024;
const $ = (id) => document.getElementById(id);

const ui = {
  form: $("verify-form"),
  post: $("post"),
  file: $("post-file"),
  format: $("format"),
  local: $("posted-local"),
  zone: $("posted-tz"),
  utc: $("posted-utc"),
  key: $("api-key"),
  verify: $("verify"),
  progress: $("progress"),
  error: $("error"),
  results: $("results"),
  verdict: $("verdict"),
  summary: $("summary"),
  meta: $("meta"),
  permalink: $("permalink"),
  json: $("download-json"),
  html: $("download-html"),
  legend: $("legend"),
  note: $("post-note"),
  view: $("post-view"),
  details: $("details"),
  detailsHeading: $("details-heading"),
  detailsBody: $("details-body"),
  detailsClose: $("details-close"),
  sources: $("sources"),
};

const state = {
  job: null,
  stream: null,
  running: false,
  text: "",
  quotes: [],
  sources: new Map(),
  counts: { sources: null, sourcesRead: 0, quotesJudged: 0 },
  selected: null,
};

// ---------------------------------------------------------------- form

function fillZones() {
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const names = ["UTC", ...zones.filter((z) => z !== "UTC")];
  if (!names.includes(here)) names.push(here);
  ui.zone.replaceChildren(...names.map((name) => new Option(name, name, false, name === here)));
}

/** The posting time as ISO-8601 UTC; "" when none is given; null when it cannot be read. */
function postedAt() {
  if (!ui.local.value) return "";
  return zonedToUtc(ui.local.value, ui.zone.value);
}

function showPostedAt() {
  const value = postedAt();
  ui.utc.textContent = value === "" ? "" : value ? `That is ${value} (UTC).` : "Not a complete date and time.";
}

function setError(message, field = null) {
  ui.error.textContent = message;
  for (const input of [ui.post, ui.local]) input.removeAttribute("aria-invalid");
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

async function readFile(file) {
  if (!file) return;
  if (file.size > MAX_FILE_BYTES) {
    setError(`${file.name} is too large (${file.size.toLocaleString("en")} bytes).`);
    return;
  }
  let text;
  try {
    text = await file.text();
  } catch {
    setError(`${file.name} could not be read.`);
    return;
  }
  ui.post.value = text;
  const format = formatForFile(file.name);
  if (format) ui.format.value = format;
  setError("");
  ui.progress.textContent = `Read ${file.name}: ${text.length.toLocaleString("en")} characters${format ? `, format ${format}` : ""}.`;
}

function setRunning(running) {
  state.running = running;
  ui.verify.textContent = running ? "Verifying…" : "Verify";
  ui.verify.setAttribute("aria-disabled", running ? "true" : "false");
}

async function submit(event) {
  event.preventDefault();
  if (state.running) return;
  const text = ui.post.value;
  if (!text.trim()) {
    setError("Paste a post first (or open a file).", ui.post);
    return;
  }
  const when = postedAt();
  if (when === null) {
    setError("The posting time is not a complete date and time.", ui.local);
    return;
  }
  setError("");
  const body = { text, format: ui.format.value };
  if (when) body.posted_at = when;
  setRunning(true);
  ui.progress.textContent = "Sending the post…";
  let accepted;
  try {
    accepted = await startJob(body);
  } catch (error) {
    setRunning(false);
    ui.progress.textContent = "";
    setError(errorText(error));
    return;
  }
  const id = String(accepted.job);
  rememberPost(id, text, body.format);
  window.history.pushState({ job: id }, "", permalinkPath(id));
  begin(id, text);
  track(id, accepted.events);
}

function errorText(error) {
  if (error instanceof ApiError) {
    return error.status ? `${error.message} (${error.code}, HTTP ${error.status}).` : `${error.message}.`;
  }
  return `Something went wrong: ${error?.message ?? error}`;
}

// ---------------------------------------------------------------- a job

const permalinkPath = (id) => `/?job=${encodeURIComponent(id)}`;

function begin(id, text) {
  state.stream?.close();
  state.job = id;
  state.text = text;
  state.quotes = [];
  state.sources = new Map();
  state.counts = { sources: null, sourcesRead: 0, quotesJudged: 0 };
  state.selected = null;
  setLocalHref(ui.permalink, permalinkPath(id));
  setLocalHref(ui.json, jobUrl(id));
  ui.json.download = `provenance-${id}.json`;
  setLocalHref(ui.html, reportHtmlUrl(id));
  ui.html.download = `provenance-${id}.html`;
  ui.results.hidden = false;
  ui.results.setAttribute("aria-busy", "true");
  ui.details.hidden = true;
  ui.note.textContent = "";
  renderVerdict(ui.verdict, null);
  ui.summary.textContent = "";
  ui.meta.textContent = "";
  renderLegend(ui.legend, []);
  renderPost(ui.view, text, [], null);
  ui.sources.replaceChildren();
}

function track(id, eventsPath) {
  setRunning(true);
  ui.progress.textContent = "Waiting for the server…";
  state.stream = follow(id, eventsPath, {
    progress: onProgress,
    report: showReport,
    failed: (error) => {
      setRunning(false);
      ui.results.removeAttribute("aria-busy");
      ui.progress.textContent = "The verification stopped.";
      setError(`The verification failed: ${error?.message ?? "unknown error"} (${error?.code ?? "error"}).`);
    },
    reconnecting: () => {
      ui.progress.textContent = `${progressLine(state.counts)} (reconnecting…)`;
    },
  });
}

function onProgress(kind, data) {
  const counts = state.counts;
  if (kind === "post_started") {
    if (Number.isInteger(data.sources)) counts.sources = data.sources;
  } else if (kind === "source_read") {
    counts.sourcesRead += 1;
    const source = data.source && typeof data.source === "object" ? data.source : null;
    state.sources.set(String(data.url), source ?? { url: String(data.url), status: data.status, redirects: [] });
    ui.sources.replaceChildren(...[...state.sources.values()].map(renderSource));
  } else if (kind === "quote_judged") {
    counts.quotesJudged += 1;
    if (data.quote && typeof data.quote === "object" && Number.isInteger(data.index) && data.index >= 0) {
      state.quotes[data.index] = data.quote;
      redrawPost();
    }
  } else if (kind === "post_finished") {
    renderVerdict(ui.verdict, data.verdict);
  }
  ui.progress.textContent = progressLine(counts);
}

function redrawPost() {
  const focused = document.activeElement?.closest?.(".passage")?.dataset.index;
  renderPost(ui.view, state.text, state.quotes, state.selected);
  renderLegend(ui.legend, state.quotes);
  if (focused !== undefined) document.getElementById(`passage-${focused}`)?.focus();
}

function showReport(report) {
  state.stream = null;
  setRunning(false);
  state.quotes = Array.isArray(report.quotes) ? report.quotes : [];
  const sources = Array.isArray(report.sources) ? report.sources : [];
  state.sources = new Map(sources.map((s) => [String(s.url), s]));
  state.counts = {
    sources: sources.length,
    sourcesRead: sources.length,
    quotesJudged: state.quotes.length,
  };
  if (!state.text) {
    const rebuilt = reconstructedPost(state.quotes);
    state.text = rebuilt.text;
    state.quotes = rebuilt.quotes;
    ui.note.textContent =
      "The server keeps the report, not the post: shown here are the post's passages alone, gaps marked […].";
  }
  renderVerdict(ui.verdict, report.verdict);
  ui.summary.textContent = summaryText(report);
  ui.meta.textContent = metaText(report);
  redrawPost();
  ui.sources.replaceChildren(...sources.map(renderSource));
  ui.results.removeAttribute("aria-busy");
  if (report.error) setError(`The report has an error: ${report.error.message} (${report.error.code}).`);
  ui.progress.textContent = `Done: ${progressLine(state.counts)}. Verdict: ${String(report.verdict).replaceAll("_", " ")}.`;
  if (state.selected !== null && state.quotes[state.selected]) openDetails(state.selected, false);
}

async function load(id) {
  state.stream?.close();
  setError("");
  const kept = recalledPost(id);
  if (kept) {
    ui.post.value = kept.text;
    if (kept.format) ui.format.value = kept.format;
  }
  ui.progress.textContent = "Loading the report…";
  let job;
  try {
    job = await getJob(id);
  } catch (error) {
    ui.progress.textContent = "";
    setError(errorText(error));
    return;
  }
  if (!kept && typeof job.text === "string" && job.text) {
    ui.post.value = job.text;
    if (typeof job.format === "string") ui.format.value = job.format;
  }
  const text = kept?.text ?? (typeof job.text === "string" ? job.text : "");
  begin(id, text);
  if (job.status === "done" && job.report) showReport(job.report);
  else if (job.status === "failed") {
    ui.progress.textContent = "The verification stopped.";
    setError(`The verification failed: ${job.error?.message ?? "unknown error"} (${job.error?.code ?? "error"}).`);
  } else track(id, null);
}

function route() {
  const id = new URLSearchParams(window.location.search).get("job");
  if (id) {
    load(id);
    return;
  }
  state.stream?.close();
  setRunning(false);
  ui.results.hidden = true;
  ui.progress.textContent = "";
}

// ---------------------------------------------------------------- passages

function openDetails(index, focus = true) {
  const quote = state.quotes[index];
  if (!quote) return;
  state.selected = index;
  renderDetails(ui.detailsHeading, ui.detailsBody, quote, index, state.quotes.filter(Boolean).length,
    [...state.sources.values()]);
  ui.details.hidden = false;
  for (const passage of ui.view.querySelectorAll(".passage")) {
    passage.setAttribute("aria-expanded", passage.dataset.index === String(index) ? "true" : "false");
  }
  if (focus) ui.detailsHeading.focus();
}

function closeDetails() {
  const index = state.selected;
  ui.details.hidden = true;
  state.selected = null;
  for (const passage of ui.view.querySelectorAll(".passage")) passage.setAttribute("aria-expanded", "false");
  if (index !== null) document.getElementById(`passage-${index}`)?.focus();
}

function passageOf(event) {
  const passage = event.target instanceof Element ? event.target.closest(".passage") : null;
  return passage && ui.view.contains(passage) ? Number(passage.dataset.index) : null;
}

// ---------------------------------------------------------------- wiring

function wire() {
  fillZones();
  ui.key.value = apiKey();
  ui.form.addEventListener("submit", submit);
  ui.local.addEventListener("input", showPostedAt);
  ui.zone.addEventListener("change", showPostedAt);
  ui.key.addEventListener("change", () => setApiKey(ui.key.value.trim()));
  ui.file.addEventListener("change", () => readFile(ui.file.files?.[0]));
  ui.post.addEventListener("dragover", (event) => {
    if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
  });
  ui.post.addEventListener("drop", (event) => {
    const file = event.dataTransfer?.files?.[0];
    if (!file) return;
    event.preventDefault();
    readFile(file);
  });
  ui.view.addEventListener("click", (event) => {
    const index = passageOf(event);
    if (index !== null) openDetails(index);
  });
  ui.view.addEventListener("keydown", (event) => {
    const index = passageOf(event);
    if (index === null || (event.key !== "Enter" && event.key !== " ")) return;
    event.preventDefault();
    openDetails(index);
  });
  ui.details.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDetails();
  });
  ui.detailsClose.addEventListener("click", closeDetails);
  for (const link of [ui.json, ui.html]) {
    link.addEventListener("click", (event) => {
      if (!apiKey()) return; // a plain download
      event.preventDefault();
      download(link.href, link.download).catch((error) => setError(errorText(error)));
    });
  }
  window.addEventListener("popstate", route);
  route();
}

wire();
