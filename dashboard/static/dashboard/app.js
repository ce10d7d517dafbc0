// The dashboard: wires the socket, the board, the stream, the chart, jobs and workers.

import { call, get } from "./api.js";
import { Board } from "./board.js";
import { $, $$, clear, debounce, deniedNote, h } from "./dom.js";
import { HistoryChart } from "./history.js";
import { Jobs } from "./jobs.js";
import { Schedules } from "./schedules.js";
import { HANDLERS, UNAUTHORIZED } from "./server.js";
import { EventStream } from "./socket.js";
import { Stream } from "./stream.js";
import { Workers } from "./workers.js";

const VIEWS = ["overview", "jobs", "job", "workers", "schedules"];
const HISTORY_PAGE = 100;
const RESOLVERS = 4;

class App {
  constructor() {
    this.access = null;
    this.names = new Map();     // job id -> qual_name
    this.wanted = [];           // job ids waiting for a name
    this.resolving = 0;
    this.knownNames = new Set();
    this.refreshSoon = debounce(() => this.refreshVisible(), 800);
  }

  // --- permissions (decided by the server, see dashboard/access.py) ------------------------
  async loadAccess(names = []) {
    const unknown = [...new Set(names)].filter((n) => n && !(this.access && n in this.access.jobs));
    if (this.access && !unknown.length) return;
    const reply = await get("/dashboard/access", { names: unknown });
    const jobs = { ...(this.access?.jobs || {}), ...reply.data.jobs };
    this.access = { ...reply.data, jobs };
  }
  can(api, letter = "r") { return Boolean(this.access?.api?.[api]?.[letter]); }
  canExecute(name) { return Boolean(this.access?.admin || this.access?.jobs?.[name]?.execute); }
  handler(api) { return HANDLERS[api] || api; }

  // --- job names for the event stream (events carry only the job id) ----------------------
  rememberName(id, name) {
    if (!id || !name) return;
    this.names.set(id, name);
    if (name !== UNAUTHORIZED) this.addKnownName(name);
  }
  addKnownName(name) {
    if (this.knownNames.has(name)) return;
    this.knownNames.add(name);
    $("#job-names").append(h("option", { value: name }));
  }
  jobName(id) {
    if (!id) return null;
    if (this.names.has(id)) return this.names.get(id);
    if (this.can("job", "r")) {
      this.names.set(id, null);
      this.wanted.push(id);
      this.resolveNames();
    }
    return null;
  }
  resolveNames() {
    while (this.resolving < RESOLVERS && this.wanted.length) {
      const id = this.wanted.shift();
      this.resolving += 1;
      get(`job/${encodeURIComponent(id)}`)
        .then((reply) => this.names.set(id, reply.data.qual_name))
        .catch((exc) => this.names.set(id, exc.status === 404 ? "(gone)" : exc.forbidden ? UNAUTHORIZED : null))
        .finally(() => {
          this.resolving -= 1;
          this.stream.schedule();
          this.resolveNames();
        });
    }
  }

