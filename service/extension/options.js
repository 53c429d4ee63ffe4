// The options page: the API's address and key (kept in chrome.storage.local), and the legend.
"use strict";

const DEFAULT_BASE = "http://127.0.0.1:8080";
const form = document.getElementById("options");
const base = document.getElementById("api-base");
const key = document.getElementById("api-key");
const saved = document.getElementById("saved");

function say(text, error = false) {
  saved.textContent = text;
  saved.className = error ? "error" : "";
}

/** The origin pattern an address needs as a host permission, or null when it is no http(s) address. */
function originPattern(address) {
  try {
    const url = new URL(address);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    return `${url.protocol}//${url.hostname}/*`;
  } catch {
    return null;
  }
}

async function load() {
  const stored = await chrome.storage.local.get({ apiBase: DEFAULT_BASE, apiKey: "" });
  base.value = stored.apiBase;
  key.value = stored.apiKey;
  document.getElementById("extension-id").textContent = chrome.runtime.id;
  const legend = document.getElementById("legend");
  for (const [, g] of Object.entries(globalThis.PROVENANCE_LEGEND.groups)) {
    const sample = document.createElement("span");
    sample.className = "sample";
    sample.style.textDecorationColor = g.color;
    sample.style.textDecorationStyle = g.line;
    sample.textContent = `${g.icon} ${g.label}`;
    const item = document.createElement("li");
    item.append(sample, `: ${g.help}`);
    legend.append(item);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const address = base.value.trim().replace(/\/+$/, "");
  const pattern = originPattern(address);
  if (!pattern) {
    say("The API address must be an http:// or https:// address.", true);
    return;
  }
  // Asked here, in the click: a browser grants optional permissions only during a user gesture.
  let granted = await chrome.permissions.contains({ origins: [pattern] });
  if (!granted) {
    try {
      granted = await chrome.permissions.request({ origins: [pattern] });
    } catch {
      granted = false;
    }
  }
  await chrome.storage.local.set({ apiBase: address, apiKey: key.value.trim() });
  say(granted
    ? `Saved: the extension will call ${address}.`
    : `Saved, without permission to reach ${address}: it works only if that server allows this ` +
      `extension's origin (--cors-origin ${location.origin}).`, !granted);
});

load();
