// Jobs: the paged, filterable, sortable list — unfinished jobs (the queue) or finished ones
// (the journal) — with selection and one action on many jobs; the detail with live output;
// kill/remove/restart and the enqueue form, offered where the server says the user may
// execute the job.

import { ApiError, call, get } from "./api.js";
import {
  $, $$, clear, confirmDialog, deniedNote, flagBadges, fmtAgo, fmtDateTime, fmtDuration, h,
  parseTime, progressBar, stateBadge, toast,
} from "./dom.js";
import { ALL_STATES, BULK_MAX, RESTARTABLE, STATES, WAITING } from "./server.js";
import { fmtSeconds, runtimeEl, timeEl } from "./time.js";

const PER_PAGE = 25;
const MAX_LINES = 5000;
/** A result longer than this is folded in the job detail (click to show). */
const RESULT_FOLD_CHARS = 2000;
const RESULT_FOLD_LINES = 40;
/** Jobs "select all matching" selects at most (it reads them from the listing, 1000 a page). */
export const SELECT_MAX = 1000;

/** The two listings: the queue (``/job``) and the journal of finished jobs (``/job/journal``). */
const SCOPES = {
  queue: {
    path: "job", title: "Jobs in the queue", states: () => STATES, time: "enqueued.at",
    timeLabel: "enqueued", when: ["query_at", "Next run"], sort: ["enqueued.at", -1],
    empty: "The queue is empty.", noMatch: "No unfinished job matches the filter.",
  },
  journal: {
    path: "job/journal", title: "Finished jobs", states: () => ALL_STATES, time: "ended_at",
    timeLabel: "ended", when: ["ended_at", "Ended"], sort: ["ended_at", -1],
    empty: "No finished job within the retention.", noMatch: "No finished job matches the filter.",
  },
};

/** Which actions make sense for a job in its current state. */
export function actionsFor(job) {
  if (job.journal) return []; // out of the queue: history only
  const actions = [];
  if (job.state === "running") actions.push("kill");
  if (!job.flag?.removed) actions.push("remove");
  if (RESTARTABLE.includes(job.state)) actions.push("restart");
  return actions;
}

/** "n / m": attempts used of those allowed, the running one counted — as `coco --listing`
 *  shows it (jobqueue/cli.py `attempt`). A run that defers or is killed uses no attempt;
 *  `trial` counts every run. */
export function attemptOf(job) {
  if (job.attempts == null || job.attempts_left == null) return "?";
  const used = job.attempts - job.attempts_left + (job.state === "running" ? 1 : 0);
  return `${used} / ${job.attempts}`;
}

/** A button's word: restart of a deferred or failed job runs it now, the same job. */
export function actionLabel(action, job) {
  if (action === "restart" && WAITING.includes(job.state)) return "Retry now";
  return action[0].toUpperCase() + action.slice(1);
}

const ACTION_TEXT = {
  kill: ["Kill job", "The job's process will be killed (SIGKILL) and the job ends as killed."],
  remove: ["Remove job", "The job will be taken out of the queue once it is not running."],
  restart: ["Restart job", "The job will run again (a killed, inactive or failed-for-good job runs as a new job)."],
};
const BULK_TEXT = {
  kill: ["Kill", "Running jobs among them are killed (SIGKILL) and end as killed."],
  remove: ["Remove", "They are taken out of the queue (running ones once they stop)."],
  restart: ["Restart", "Deferred and failed jobs run now (retry now, the same job); killed, inactive and failed-for-good jobs run again as new jobs."],
};

/** When a waiting job runs next: "in 12 s", "due now", "–". */
export function fmtDue(value) {
  const d = parseTime(value);
  if (!d) return "–";
  const s = (d.getTime() - Date.now()) / 1000;
  return s <= 0 ? "due now" : `in ${fmtDuration(Math.round(s))}`;
}

/** A ``datetime-local`` value (the browser's zone) as the API's UTC ISO text. */
function toUtc(value) {
  const d = value ? new Date(value) : null;
  return d && !isNaN(d) ? d.toISOString().replace(/Z$/, "") : null;
}