  // --- start ---------------------------------------------------------------------------------
  async start() {
    await this.loadAccess();
    $("#user-name").textContent = this.access.user;
    if (this.can("profile")) {
      get("profile").then((reply) => {
        const p = reply.data;
        $("#user-name").textContent = p.realname ? `${p.realname} (${p.name})` : p.name;
      }).catch(() => {});
    }
    document.body.dataset.role = this.access.admin ? "admin" : "user";
    $("#logout").addEventListener("click", () => this.logout());

    this.board = new Board($("#panel-board"), { onName: (name) => this.showJobs(name) });
    this.stream = new Stream($("#panel-stream"), { jobName: (id) => this.jobName(id), jobLink: this.can("job", "r") });
    this.history = new HistoryChart($("#panel-history"));
    this.jobs = new Jobs(this);
    this.workers = new Workers(this);
    this.schedules = new Schedules(this);
    this.socket = new EventStream(["queue"]);
    window.__dashboard = { app: this, socket: this.socket };

    $("#enqueue-panel").hidden = !(this.can("job", "c") && this.access.execute_any);
    $("#nav-jobs").classList.toggle("nav-denied", !this.can("job", "r"));
    $("#nav-schedules").classList.toggle("nav-denied", !this.can("job", "r"));

    this.socket.addEventListener("state", (ev) => this.connection(ev.detail));
    this.socket.addEventListener("summary", (ev) => {
      for (const row of ev.detail.data || []) if (row.name !== UNAUTHORIZED) this.addKnownName(row.name);
      this.board.summary(ev.detail);
    });
    this.socket.addEventListener("event", (ev) => {
      const event = ev.detail;
      this.stream.add(event);
      this.board.queueEvent(event);
      this.history.add(event);
      this.refreshSoon();
    });

    window.addEventListener("hashchange", () => this.route());
    this.route();

    if (this.can("queue_history")) {
      this.history.load("hour").catch((exc) => this.failed(this.history.root, exc));
    } else {
      this.history.deny(this.handler("queue_history"));
    }

    let lastId = null;
    let historyKnown = false;
    if (this.can("event_history")) {
      try {
        const reply = await get("event/history", { filter: { channel: "queue" }, per_page: HISTORY_PAGE });
        const items = reply.data || [];
        this.stream.load(items);
        if (items.length) {
          lastId = items[0]._id;
          this.board.queueEvent(items[0]);
        }
        historyKnown = true;
      } catch (exc) {
        this.stream.load([]);
      }
    } else {
      this.stream.load([]);
    }
    if (this.can("event")) {
      this.socket.start(lastId, historyKnown);
    } else {
      this.connection({ state: "denied" });
    }
  }

  connection({ state }) {
    const status = $("#conn-status");
    status.dataset.state = state;
    status.textContent = { connecting: "connecting…", open: "live", closed: "disconnected", denied: "no live stream" }[state] || state;
    const banner = $("#banner");
    banner.hidden = state !== "closed";
    if (state === "denied") {
      this.board.deny(this.handler("event"));
      clear($("#panel-stream .live-note"), deniedNote("the live event stream", this.handler("event")));
    }
  }

  failed(root, exc) {
    const body = $(".panel-body", root);
    clear(body, exc.forbidden ? deniedNote("this API", "") : h("div", { class: "error-box", text: exc.message }));
  }

  // --- views ---------------------------------------------------------------------------------
  route() {
    const [, view = "overview", arg] = location.hash.match(/^#\/([a-z]+)(?:\/(.+))?/) || [];
    const name = VIEWS.includes(view) ? view : "overview";
    for (const v of VIEWS) $(`#view-${v}`).hidden = v !== name;
    for (const link of $$(".tabs a")) link.classList.toggle("active", link.dataset.view === (name === "job" ? "jobs" : name));
    if (name !== "job") this.jobs.close();
    this.view = name;
    if (name === "jobs") this.jobs.load();
    if (name === "job" && arg) this.jobs.open(decodeURIComponent(arg));
    if (name === "workers") this.workers.load();
    if (name === "schedules") this.schedules.load();
    if (name === "overview") this.history.resize();
  }

  showJobs(name) {
    this.jobs.showName(name);
    if (location.hash === "#/jobs") this.jobs.load();
    else location.hash = "#/jobs";
  }

  refreshVisible() {
    if (this.view === "jobs") this.jobs.load();
    if (this.view === "workers") this.workers.load();
    if (this.view === "schedules") this.schedules.load();
  }

  async logout() {
    this.socket?.stop();
    try {
      await call("POST", "logout");
      location.assign("/login");
    } catch {
      $("#logout-form").submit(); // users without the logout API: the page's own endpoint
    }
  }
}

const app = new App();
setInterval(() => { if (app.view === "workers") app.workers.load(); }, 3000);
setInterval(() => { if (app.view === "schedules") app.schedules.load(); }, 10000);
app.start().catch((exc) => {
  console.error(exc);
  const box = $("#fatal");
  box.textContent = `The dashboard could not start: ${exc.message}`;
  box.hidden = false;
});
