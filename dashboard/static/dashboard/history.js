// The queue history chart: /queue/history for hour/day/week, extended live by queue events.
// uPlot (vendor/uplot, a global from its IIFE build) draws it on a canvas.

import { get } from "./api.js";
import { $, $$, clear, deniedNote, h } from "./dom.js";
import { STATES, STATE_LABELS } from "./server.js";
import { fmtClock, fmtDay, fmtTime, parseTime } from "./time.js";

const RANGES = { live: 900, hour: 3600, day: 86400, week: 7 * 86400 };
const MIN_SPAN = 120;   // s: the narrowest x-range (a burst on a fresh install)
const DARK = window.matchMedia("(prefers-color-scheme: dark)");

/** Colours from the stylesheet (they differ in dark mode). */
function colors() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return {
    axis: v("--muted"), grid: v("--grid"), tick: v("--line"), runningFill: v("--running-fill"),
    ...Object.fromEntries(STATES.map((s) => [s, v(`--${s}`)])),
  };
}

const secs = (value) => (parseTime(value)?.getTime() ?? NaN) / 1000;
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
    DARK.addEventListener("change", () => this.redraw(true)); // colours follow the scheme
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
      for (const row of reply.data || []) points.push({ t: secs(row.created), counts: row });
      if (page + 1 >= (reply.page_count || 0)) break;
    }
    // Is there history before the window? If not (a fresh install), the x-range starts at
    // the first point instead of leaving the window's empty part on the left.
    let older = true;
    try {
      const before = await get("queue/history", {
        startDate: new Date(start.getTime() - 7 * 86400_000).toISOString(), endDate: start.toISOString(),
        perPage: 1, page: 0, sort: -1,
      });
      older = Boolean((before.data || []).length);
    } catch { /* keep the whole window */ }
    if (token !== this.loading) return;
    this.older = older;
    this.points = points;
    this.loaded = true;
    this.redraw(true);
  }

  /** A live queue event: one more point (counts right after the change). */
  add(event) {
    if (!this.loaded) return;
    const counts = event?.data?.queue;
    if (!counts || typeof counts !== "object") return;
    const t = secs(event.created);
    if (!isFinite(t)) return;
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
    // the x-range: the whole window, or — when the data is shorter (a fresh install) — from
    // just before the first point, so that a short burst is not squeezed to the right edge
    let min = start;
    if (pts.length && !this.older && startIndex <= 0) {
      const span = Math.max(MIN_SPAN, now - pts[0].t);
      min = Math.max(start, now - span * 1.04);
    }
    return { xs, series, events: pts.length, start: min, now };
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
    this.chart.setData([xs, ...series], false);
    this.chart.setScale("x", { min: start, max: now });
    this.chart.setLegend({ idx: null }); // the current values (see the series' value())
  }

  build(start, now) {
    if (this.chart) this.chart.destroy();
    const stepped = window.uPlot.paths.stepped({ align: 1 });
    const c = colors();
    // Not hovered, the legend shows the current values (the last point) instead of "--".
    const current = (u, v, si, idx) => {
      if (idx === null || idx === undefined) {
        const values = u.data[si] || [];
        v = values.length ? values[values.length - 1] : null;
      }
      return v === null || v === undefined ? "–" : si === 0 ? fmtTime(v * 1000) : String(v);
    };
    const axis = { stroke: c.axis, grid: { stroke: c.grid }, ticks: { stroke: c.tick } };
    const opts = {
      width: Math.max(this.box.clientWidth, 240),
      height: HEIGHT,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true, min: start, max: now }, y: { range: (u, min, max) => [0, Math.max(3, Math.ceil(max * 1.15))] } },
      axes: [
        { ...axis, values: axisTimes, space: (u, i, min, max) => (max - min < 600 ? 110 : 80), size: 48 },
        { ...axis, size: 40 },
      ],
      series: [
        { label: "time", value: current },
        ...STATES.map((s) => ({
          label: STATE_LABELS[s], stroke: c[s], width: 2, paths: stepped, value: current,
          fill: s === "running" ? c.runningFill : undefined, points: { show: false },
        })),
      ],
    };
    clear(this.box);
    this.chart = new window.uPlot(opts, [[], ...STATES.map(() => [])], this.box);
  }

  /** The legend's texts (label → value): what the page shows without hovering. */
  legend() {
    return Object.fromEntries([...this.box.querySelectorAll(".u-legend .u-series")].map((row) => [
      row.querySelector(".u-label")?.textContent, row.querySelector(".u-value")?.textContent]));
  }

  resize() {
    if (this.chart) this.chart.setSize({ width: Math.max(this.box.clientWidth, 240), height: HEIGHT });
  }

  deny(handler) {
    clear(this.root.querySelector(".panel-body"), deniedNote("the queue history", handler));
  }
}

/** The x-axis ticks in the page's one clock format (time.js), without seconds unless the
 *  ticks are seconds apart; a tick whose day differs from the one before it gets the date on
 *  a second line (the first tick too, when it is not today); day-sized ticks show the date. */
function axisTimes(u, splits, axisIdx, space, incr) {
  let prev = null;
  const today = new Date().toDateString();
  return splits.map((t) => {
    const d = new Date(t * 1000);
    if (incr >= 86400) return fmtDay(d);
    const clock = fmtClock(d, { seconds: incr < 60 });
    const day = d.toDateString();
    const newDay = prev === null ? day !== today : day !== prev;
    prev = day;
    return newDay ? `${clock}\n${fmtDay(d)}` : clock;
  });
}
