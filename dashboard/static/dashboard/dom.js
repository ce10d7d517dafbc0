// Small DOM helpers. Data only ever reaches the page as text (textContent, attributes set
// through the DOM API) — never as markup.

import { STATE_LABELS } from "./server.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = String(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

export const FLAG_LABELS = { zombie: "zombie", wall: "non-stop", nonstop: "non-stop", removed: "removed", killed: "killed" };

export function stateBadge(state) {
  return h("span", { class: `badge state-${String(state)}`, text: STATE_LABELS[state] || String(state) });
}

/** A progress bar. Only a running job's progress is live; in any other state ``state``
 *  greys it out and says that it is where the job stopped (a killed job keeps the value it
 *  had when it was killed). */
export function progressBar(value, message, state) {
  const pct = typeof value === "number" && isFinite(value) ? Math.max(0, Math.min(1, value)) * 100 : null;
  const stopped = Boolean(state) && state !== "running" && pct !== null && pct < 100;
  const where = stopped && pct > 0 ? `${STATE_LABELS[state] || state}: stopped at ${pct.toFixed(0)} %` : null;
  const title = [where, message].filter(Boolean).join(" — ");
  const text = pct === null || (stopped && pct === 0) ? "–" : stopped ? `stopped at ${pct.toFixed(0)} %` : `${pct.toFixed(0)} %`;
  const bar = h("div", { class: `progress${stopped ? " progress-stopped" : ""}`, title },
    h("div", { class: "progress-fill" }),
    h("span", { class: "progress-text", text }));
  bar.firstChild.style.width = `${pct || 0}%`;
  return bar;
}

export function flagBadges(flags) {
  const out = [];
  for (const [key, label] of Object.entries(FLAG_LABELS)) {
    if (flags && flags[key] && !out.some((b) => b.textContent === label)) {
      out.push(h("span", { class: `flag flag-${label}`, text: label }));
    }
  }
  return out;
}

// Times live in time.js; the old names stay for the views that import them from here.
export { fmtAgo, fmtDuration, fmtRelative, fmtTime, parseTime, timeEl, utcTitle } from "./time.js";
export { fmtTime as fmtClock, fmtTime as fmtDateTime } from "./time.js";

export function toast(text, kind = "info") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = h("div", { class: `toast toast-${kind}`, role: "status", text });
  box.append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

/** A modal confirmation; resolves true when confirmed. */
export function confirmDialog(title, text, action = "Confirm", danger = true) {
  const dialog = document.getElementById("confirm");
  clear(dialog,
    h("form", { method: "dialog", class: "dialog-body" },
      h("h3", { text: title }),
      h("p", { text }),
      h("div", { class: "dialog-actions" },
        h("button", { value: "cancel", class: "btn", type: "submit", text: "Cancel" }),
        h("button", { value: "ok", class: danger ? "btn btn-danger" : "btn btn-primary", type: "submit", "data-confirm": "ok", text: action }))));
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

export function deniedNote(what, handler) {
  return h("div", { class: "denied", role: "note" },
    h("strong", { text: "Not allowed. " }),
    `Your roles do not include access to ${what}`,
    handler ? h("code", { text: ` (${handler})` }) : null, ".");
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A qualified job name, breakable after each dot: "pkg." "mod." + "Class". */
export function qualName(name) {
  const text = String(name ?? "");
  const dot = text.lastIndexOf(".");
  if (dot < 0) return h("span", { class: "qual-cls", text });
  const parts = text.slice(0, dot + 1).split(/(?<=\.)/);
  return h("span", { class: "qual", title: text },
    h("span", { class: "qual-mod" }, parts.flatMap((part) => [part, h("wbr")])),
    h("span", { class: "qual-cls", text: text.slice(dot + 1) }));
}
