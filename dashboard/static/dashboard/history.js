// The queue history chart: /queue/history for hour/day/week, extended live by queue events.
// uPlot (vendor/uplot, a global from its IIFE build) draws it on a canvas.

import { get } from "./api.js";
import { $, $$, clear, deniedNote, h } from "./dom.js";
import { STATES, STATE_LABELS } from "./server.js";

const RANGES = { live: 900, hour: 3600, day: 86400, week: 7 * 86400 };
const COLORS = {
  pending: "#64748b", running: "#2563eb", deferred: "#d97706", failed: "#ea580c",
  error: "#dc2626", inactive: "#7c3aed", killed: "#be123c",
};
const PER_PAGE = 1000;
const MAX_PAGES = 20;
const HEIGHT = 240;

export class HistoryChart {
  constructor(root) {
    this.root = root;
    this.box = $(".chart", root);
    this.note = $(".chart-note", root);
    this.range = "hour";
    this.points = [];   // [{t: seconds, counts}]
    this.chart = null;
    this.loading = null;
    this.dirty = false;
    for (const button of $$("[data-range]", root)) {
      button.addEventListener("click", () => this.load(button.dataset.range));
    }
    new ResizeObserver(() => this.resize()).observe(this.box);
    setInterval(() => this.redraw(), 5000); // the last state extends to "now"
  }

  async load(range = this.range) {
    this.range = range;
    for (const button of $$("[data-range]", this.root)) button.classList.toggle("active", button.dataset.range === range);
    const start = new Date(Date.now() - RANGES[range] * 1000);
    const token = (this.loading = {});
    const points = [];
    this.note.textContent = "loading…";
    for (let page = 0; page < MAX_PAGES; page++) {
      const reply = await get("queue/history", { startDate: start.toISOString(), perPage: PER_PAGE, page, sort: 1 });
      if (token !== this.loading) return; // a newer load took over
      for (const row of reply.data || []) points.push({ t: Date.parse(row.created) / 1000, counts: row });
      if (page + 1 >= (reply.page_count || 0)) break;
    }
    this.points = points;
    this.loaded = true;
    this.redraw(true);
  }

  /** A live queue event: one more point (counts right after the change). */
  add(event) {
    if (!this.loaded) return;
    const counts = event?.data?.queue;
    if (!counts || typeof counts !== "object") return;
    const t = Date.parse(event.created) / 1000;
    const last = this.points[this.points.length - 1];
    if (last && t < last.t) return;
    this.points.push({ t, counts });
    if (!this.dirty) {
      this.dirty = true;
      setTimeout(() => this.redraw(), 500);
    }
  }

  data() {
    const now = Date.now() / 1000;
    const start = now - RANGES[this.range];
    const startIndex = this.points.findIndex((p) => p.t >= start);
    if (startIndex > 0) this.points.splice(0, Math.max(0, startIndex - 1));
    const pts = this.points.filter((p) => p.t >= start);
    const xs = pts.map((p) => p.t);
    const series = STATES.map((s) => pts.map((p) => p.counts[s] || 0));
    if (pts.length) {
      // carry the latest state to now, so the steps end at the right edge
      xs.push(now);
      series.forEach((values) => values.push(values[values.length - 1]));
    }
    return { xs, series, events: pts.length, start, now };
  }

  redraw(rebuild = false) {
    this.dirty = false;
    if (!this.loaded || !window.uPlot) return;
    const { xs, series, events, start, now } = this.data();
    this.root.dataset.points = String(events);
    this.note.textContent = events ? "" : "No queue events in this range.";
    if (!this.chart || rebuild) {
      this.build(start, now);
    }
    this.chart.setScale("x", { min: start, max: now });
    this.chart.setData([xs, ...series], false);
    this.chart.setScale("x", { min: start, max: now });
  }

  build(start, now) {
    if (this.chart) this.chart.destroy();
    const stepped = window.uPlot.paths.stepped({ align: 1 });
    const opts = {
      width: Math.max(this.box.clientWidth, 300),
      height: HEIGHT,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true, min: start, max: now }, y: { range: (u, min, max) => [0, Math.max(3, Math.ceil(max * 1.15))] } },
      axes: [
        { stroke: "#64748b", grid: { stroke: "#eef2f7" }, ticks: { stroke: "#e2e8f0" } },
        { stroke: "#64748b", grid: { stroke: "#eef2f7" }, ticks: { stroke: "#e2e8f0" }, size: 40 },
      ],
      series: [
        { label: "time" },
        ...STATES.map((s) => ({
          label: STATE_LABELS[s], stroke: COLORS[s], width: 2, paths: stepped,
          fill: s === "running" ? "rgba(37,99,235,0.08)" : undefined, points: { show: false },
        })),
      ],
    };
    clear(this.box);
    this.chart = new window.uPlot(opts, [[], ...STATES.map(() => [])], this.box);
  }

  resize() {
    if (this.chart) this.chart.setSize({ width: Math.max(this.box.clientWidth, 300), height: HEIGHT });
  }

  deny(handler) {
    clear(this.root.querySelector(".panel-body"), deniedNote("the queue history", handler));
  }
}
