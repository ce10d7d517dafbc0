// Jobs: the paged, filterable list; the detail with live output; kill/remove/restart and
// the enqueue form, offered where the server says the user may execute the job.

import { ApiError, call, get } from "./api.js";
import {
  $, clear, confirmDialog, deniedNote, flagBadges, h, progressBar, stateBadge, toast,
} from "./dom.js";
import { RESTARTABLE, STATES } from "./server.js";
import { fmtSeconds, runtimeEl, timeEl } from "./time.js";

const PER_PAGE = 25;
const MAX_LINES = 5000;

/** Which actions make sense for a job in its current state. */
export function actionsFor(job) {
  if (job.journal) return job.state === "complete" ? [] : (RESTARTABLE.includes(job.state) ? ["restart"] : []);
  const actions = [];
  if (job.state === "running") actions.push("kill");
  if (!job.flag?.removed) actions.push("remove");
  if (RESTARTABLE.includes(job.state)) actions.push("restart");
  return actions;
}

const ACTION_TEXT = {
  kill: ["Kill job", "The job's process will be killed (SIGKILL) and the job ends as killed."],
  remove: ["Remove job", "The job will be taken out of the queue once it is not running."],
  restart: ["Restart job", "The job will run again (a killed, inactive or failed-for-good job runs as a new job)."],
};

export class Jobs {
  constructor(app) {
    this.app = app;
    this.root = $("#view-jobs");
    this.detailRoot = $("#view-job");
    this.body = $("#jobs-table tbody");
    this.pager = $("#jobs-pager");
    this.error = $("#jobs-error");
    this.page = 0;
    this.nameFilter = $("#jobs-filter-name");
    this.stateFilter = $("#jobs-filter-state");
    for (const s of STATES) this.stateFilter.append(h("option", { value: s, text: s }));
    this.nameFilter.addEventListener("input", () => this.refilter());
    this.stateFilter.addEventListener("change", () => this.refilter());
    $("#enqueue-form").addEventListener("submit", (ev) => this.enqueue(ev));
    this.follow = null;
    this.current = null;
  }

  refilter() {
    clearTimeout(this.filterTimer);
    this.filterTimer = setTimeout(() => { this.page = 0; this.load(); }, 250);
  }

  filterDoc() {
    const doc = {};
    const name = this.nameFilter.value.trim();
    if (name) doc.qual_name = { $regex: name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") };
    if (this.stateFilter.value) doc.state = this.stateFilter.value;
    return Object.keys(doc).length ? doc : null;
  }

  showName(name) {
    this.nameFilter.value = name;
    this.stateFilter.value = "";
    this.page = 0;
  }

  async load() {
    if (!this.app.can("job", "r")) {
      $("#panel-jobs .filters").hidden = true;
      clear($("#panel-jobs .panel-body"), deniedNote("the job API", this.app.handler("job")));
      return;
    }
    let reply;
    try {
      reply = await get("job", { page: this.page, per_page: PER_PAGE, filter: this.filterDoc(), sort: "enqueued.at", order: -1 });
    } catch (exc) {
      this.error.textContent = exc.message;
      this.error.hidden = false;
      return;
    }
    this.error.hidden = true;
    const jobs = reply.data || [];
    for (const job of jobs) this.app.rememberName(job._id, job.qual_name);
    await this.app.loadAccess(jobs.map((j) => j.qual_name));
    this.root.dataset.total = String(reply.total_count ?? jobs.length);
    clear(this.body, jobs.map((job) => this.row(job)));
    if (!jobs.length) this.body.append(h("tr", { class: "empty-row" }, h("td", { colspan: 8, text: this.filterDoc() ? "No unfinished job matches the filter." : "The queue is empty." })));
    this.renderPager(reply);
  }

  row(job) {
    return h("tr", { dataset: { jobId: job._id, state: job.state } },
      h("td", {}, h("a", { class: "mono", href: `#/job/${encodeURIComponent(job._id)}`, text: job._id })),
      h("td", { class: "name", text: job.qual_name }),
      h("td", {}, stateBadge(job.state)),
      h("td", { class: "progress-cell" }, progressBar(job.prog?.value, job.prog?.message, job.state)),
      h("td", { class: "enqueued" }, timeEl(job.enqueued?.at, "ago"), ` by ${job.enqueued?.by || "?"}`),
      h("td", { class: "num", text: `${job.trial ?? 0} / ${job.attempts ?? "?"}` }),
      h("td", { class: "flags" }, flagBadges(job.flag)),
      h("td", { class: "actions" }, this.buttons(job, true)));
  }

  renderPager(reply) {
    const pages = reply.page_count || 0;
    const page = reply.page || 0;
    clear(this.pager,
      h("button", { class: "btn btn-small", disabled: page <= 0, text: "‹ Newer", onclick: () => { this.page = page - 1; this.load(); } }),
      h("span", { class: "muted", text: pages ? `page ${page + 1} of ${pages} · ${reply.total_count} jobs` : "no jobs" }),
      h("button", { class: "btn btn-small", disabled: page + 1 >= pages, text: "Older ›", onclick: () => { this.page = page + 1; this.load(); } }));
  }

  buttons(job, small = false) {
    if (!this.app.canExecute(job.qual_name)) return [];
    return actionsFor(job).map((action) => h("button", {
      class: `btn ${small ? "btn-small" : ""} ${action === "restart" ? "" : "btn-danger-outline"}`,
      dataset: { action },
      text: action[0].toUpperCase() + action.slice(1),
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
    clear(body,
      h("div", { class: "detail-head" },
        h("div", {}, h("h2", { class: "detail-title", text: job.qual_name }), h("div", { class: "mono muted", text: job._id })),
        h("div", { class: "detail-actions" })),
      h("div", { class: "detail-grid" }),
      h("div", { class: "detail-error" }),
      h("h3", { text: "Arguments" }),
      h("pre", { class: "code detail-args" }),
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
      ["Runtime", runtimeEl(job)],
      ["Trial / attempts", `${job.trial ?? 0} of ${job.attempts ?? "?"} (${job.attempts_left ?? "?"} left)`],
      ["Priority", job.priority ?? 0],
      ["Worker", job.locked ? `${job.locked.worker} (${job.locked.hostname}, pid ${job.locked.pid})` : (job.worker || "any")],
      ["Parent", link(e.parent_id)],
      ["Child", link(e.child_id)],
      ["Wall time", fmtSeconds(job.wall_time, "no limit")],
      ["Zombie time", fmtSeconds(job.zombie_time, "no limit")],
      ["Defer / error time", `${fmtSeconds(job.defer_time)} / ${fmtSeconds(job.error_time)}`],
    ];
    clear($(".detail-grid", root), fields.map(([label, value]) => h("div", { class: "field" },
      h("div", { class: "field-label", text: label }), h("div", { class: "field-value" }, value))));
    $(".detail-args", root).textContent = JSON.stringify(job.args ?? {}, null, 2);
    const err = job.last_error;
    clear($(".detail-error", root), err && (err.exception || err.traceback)
      ? h("div", { class: "error-box" },
        h("strong", {}, "Last error", err.timestamp ? [" (", timeEl(err.timestamp), ")"] : null, ": "),
        h("span", { text: err.exception || "" }),
        err.traceback ? h("pre", { class: "code traceback", text: Array.isArray(err.traceback) ? err.traceback.join("") : String(err.traceback) }) : null)
      : null);
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
