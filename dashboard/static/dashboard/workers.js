// Workers: who is alive and what they run (/core4/api/v1/system), and the maintenance state.

import { call, get } from "./api.js";
import { $, clear, confirmDialog, deniedNote, h, progressBar, toast } from "./dom.js";
import { UNAUTHORIZED } from "./server.js";
import { timeEl } from "./time.js";

export class Workers {
  constructor(app) {
    this.app = app;
    this.root = $("#view-workers");
    this.body = $("#workers-table tbody");
    this.mode = $("#maintenance");
    this.error = $("#workers-error");
  }

  // Pause/resume (PUT /system/pause|resume): the whole queue for administrators, a project
  // for whoever may execute jobs; the server decides per project and says why in words.
  controls(paused, projects) {
    if (!this.app.can("system", "u")) return [];
    const buttons = [];
    if (this.app.access?.admin) {
      buttons.push(h("button", {
        class: "btn btn-small", id: "maintenance-toggle", text: paused ? "Resume queue" : "Pause queue",
        onclick: () => this.change(paused ? "resume" : "pause", null),
      }));
    }
    if (this.app.access?.admin || this.app.access?.execute_any) {
      // rebuilt on every refresh (3 s): keep what the user typed, and the focus
      const old = document.getElementById("maintenance-project");
      const input = h("input", { id: "maintenance-project", placeholder: "project", size: 12, "aria-label": "project" });
      if (old) {
        input.value = old.value;
        if (document.activeElement === old) queueMicrotask(() => input.focus());
      }
      buttons.push(h("span", { class: "inline-form" }, input,
        h("button", { class: "btn btn-small", id: "project-pause", text: "Pause project",
          onclick: () => this.change("pause", input.value.trim()) }),
        h("button", { class: "btn btn-small", id: "project-resume", text: "Resume project",
          onclick: () => this.change("resume", input.value.trim()) })));
    }
    for (const project of projects) {
      if (!this.app.access?.admin && !this.app.access?.execute_any) break;
      buttons.push(h("button", { class: "btn btn-small", text: `Resume ${project}`,
        onclick: () => this.change("resume", project) }));
    }
    return buttons;
  }

  async change(action, project) {
    if (project === "") { toast("Name a project first", "error"); return; }
    const what = project ? `project ${project}` : "the whole queue";
    const title = `${action === "pause" ? "Pause" : "Resume"} ${what}?`;
    const text = action === "pause"
      ? "Workers stop picking new jobs; running jobs go on."
      : "Workers pick jobs again.";
    if (!(await confirmDialog(title, text, action === "pause" ? "Pause" : "Resume", action === "pause"))) return;
    try {
      await call("PUT", `system/${action}`, { body: project ? { project } : {} });
      toast(`${action === "pause" ? "Paused" : "Resumed"} ${what}`, "ok");
    } catch (exc) {
      toast(`${title.slice(0, -1)} failed: ${exc.message}`, "error");
    }
    await this.load();
  }

  // Per worker (PUT /system/worker/<identifier>/quiet|stop|resume), for administrators (cop):
  // stop picking jobs (running ones go on), pick again, stop gracefully as on SIGTERM.
  workerActions(w) {
    if (!this.app.access?.admin || !this.app.can("system", "u")) return [];
    const button = (action, text, danger = false) => h("button", {
      class: `btn btn-small${danger ? " btn-danger-outline" : ""}`, text,
      dataset: { workerAction: action },
      onclick: () => this.workerAction(w.identifier, action),
    });
    if (w.mode === "stopping") return [];
    return [w.mode === "quiet" ? button("resume", "Resume") : button("quiet", "Quiet"), button("stop", "Stop", true)];
  }

  async workerAction(identifier, action) {
    const [title, text, label] = {
      quiet: [`Quiet worker ${identifier}?`, "It stops picking new jobs; its running jobs go on.", "Quiet"],
      resume: [`Resume worker ${identifier}?`, "It picks jobs again.", "Resume"],
      stop: [`Stop worker ${identifier}?`,
        "It stops picking and exits when its running jobs have ended; jobs still running after "
        + "the grace period are ended and retried later. It does not start again by itself.", "Stop"],
    }[action];
    if (!(await confirmDialog(title, text, label, action === "stop"))) return;
    try {
      const mode = (await call("PUT", `system/worker/${encodeURIComponent(identifier)}/${action}`)).data?.mode;
      toast(`Worker ${identifier}: ${mode}`, "ok");
    } catch (exc) {
      toast(`${label} worker ${identifier} failed: ${exc.message}`, "error");
    }
    await this.load();
  }

  async load() {
    if (!this.app.can("system", "r")) {
      clear($(".panel-body", this.root), deniedNote("the system API", this.app.handler("system")));
      return;
    }
    let data;
    try {
      data = (await get("system")).data;
    } catch (exc) {
      if (exc.forbidden) {
        clear($(".panel-body", this.root), deniedNote("the system API", this.app.handler("system")));
      } else {
        this.error.textContent = exc.message;
        this.error.hidden = false;
      }
      return;
    }
    this.error.hidden = true;
    const alive = data.alive || [];
    this.root.dataset.workers = String(alive.length);
    const paused = data.maintenance?.system;
    const projects = data.maintenance?.project || [];
    clear(this.mode,
      h("span", { class: `pill ${paused ? "pill-warn" : "pill-ok"}`, text: paused ? "Queue paused (maintenance)" : "Queue active" }),
      projects.length ? h("span", { class: "pill pill-warn", text: `paused projects: ${projects.join(", ")}` }) : null,
      ...this.controls(paused, projects));
    clear(this.body, alive.map((w) => h("tr", { dataset: { worker: w.identifier } },
      h("td", { class: "strong" }, w.identifier,
        w.mode && w.mode !== "active" ? h("span", { class: "pill pill-warn worker-mode", text: w.mode }) : null),
      h("td", { text: w.hostname }),
      h("td", { class: "num", text: w.pid }),
      h("td", { class: "started" }, timeEl(w.started, "ago")),
      h("td", { class: "heartbeat" }, timeEl(w.heartbeat, "ago")),
      h("td", { class: "num", text: `${(w.running || []).length} / ${w.concurrency}` }),
      h("td", {}, (w.running || []).length
        ? h("ul", { class: "running-list" }, w.running.map((job) => h("li", {},
          this.app.can("job", "r") && job.qual_name !== UNAUTHORIZED
            ? h("a", { href: `#/job/${encodeURIComponent(job._id)}`, text: job.qual_name })
            : h("span", { class: job.qual_name === UNAUTHORIZED ? "masked" : "", text: job.qual_name }),
          progressBar(job.prog?.value, job.prog?.message, "running"))))
        : h("span", { class: "muted", text: "idle" })),
      h("td", { class: "actions" }, ...this.workerActions(w)))));
    if (!alive.length) this.body.append(h("tr", { class: "empty-row" }, h("td", { colspan: 8, text: "No worker is alive." })));
  }
}