export class Jobs {
  constructor(app) {
    this.app = app;
    this.root = $("#view-jobs");
    this.detailRoot = $("#view-job");
    this.body = $("#jobs-table tbody");
    this.pager = $("#jobs-pager");
    this.error = $("#jobs-error");
    this.page = 0;
    this.scope = "queue";
    this.sort = null; // [key, 1|-1]; null: the scope's default
    this.selected = new Map(); // id -> qual_name, across pages
    this.total = 0;
    this.nameFilter = $("#jobs-filter-name");
    this.stateFilter = $("#jobs-filter-state");
    this.fromFilter = $("#jobs-filter-from");
    this.toFilter = $("#jobs-filter-to");
    this.stateOptions();
    this.nameFilter.addEventListener("input", () => this.refilter());
    for (const input of [this.stateFilter, this.fromFilter, this.toFilter]) {
      input.addEventListener("change", () => this.refilter());
    }
    for (const button of $$("#jobs-scope button")) {
      button.addEventListener("click", () => this.setScope(button.dataset.scope));
    }
    for (const th of $$("#jobs-table th[data-sort]")) th.addEventListener("click", () => this.sortBy(th.dataset.sort));
    $("#jobs-select-page").addEventListener("change", (ev) => this.selectPage(ev.target.checked));
    $("#jobs-select-matching").addEventListener("click", () => this.selectMatching());
    for (const button of $$("#jobs-bulk [data-bulk]")) button.addEventListener("click", () => this.bulk(button.dataset.bulk));
    $("#jobs-bulk-clear").addEventListener("click", () => { this.selected.clear(); this.renderSelection(); });
    $("#enqueue-form").addEventListener("submit", (ev) => this.enqueue(ev));
    this.follow = null;
    this.current = null;
  }

  stateOptions() {
    const keep = this.stateFilter.value;
    const states = SCOPES[this.scope].states();
    clear(this.stateFilter, h("option", { value: "", text: "all states" }),
      states.map((s) => h("option", { value: s, text: s })));
    this.stateFilter.value = states.includes(keep) ? keep : "";
  }

  setScope(scope) {
    if (!SCOPES[scope] || scope === this.scope) return;
    this.settleFilter();
    this.scope = scope;
    this.sort = null;
    this.page = 0;
    this.selected.clear();
    this.stateOptions();
    for (const button of $$("#jobs-scope button")) button.classList.toggle("active", button.dataset.scope === scope);
    this.root.dataset.scope = scope;
    const { title, timeLabel, when } = SCOPES[scope];
    $("#jobs-title").textContent = title;
    $("#jobs-time-label").textContent = timeLabel;
    const head = $("#jobs-when-head");
    head.dataset.sort = when[0];
    head.textContent = when[1];
    this.load();
  }

  sortBy(key) {
    this.settleFilter();
    const [current, direction] = this.sort || SCOPES[this.scope].sort;
    this.sort = [key, current === key ? -direction : 1];
    this.page = 0;
    this.load();
  }

  refilter() {
    clearTimeout(this.filterTimer);
    this.filterTimer = setTimeout(() => { this.filterTimer = null; this.page = 0; this.selected.clear(); this.load(); }, 250);
  }

  /** A filter typed just before another action applies now, not 250 ms later (when it
   *  would drop a selection made in between). */
  settleFilter() {
    if (!this.filterTimer) return;
    clearTimeout(this.filterTimer);
    this.filterTimer = null;
    this.page = 0;
    this.selected.clear();
  }

  filterDoc() {
    const doc = {};
    if (this.stateFilter.value) doc.state = this.stateFilter.value;
    const range = {};
    const from = toUtc(this.fromFilter.value);
    const to = toUtc(this.toFilter.value);
    if (from) range.$gte = from;
    if (to) range.$lt = to;
    if (from || to) doc[SCOPES[this.scope].time] = range;
    return Object.keys(doc).length ? doc : null;
  }

