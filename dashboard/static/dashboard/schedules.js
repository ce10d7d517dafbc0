// Schedules (/core4/api/v1/schedule): when each job runs next (in the viewer's zone), how it
// last ran; enable/disable, run now, create, edit and delete — offered where the server says
// the user may execute the job. Class schedules (a job class's `schedule`) are read-only.

import { call, get } from "./api.js";
import { $, clear, confirmDialog, debounce, deniedNote, h, qualName, toast } from "./dom.js";
import { fmtRelative, timeEl } from "./time.js";

const PER_PAGE = 25;
/** The viewer's own zone: the default of a new cron schedule. */
export const VIEWER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

const OUTCOME_CLASS = { enqueued: "pill-ok", exists: "pill-warn", failed: "pill-bad" };

export class Schedules {
  constructor(app) {
    this.app = app;
    this.root = $("#view-schedules");
    this.body = $("#schedules-table tbody");
    this.pager = $("#schedules-pager");
    this.error = $("#schedules-error");
    this.form = $("#schedule-form");
    this.page = 0;
    this.editing = null; // the schedule being edited (with its etag), or null
    this.filter = $("#schedules-filter");
    this.filter.addEventListener("input", debounce(() => { this.page = 0; this.load(); }, 250));
    this.form.addEventListener("submit", (ev) => this.submit(ev));
    this.form.kind.addEventListener("change", () => this.kindChanged());
    $("#schedule-cancel").addEventListener("click", () => this.resetForm());
    this.form.timezone.value = VIEWER_ZONE;
    this.zonesListed = false;
  }

  kindChanged() {
    const cron = this.form.kind.value === "cron";
    this.form.when.placeholder = cron ? "*/5 * * * *" : "seconds, e.g. 300";
    this.form.when.inputMode = cron ? "text" : "numeric";
    this.form.timezone.disabled = !cron;
  }

  listZones() {
    if (this.zonesListed || typeof Intl.supportedValuesOf !== "function") return;
    this.zonesListed = true;
    clear($("#zone-names"), ["UTC", ...Intl.supportedValuesOf("timeZone")].map((zone) => h("option", { value: zone })));
  }

  async load() {
    if (!this.app.can("job", "r")) {
      clear($("#panel-schedules .panel-body"), deniedNote("the job API", this.app.handler("job")));
      return;
    }
    $("#schedule-panel").hidden = !(this.app.can("job", "c") && this.app.access?.execute_any);
    this.listZones();
    const text = this.filter.value.trim();
    let reply;
    try {
      reply = await get("schedule", {
        page: this.page, per_page: PER_PAGE, sort: JSON.stringify([["next_run", 1], ["_id", 1]]),
        filter: text || undefined,
      });
    } catch (exc) {
      this.error.textContent = exc.message;
      this.error.hidden = false;
      return;
    }
    this.error.hidden = true;
    const items = reply.data || [];
    await this.app.loadAccess(items.map((s) => s.name));
    for (const s of items) this.app.addKnownName(s.name);
    this.root.dataset.schedules = String(reply.total_count || 0);
    clear(this.body, items.map((s) => this.row(s)));
    if (!items.length) {
      this.body.append(h("tr", { class: "empty-row" }, h("td", { colspan: 6, text: text ? "No schedule matches the filter." : "No schedules yet." })));
    }
    const pages = reply.page_count || 0;
    const page = reply.page || 0;
    clear(this.pager,
      h("button", { class: "btn btn-small", disabled: page <= 0, text: "‹ Previous", onclick: () => { this.page = page - 1; this.load(); } }),
      h("span", { class: "muted", text: pages ? `page ${page + 1} of ${pages} · ${reply.total_count} schedules` : "" }),
      h("button", { class: "btn btn-small", disabled: page + 1 >= pages, text: "Next ›", onclick: () => { this.page = page + 1; this.load(); } }));
  }

  row(s) {
    const fromClass = s.source === "class";
    const may = this.app.canExecute(s.name);
    const next = s.enabled && s.next_run
      ? [timeEl(s.next_run, "time", { class: "t t-time next-run" }), h("span", { class: "muted small rel", text: ` (${fmtRelative(s.next_run)})` })]
      : [h("span", { class: "muted", text: "–" })];
    const outcome = s.last_outcome
      ? h("span", { class: `pill ${OUTCOME_CLASS[s.last_outcome] || ""} outcome`, text: s.last_outcome })
      : null;
    const toggle = h("input", {
      type: "checkbox", class: "toggle", checked: s.enabled, "aria-label": `${s.enabled ? "Disable" : "Enable"} schedule of ${s.name}`,
      disabled: fromClass || !may || !this.app.can("job", "u"),
      title: fromClass ? "a class schedule: change the job class" : "",
      onchange: (ev) => this.setEnabled(s, ev.target.checked, ev.target),
    });
    return h("tr", { dataset: { scheduleId: s._id, source: s.source, enabled: String(s.enabled) } },
      h("td", { class: "name" }, qualName(s.name),
        fromClass ? h("span", { class: "pill pill-class", title: "from the job class's schedule attribute: read-only here", text: "class" }) : null),
      h("td", { class: "when" }, h("code", { text: s.schedule }),
        Object.keys(s.args || {}).length ? h("div", { class: "muted small mono args", text: JSON.stringify(s.args) }) : null),
      h("td", { class: "next" }, ...next),
      h("td", { class: "last" }, s.last_run ? timeEl(s.last_run, "ago") : h("span", { class: "muted", text: "never" }), " ", outcome),
      h("td", { class: "enabled" }, h("label", { class: "switch" }, toggle, h("span", { text: s.enabled ? "on" : "off" })),
        !s.enabled && s.reason ? h("div", { class: "muted small reason", text: s.reason }) : null),
      h("td", { class: "actions" }, ...this.actions(s, may, fromClass)));
  }

