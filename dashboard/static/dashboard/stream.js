// The event stream: the newest queue events, live, filterable by event name and job.

import { $, clear, deniedNote, h } from "./dom.js";
import { timeEl } from "./time.js";
import { EVENT_TONES, STATES } from "./server.js";

const KEEP = 1000;   // events kept in memory
const SHOW = 150;    // rows rendered

export class Stream {
  constructor(root, { jobName, jobLink } = {}) {
    this.root = root;
    this.events = [];
    this.jobName = jobName || (() => null);   // job id -> name (or null), may resolve later
    this.jobLink = jobLink || null;
    this.body = $("tbody", root);
    this.count = $(".count", root);
    this.nameFilter = $("select[name=event-name]", root);
    this.jobFilter = $("input[name=event-job]", root);
    for (const name of Object.keys(EVENT_TONES)) this.nameFilter.append(h("option", { value: name, text: name }));
    this.nameFilter.addEventListener("change", () => this.render());
    this.jobFilter.addEventListener("input", () => this.render());
    this.pending = false;
  }

  /** History first (newest first as the API pages them). */
  load(items) {
    this.events = items.slice(0, KEEP);
    this.render();
  }

  add(event) {
    this.events.unshift(event);
    if (this.events.length > KEEP) this.events.length = KEEP;
    this.schedule();
  }

  /** Rendering at most every animation frame keeps bursts of events cheap. */
  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  matches(event) {
    const name = this.nameFilter.value;
    if (name && event.name !== name) return false;
    const text = this.jobFilter.value.trim().toLowerCase();
    if (!text) return true;
    const jobId = String(event?.data?._id || "").toLowerCase();
    const jobName = String(this.jobName(event?.data?._id) || "").toLowerCase();
    return jobId.includes(text) || jobName.includes(text);
  }

  render() {
    const shown = this.events.filter((e) => this.matches(e)).slice(0, SHOW);
    this.count.textContent = `${shown.length} of ${this.events.length} events`;
    this.root.dataset.events = String(this.events.length);
    clear(this.body, shown.map((event) => this.row(event)));
    if (!shown.length) {
      this.body.append(h("tr", { class: "empty-row" }, h("td", { colspan: 6, text: this.events.length ? "No event matches the filter." : "No queue events yet." })));
    }
  }

  row(event) {
    const jobId = event?.data?._id;
    const name = jobId ? this.jobName(jobId) : null;
    const counts = event?.data?.queue || {};
    const summary = STATES.filter((s) => counts[s]).map((s) => h("span", { class: `count-chip state-${s}`, title: s, text: `${s} ${counts[s]}` }));
    const idCell = jobId
      ? (this.jobLink ? h("a", { href: `#/job/${encodeURIComponent(jobId)}`, class: "mono", text: jobId }) : h("span", { class: "mono", text: jobId }))
      : "–";
    return h("tr", { dataset: { eventId: event._id, eventName: event.name, jobId: jobId || "" } },
      h("td", { class: "time" }, timeEl(event.created)),
      h("td", {}, h("span", { class: `ev ev-${EVENT_TONES[event.name] || "info"}`, text: event.name })),
      h("td", {}, idCell),
      h("td", { class: "name", text: name || (this.jobLink ? "…" : "–") }),
      h("td", { text: event.author || "–" }),
      h("td", { class: "chips" }, summary.length ? summary : h("span", { class: "muted", text: "queue empty" })));
  }

  deny(what, handler) {
    clear(this.root.querySelector(".panel-body"), deniedNote(what, handler));
  }
}