  /** The listing's arguments for ``page``: filter, search (id, name, arguments), sort. */
  query(page, perPage) {
    return {
      page, per_page: perPage, filter: this.filterDoc(),
      search: this.nameFilter.value.trim(), sort: [this.sort || SCOPES[this.scope].sort],
    };
  }

  showName(name) {
    this.setScope("queue");
    this.nameFilter.value = name;
    this.stateFilter.value = "";
    this.fromFilter.value = "";
    this.toFilter.value = "";
    this.selected.clear();
    this.page = 0;
  }

  async load() {
    if (!this.app.can("job", "r")) {
      $("#panel-jobs .filters").hidden = true;
      clear($("#panel-jobs .panel-body"), deniedNote("the job API", this.app.handler("job")));
      return;
    }
    const scope = SCOPES[this.scope];
    const seq = this.loadSeq = (this.loadSeq || 0) + 1; // only the latest load renders
    let reply;
    try {
      reply = await get(scope.path, this.query(this.page, PER_PAGE));
    } catch (exc) {
      if (seq !== this.loadSeq) return;
      this.error.textContent = exc.message;
      this.error.hidden = false;
      return;
    }
    const jobs = reply.data || [];
    for (const job of jobs) this.app.rememberName(job._id, job.qual_name);
    await this.app.loadAccess(jobs.map((j) => j.qual_name));
    if (seq !== this.loadSeq) return;
    this.error.hidden = true;
    this.total = reply.total_count ?? jobs.length;
    this.root.dataset.total = String(this.total);
    this.onPage = jobs;
    clear(this.body, jobs.map((job) => this.row(job)));
    const filtered = this.filterDoc() || this.nameFilter.value.trim();
    if (!jobs.length) this.body.append(h("tr", { class: "empty-row" }, h("td", { colspan: 10, text: filtered ? scope.noMatch : scope.empty })));
    this.renderPager(reply);
    this.renderSortHeads();
    this.renderSelection();
  }

  selectable(job) {
    return this.app.canExecute(job.qual_name) && actionsFor(job).length > 0;
  }

  row(job) {
    const when = this.scope === "journal"
      ? h("td", { class: "time when", title: fmtDateTime(job.ended_at), text: fmtAgo(job.ended_at) })
      : h("td", { class: "time when", title: job.query_at ? `${fmtDateTime(job.query_at)}${job.state === "failed" ? " (retry after a failure)" : ""}` : "", text: fmtDue(job.query_at) });
    const box = h("input", {
      type: "checkbox", "aria-label": `Select job ${job._id}`, disabled: !this.selectable(job),
      onchange: (ev) => {
        if (ev.target.checked) this.selected.set(job._id, job.qual_name);
        else this.selected.delete(job._id);
        this.renderSelection();
      },
    });
    return h("tr", { dataset: { jobId: job._id, state: job.state } },
      h("td", { class: "select" }, box),
      h("td", {}, h("a", { class: "mono", href: `#/job/${encodeURIComponent(job._id)}`, text: job._id })),
      h("td", { class: "name", text: job.qual_name }),
      h("td", {}, stateBadge(job.state)),
      h("td", { class: "progress-cell" }, progressBar(job.prog?.value, job.prog?.message, job.state)),
      h("td", { class: "enqueued" }, timeEl(job.enqueued?.at, "ago"), ` by ${job.enqueued?.by || "?"}`),
      when,
      h("td", { class: "num", text: attemptOf(job) }),
      h("td", { class: "flags" }, flagBadges(job.flag)),
      h("td", { class: "actions" }, this.buttons(job, true)));
  }

