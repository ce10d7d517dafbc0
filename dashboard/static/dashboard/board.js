// The queue board: per state and job name, from the socket's ``summary`` frames.

import { $, clear, deniedNote, flagBadges, h, progressBar, qualName, stateBadge } from "./dom.js";
import { STATES, STATE_LABELS, UNAUTHORIZED } from "./server.js";
import { timeEl } from "./time.js";

export class Board {
  constructor(root, { onName } = {}) {
    this.root = root;
    this.onName = onName || (() => {});
    this.rows = [];
    this.cards = $("#state-cards");
    this.body = $("tbody", root);
    this.empty = $(".empty", root);
    this.updated = $(".updated", root);
    this.renderCards({});
    this.render();
  }

  /** A ``summary`` frame: the complete (masked) picture of the unfinished jobs. */
  summary(frame) {
    this.rows = Array.isArray(frame.data) ? frame.data : [];
    const counts = {};
    for (const row of this.rows) counts[row.state] = (counts[row.state] || 0) + (row.n || 0);
    this.renderCards(counts);
    this.render(frame.created);
  }

  /** A queue event carries the counts per state right after the change. */
  queueEvent(event) {
    const counts = event?.data?.queue;
    if (!counts || typeof counts !== "object") return;
    this.renderCards(counts);
    // An empty queue sends no further summary: clear what a lost connection left behind.
    if (Object.values(counts).every((n) => !n) && this.rows.length) {
      this.rows = [];
      this.render(event.created);
    }
  }

  renderCards(counts) {
    const total = Object.values(counts).reduce((a, b) => a + (b || 0), 0);
    clear(this.cards,
      h("div", { class: "card card-total", dataset: { state: "total" } },
        h("div", { class: "card-label", text: "Unfinished" }),
        h("div", { class: "card-value", text: total })),
      STATES.map((state) => h("div", { class: `card card-${state}${counts[state] ? "" : " card-zero"}`, dataset: { state } },
        h("div", { class: "card-label", text: STATE_LABELS[state] }),
        h("div", { class: "card-value", text: counts[state] || 0 }))));
  }

  render(created) {
    this.root.dataset.rows = String(this.rows.length);
    clear(this.body, this.rows.map((row) => {
      const masked = row.name === UNAUTHORIZED;
      const name = masked
        ? h("span", { class: "masked", title: "You may not read this job's name" }, h("span", { class: "lock", "aria-hidden": "true" }), UNAUTHORIZED)
        : h("a", { href: "#/jobs", class: "job-name", onclick: (ev) => { ev.preventDefault(); this.onName(row.name); } }, qualName(row.name));
      return h("tr", { dataset: { state: row.state, name: row.name } },
        h("td", {}, stateBadge(row.state)),
        h("td", { class: "name" }, name),
        h("td", { class: "num", text: row.n }),
        h("td", { class: "progress-cell" }, progressBar(row.progress, null, row.state)),
        h("td", { class: "flags" }, flagBadges(row)));
    }));
    this.empty.hidden = this.rows.length > 0;
    if (created) clear(this.updated, "updated ", timeEl(created));
  }

  deny(handler) {
    clear(this.root.querySelector(".panel-body"), deniedNote("the live event stream", handler));
  }
}