  actions(s, may, fromClass) {
    if (!may) return [];
    const out = [];
    if (this.app.can("job", "c")) {
      out.push(h("button", { class: "btn btn-small", dataset: { action: "run" }, text: "Run now", onclick: () => this.runNow(s) }));
    }
    if (fromClass) return out;
    if (this.app.can("job", "u")) {
      out.push(h("button", { class: "btn btn-small", dataset: { action: "edit" }, text: "Edit", onclick: () => this.edit(s) }));
    }
    if (this.app.can("job", "d")) {
      out.push(h("button", { class: "btn btn-small btn-danger-outline", dataset: { action: "delete" }, text: "Delete", onclick: () => this.remove(s) }));
    }
    return out;
  }

  async setEnabled(s, enabled, box) {
    box.disabled = true;
    try {
      await call("PUT", `schedule/${encodeURIComponent(s._id)}`, { body: { etag: s.etag, enabled } });
      toast(`${enabled ? "Enabled" : "Disabled"} the schedule of ${s.name}`, "ok");
    } catch (exc) {
      toast(`Could not ${enabled ? "enable" : "disable"} the schedule: ${exc.message}`, "error");
    }
    await this.load();
  }

  async runNow(s) {
    if (!(await confirmDialog(`Run ${s.name} now?`, "Its job is enqueued now with the schedule's arguments; the next scheduled run stays.", "Run now", false))) return;
    try {
      const reply = await call("POST", `schedule/${encodeURIComponent(s._id)}/run`);
      toast(`Enqueued ${s.name} as ${reply.data}`, "ok");
    } catch (exc) {
      toast(`Run now failed: ${exc.message}`, "error");
    }
    await this.load();
  }

  async remove(s) {
    if (!(await confirmDialog(`Delete the schedule of ${s.name}?`, `${s.schedule} — it will not run any more.`, "Delete"))) return;
    try {
      await call("DELETE", `schedule/${encodeURIComponent(s._id)}`, { query: { etag: s.etag } });
      toast(`Deleted the schedule of ${s.name}`, "ok");
    } catch (exc) {
      toast(`Delete failed: ${exc.message}`, "error");
    }
    await this.load();
  }

  edit(s) {
    this.editing = s;
    const form = this.form;
    form.name.value = s.name;
    form.args.value = Object.keys(s.args || {}).length ? JSON.stringify(s.args) : "";
    form.kind.value = s.cron ? "cron" : "interval";
    form.when.value = s.cron || String(s.interval ?? "");
    form.timezone.value = s.timezone || "UTC";
    form.enabled.checked = s.enabled;
    form.reason.value = s.reason || "";
    this.kindChanged();
    $("#schedule-form-title").textContent = `Edit schedule ${s._id}`;
    $("#schedule-submit").textContent = "Save";
    $("#schedule-cancel").hidden = false;
    $("#schedule-error").hidden = true;
    $("#schedule-details").open = true;
    form.scrollIntoView({ block: "nearest" });
  }

  resetForm() {
    this.editing = null;
    this.form.reset();
    this.form.timezone.value = VIEWER_ZONE;
    this.kindChanged();
    $("#schedule-form-title").textContent = "New schedule";
    $("#schedule-submit").textContent = "Create";
    $("#schedule-cancel").hidden = true;
    $("#schedule-error").hidden = true;
  }

  async submit(ev) {
    ev.preventDefault();
    const form = this.form;
    const out = $("#schedule-error");
    out.hidden = true;
    const body = { name: form.name.value.trim(), enabled: form.enabled.checked, reason: form.reason.value };
    const text = form.args.value.trim();
    try {
      body.args = text ? JSON.parse(text) : {};
    } catch (exc) {
      out.textContent = `Arguments are not valid JSON: ${exc.message}`;
      out.hidden = false;
      return;
    }
    const when = form.when.value.trim();
    if (form.kind.value === "cron") {
      Object.assign(body, { cron: when, interval: null, timezone: form.timezone.value.trim() || "UTC" });
    } else {
      if (!/^\d+$/.test(when)) {
        out.textContent = "The interval is a whole number of seconds.";
        out.hidden = false;
        return;
      }
      Object.assign(body, { cron: null, interval: Number(when) });
    }
    try {
      if (this.editing) {
        const reply = await call("PUT", `schedule/${encodeURIComponent(this.editing._id)}`, { body: { ...body, etag: this.editing.etag } });
        toast(reply.data === "no changes" ? "Nothing changed" : `Saved the schedule of ${body.name}`, "ok");
      } else {
        await call("POST", "schedule", { body });
        toast(`Scheduled ${body.name}`, "ok");
      }
      this.resetForm();
      $("#schedule-details").open = false;
    } catch (exc) {
      out.textContent = exc.message;
      out.hidden = false;
      return;
    }
    await this.load();
  }
}