  renderSortHeads() {
    const [key, direction] = this.sort || SCOPES[this.scope].sort;
    for (const th of $$("#jobs-table th[data-sort]")) {
      if (th.dataset.sort === key) th.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  }

  renderPager(reply) {
    const pages = reply.page_count || 0;
    const page = reply.page || 0;
    clear(this.pager,
      h("button", { class: "btn btn-small", disabled: page <= 0, text: "‹ Previous", onclick: () => { this.page = page - 1; this.load(); } }),
      h("span", { class: "muted", text: pages ? `page ${page + 1} of ${pages} · ${reply.total_count} jobs` : "no jobs" }),
      h("button", { class: "btn btn-small", disabled: page + 1 >= pages, text: "Next ›", onclick: () => { this.page = page + 1; this.load(); } }));
  }

  // --- selection and actions on many jobs ---------------------------------------------------
  renderSelection() {
    const selectable = (this.onPage || []).filter((job) => this.selectable(job));
    for (const tr of $$("tr[data-job-id]", this.body)) {
      const on = this.selected.has(tr.dataset.jobId);
      tr.classList.toggle("selected", on);
      const box = $("td.select input", tr);
      if (box) box.checked = on;
    }
    const pageBox = $("#jobs-select-page");
    const chosen = selectable.filter((job) => this.selected.has(job._id)).length;
    pageBox.checked = selectable.length > 0 && chosen === selectable.length;
    pageBox.indeterminate = chosen > 0 && chosen < selectable.length;
    pageBox.disabled = selectable.length === 0;
    const n = this.selected.size;
    $("#jobs-bulk").hidden = n === 0;
    this.root.dataset.selected = String(n);
    $("#jobs-bulk-count").textContent = `${n} job${n === 1 ? "" : "s"} selected`;
    const more = $("#jobs-select-matching");
    more.hidden = !(pageBox.checked && this.total > n);
    more.disabled = this.total > SELECT_MAX;
    more.textContent = this.total > SELECT_MAX
      ? `${this.total} jobs match: narrow the filter to select them all (at most ${SELECT_MAX})`
      : `Select all ${this.total} matching jobs`;
  }

  async selectPage(on) {
    if (this.filterTimer) { this.settleFilter(); await this.load(); } // select what the filter shows
    for (const job of this.onPage || []) {
      if (!this.selectable(job)) continue;
      if (on) this.selected.set(job._id, job.qual_name);
      else this.selected.delete(job._id);
    }
    this.renderSelection();
  }

  /** Every job matching the filter that the user may act on, read from the listing. */
  async selectMatching() {
    if (this.filterTimer) { this.settleFilter(); await this.load(); }
    const scope = SCOPES[this.scope];
    const found = [];
    try {
      for (let page = 0; found.length < SELECT_MAX; page++) {
        const reply = await get(scope.path, this.query(page, SELECT_MAX));
        found.push(...(reply.data || []));
        if (page + 1 >= (reply.page_count || 0)) break;
      }
    } catch (exc) {
      toast(`Could not select the matching jobs: ${exc.message}`, "error");
      return;
    }
    await this.app.loadAccess(found.map((job) => job.qual_name));
    for (const job of found.slice(0, SELECT_MAX)) {
      if (this.selectable(job)) this.selected.set(job._id, job.qual_name);
    }
    this.renderSelection();
  }

  /** One action on the selected jobs: one confirmation, ``PUT /job/bulk`` in chunks of
   *  ``CORE4_JOB_BULK_MAX`` ids, a result per job. */
  async bulk(action) {
    const ids = [...this.selected.keys()];
    if (!ids.length) return;
    const [verb, text] = BULK_TEXT[action];
    const title = `${verb} ${ids.length} job${ids.length === 1 ? "" : "s"}`;
    const ok = await confirmDialog(title, `${text}\n\nEach job is checked and acted on by itself; you get a result per job.`, verb);
    if (!ok) return;
    const results = {};
    for (let i = 0; i < ids.length; i += BULK_MAX) {
      const chunk = ids.slice(i, i + BULK_MAX);
      try {
        Object.assign(results, (await call("PUT", "job/bulk", { body: { action, ids: chunk } })).data);
      } catch (exc) {
        for (const id of chunk) results[id] = { ok: false, error: exc.message };
      }
    }
    const names = new Map(this.selected);
    this.selected.clear();
    this.showResults(action, results, names);
    this.app.refreshSoon();
  }

  showResults(action, results, names) {
    const box = $("#jobs-bulk-results");
    const entries = Object.entries(results);
    const failed = entries.filter(([, r]) => !r.ok).length;
    const verb = BULK_TEXT[action][0];
    const link = (id) => h("a", { class: "mono", href: `#/job/${encodeURIComponent(id)}`, text: id });
    clear(box,
      h("strong", { text: `${verb}: ${entries.length - failed} of ${entries.length} done${failed ? `, ${failed} failed` : ""}.` }),
      " ",
      h("button", { type: "button", class: "btn btn-small", text: "Dismiss", onclick: () => { box.hidden = true; } }),
      h("ul", {}, entries.map(([id, r]) => h("li", {
        class: r.ok ? "bulk-ok" : "bulk-failed", dataset: { jobId: id, ok: String(Boolean(r.ok)) },
      }, link(id), ` ${names.get(id) || ""}: `,
      r.ok
        ? (typeof r.data === "string" && r.data !== id ? ["restarted as ", link(r.data)] : "done")
        : r.error || "failed"))));
    box.hidden = false;
    toast(`${verb}: ${entries.length - failed} of ${entries.length} done`, failed ? "error" : "ok");
  }

  buttons(job, small = false) {
    if (!this.app.canExecute(job.qual_name)) return [];
    return actionsFor(job).map((action) => h("button", {
      class: `btn ${small ? "btn-small" : ""} ${action === "restart" ? "" : "btn-danger-outline"}`,
      dataset: { action },
      text: actionLabel(action, job),
      onclick: () => this.act(action, job),
    }));
  }

  async act(action, job) {
    const [title, text] = ACTION_TEXT[action];
    const ok = await confirmDialog(title, `${text}\n\n${job.qual_name} (${job._id})`, title.split(" ")[0]);
    if (!ok) return;
    try {
      const reply = await call("PUT", `job/${action}/${encodeURIComponent(job._id)}`);
      if (action === "restart" && reply.data && reply.data !== job._id) {
        toast(`Restarted as new job ${reply.data}`, "ok");
        location.hash = `#/job/${encodeURIComponent(reply.data)}`;
      } else {
        toast(`${title.split(" ")[0]} requested for ${job._id}`, "ok");
      }
    } catch (exc) {
      toast(`${title} failed: ${exc.message}`, "error");
    }
    this.app.refreshSoon();
  }

  // --- enqueue ---------------------------------------------------------------------------
  async enqueue(ev) {
    ev.preventDefault();
    const form = ev.target;
    const out = $("#enqueue-error");
    out.hidden = true;
    const body = { qual_name: form.qual_name.value.trim() };
    const text = form.args.value.trim();
    if (text) {
      try {
        body.args = JSON.parse(text);
      } catch (exc) {
        out.textContent = `Arguments are not valid JSON: ${exc.message}`;
        out.hidden = false;
        return;
      }
    }
    for (const key of ["priority", "attempts"]) {
      if (form[key].value.trim() !== "") body[key] = Number(form[key].value);
    }
    try {
      const reply = await call("POST", "job", { body });
      toast(`Enqueued ${body.qual_name} as ${reply.data}`, "ok");
      form.args.value = "";
      location.hash = `#/job/${encodeURIComponent(reply.data)}`;
    } catch (exc) {
      out.textContent = exc.message;
      out.hidden = false;
    }
  }

  // --- detail ----------------------------------------------------------------------------
  async open(id) {
    this.close();
    this.current = id;
    const root = this.detailRoot;
    const body = $(".panel-body", root);
    if (!this.app.can("job", "r")) {
      clear(body, deniedNote("the job API", this.app.handler("job")));
      return;
    }
    clear(body, h("p", { class: "muted", text: "loading…" }));
    let job;
    try {
      job = (await get(`job/${encodeURIComponent(id)}`)).data;
    } catch (exc) {
      clear(body, h("div", { class: exc instanceof ApiError && exc.forbidden ? "denied" : "error-box", text: exc.message }));
      return;
    }
    await this.app.loadAccess([job.qual_name]);
    this.lines = 0;
    this.resultText = undefined;
    clear(body,
      h("div", { class: "detail-head" },
        h("div", {}, h("h2", { class: "detail-title", text: job.qual_name }), h("div", { class: "mono muted", text: job._id })),
        h("div", { class: "detail-actions" })),
      h("div", { class: "detail-grid" }),
      h("div", { class: "detail-error" }),
      h("h3", { text: "Arguments" }),
      h("pre", { class: "code detail-args" }),
      h("h3", { text: "Result" }),
      h("div", { class: "detail-result" }),
      h("h3", {}, "Output ", h("span", { class: "live-dot", hidden: true, text: "live" })),
      h("pre", { class: "code output", "aria-live": "off" }));
    this.render(job);
    this.followJob(id);
  }

  render(job) {
    if (job._id !== this.current) return;
    const root = this.detailRoot;
    root.dataset.state = job.state;
    root.dataset.jobId = job._id;
    this.app.rememberName(job._id, job.qual_name);
    clear($(".detail-actions", root), stateBadge(job.state), flagBadges(job.flag), this.buttons(job));
    const e = job.enqueued || {};
    const link = (id) => id ? h("a", { class: "mono", href: `#/job/${encodeURIComponent(id)}`, text: id }) : "–";
    const fields = [
      ["State", `${job.state}${job.highstate && job.highstate !== job.state ? ` (${job.highstate})` : ""}${job.journal ? ", journaled" : ""}`],
      ["Progress", progressBar(job.prog?.value, job.prog?.message, job.state)],
      ["Progress message", job.prog?.message || "–"],
      ["Enqueued", h("span", {}, timeEl(e.at), ` (`, timeEl(e.at, "ago"), `) by ${e.by || "?"} on ${e.hostname || "?"}`)],
      ["Started", timeEl(job.started_at)],
      ["Finished", timeEl(job.finished_at)],
      ["Next run", job.query_at ? h("span", {}, timeEl(job.query_at, "relative"), " (", timeEl(job.query_at), ")", nextRunReason(job)) : "–"],
      ["Ended", job.ended_at ? h("span", {}, timeEl(job.ended_at), job.journal ? ", out of the queue" : "") : "–"],
      ["Runtime", runtimeEl(job)],
      ["Attempt", `${attemptOf(job).replace(" / ", " of ")} (${job.attempts_left ?? "?"} left), run ${job.trial ?? 0} (deferrals count as runs)`],
      ["Priority", job.priority ?? 0],
      ["Worker", job.locked ? `${job.locked.worker} (${job.locked.hostname}, pid ${job.locked.pid})` : (job.worker || "any")],
      ["Parent", link(e.parent_id)],
      ["Child", link(e.child_id)],
      ["Wall time", fmtSeconds(job.wall_time, "no limit")],
      ["Zombie time", fmtSeconds(job.zombie_time, "no limit")],
      ["Timeout", fmtSeconds(job.timeout, "none")],
      ["Defer time", fmtSeconds(job.defer_time)],
      ["Retry after failure", fmtErrorTime(job.error_time)],
    ];
    clear($(".detail-grid", root), fields.map(([label, value]) => h("div", { class: "field" },
      h("div", { class: "field-label", text: label }), h("div", { class: "field-value" }, value))));
    $(".detail-args", root).textContent = JSON.stringify(job.args ?? {}, null, 2);
    this.renderResult(job);
    const err = job.last_error;
    clear($(".detail-error", root), err && (err.exception || err.traceback)
      ? h("div", { class: "error-box" },
        h("strong", {}, "Last error", err.timestamp ? [" (", timeEl(err.timestamp), ")"] : null, ": "),
        h("span", { text: err.exception || "" }),
        err.traceback ? h("pre", { class: "code traceback", text: Array.isArray(err.traceback) ? err.traceback.join("") : String(err.traceback) }) : null)
      : null);
  }

  /** What ``execute`` returned, as text (never markup); folded when it is long. Drawn
   *  again only when it changed, so an opened fold stays open while the job is followed. */
  renderResult(job) {
    const text = job.result === undefined || job.result === null ? null : JSON.stringify(job.result, null, 2);
    if (text === this.resultText) return;
    this.resultText = text;
    const box = $(".detail-result", this.detailRoot);
    if (text === null) {
      clear(box, h("p", { class: "muted", text: job.state === "complete" ? "none (execute returned nothing)" : "none yet" }));
      return;
    }
    const pre = h("pre", { class: "code result", text });
    const lines = text.split("\n").length;
    clear(box, text.length > RESULT_FOLD_CHARS || lines > RESULT_FOLD_LINES
      ? h("details", { class: "result-fold" }, h("summary", { class: "muted", text: `${lines} lines, ${new Blob([text]).size} bytes — show` }), pre)
      : pre);
  }

  /** The job's state on every change and its output line by line, as server-sent events
   *  (``/job/follow/<id>``) read with fetch: EventSource cannot choose its Accept header,
   *  and the API answers EventSource's ``text/event-stream`` with 406. */
  async followJob(id) {
    const control = new AbortController();
    this.follow = control;
    const root = this.detailRoot;
    const out = $(".output", root);
    const live = $(".live-dot", root);
    live.hidden = false;
    const handlers = {
      state: (data) => this.render(data),
      log: (item) => {
        if (item.lineno === 0) out.textContent = ""; // a new attempt replaces the output
        const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
        out.append(document.createTextNode(`${item.message}\n`));
        if (++this.lines > MAX_LINES) out.firstChild?.remove();
        if (stick) out.scrollTop = out.scrollHeight;
      },
    };
    let closed = false;
    try {
      const response = await fetch(`/core4/api/v1/job/follow/${encodeURIComponent(id)}`, {
        credentials: "same-origin", headers: { Accept: "*/*" }, signal: control.signal,
      });
      if (!response.ok) {
        const envelope = await response.json().catch(() => ({}));
        throw new Error(envelope.error || `HTTP ${response.status}`);
      }
      for await (const [event, data] of sseFrames(response.body)) {
        if (event === "close") { closed = true; break; }
        handlers[event]?.(JSON.parse(data));
      }
    } catch (exc) {
      if (control.signal.aborted) return;
      out.append(h("span", { class: "muted", text: `(output not available: ${exc.message})` }));
    } finally {
      live.hidden = true;
    }
    if (control.signal.aborted || this.follow !== control) return;
    if (!out.textContent) out.textContent = "(no output)";
    if (!closed) {
      // the stream ended early (server restart, time limit): follow again
      setTimeout(() => { if (this.follow === control) this.open(id); }, 2000);
    }
  }

  close() {
    if (this.follow) this.follow.abort();
    this.follow = null;
    this.current = null;
  }
}

/** ``error_time``: seconds, or a backoff spec ``{base, factor, max, jitter}`` (the n-th
 *  failure waits ``min(max, base × factor^(n-1))`` s, spread by ±jitter). */
export function fmtErrorTime(value) {
  if (value && typeof value === "object") {
    const parts = [`${fmtSeconds(value.base)}, × ${value.factor} per failure, at most ${fmtSeconds(value.max)}`];
    if (value.jitter) parts.push(`± ${Math.round(value.jitter * 100)} %`);
    return `backoff: ${parts.join(", ")}`;
  }
  return fmtSeconds(value);
}

/** Why a waiting job runs next at ``query_at``: a retry after a failure, or a deferral. */
function nextRunReason(job) {
  if (job.state === "failed") {
    const used = (job.attempts ?? 0) - (job.attempts_left ?? 0);
    return ` — retry: attempt ${used + 1} of ${job.attempts ?? "?"}`;
  }
  if (job.state === "deferred") return " — deferred";
  return null;
}

/** ``[event, data]`` pairs of a server-sent-events body. */
async function* sseFrames(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const [field, ...rest] = line.split(":");
        const text = rest.join(":").replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) yield [event, data.join("\n")];
    }
  }
}
