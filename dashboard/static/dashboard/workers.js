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
      const input = h("input", { id: "maintenance-project", placeholder: "project", size: 12, "aria-label": "project" });
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
      h("td", { class: "strong", text: w.identifier }),
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
        : h("span", { class: "muted", text: "idle" })))));
    if (!alive.length) this.body.append(h("tr", { class: "empty-row" }, h("td", { colspan: 7, text: "No worker is alive." })));
  }
}
