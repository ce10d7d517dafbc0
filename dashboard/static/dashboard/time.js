// Times and durations, shown in the browser's zone with the browser's own formatters (Intl).
//
// The API writes datetimes as core4 does: UTC without a zone suffix
// ("2026-11-30T06:40:25.047696"). ``parseTime`` reads such a string as UTC; a string that
// carries its zone ("…Z", "…+00:00") is read as it says. Every clock time on the page uses
// ``fmtTime`` (one format; the date is added when the day is not today), its ``title`` the
// exact UTC time (``utcTitle``); relative times use Intl.RelativeTimeFormat.

const ZONED = /(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$/;

/** A Date from an API time (zone-less = UTC), a Date, or epoch milliseconds; null if none. */
export function parseTime(value) {
  if (value === null || value === undefined || value === "") return null;
  let d;
  if (value instanceof Date) d = new Date(value.getTime());
  else if (typeof value === "number") d = new Date(value);
  else {
    let text = String(value).trim();
    // a date-time without a zone is UTC (the API's convention); a bare date stays as it is
    if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(text) && !ZONED.test(text)) text = `${text.replace(" ", "T")}Z`;
    d = new Date(text);
  }
  return isNaN(d) ? null : d;
}

const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const CLOCK_SHORT = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const DAY = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const DAY_YEAR = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
const FULL = new Intl.DateTimeFormat(undefined, {
  weekday: "short", year: "numeric", month: "short", day: "numeric",
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});
const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

const sameDay = (a, b) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

/** The day of ``d`` as the browser writes it (with the year when not this year). */
export function fmtDay(d) {
  return (d.getFullYear() === new Date().getFullYear() ? DAY : DAY_YEAR).format(d);
}

/** The clock time in the browser's zone; the date before it when the day is not today. */
export function fmtTime(value, { seconds = true } = {}) {
  const d = parseTime(value);
  if (!d) return "–";
  const clock = (seconds ? CLOCK : CLOCK_SHORT).format(d);
  return sameDay(d, new Date()) ? clock : `${fmtDay(d)}, ${clock}`;
}

/** The clock time only (no date): the chart's axis and legend, where the date is shown apart. */
export function fmtClock(value, { seconds = true } = {}) {
  const d = parseTime(value);
  return d ? (seconds ? CLOCK : CLOCK_SHORT).format(d) : "–";
}

/** Exact, for a tooltip: the full local time and the UTC time the API sent. */
export function utcTitle(value) {
  const d = parseTime(value);
  if (!d) return "";
  const utc = d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
  return `${FULL.format(d)}\n${utc}`;
}

const UNITS = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

/** "now", "8 seconds ago", "in 3 minutes", "yesterday" — signed, in the browser's language.
 *  ``past`` treats a time a few seconds in the future (clock skew) as now. */
export function fmtRelative(value, { past = false, now = Date.now() } = {}) {
  const d = parseTime(value);
  if (!d) return "–";
  let seconds = (d.getTime() - now) / 1000;
  if (past && seconds > 0 && seconds < 30) seconds = 0;
  const abs = Math.abs(seconds);
  if (abs < 5) return RELATIVE.format(0, "second");
  for (const [unit, size] of UNITS) {
    if (abs >= size) return RELATIVE.format(Math.trunc(seconds / size), unit);
  }
  return RELATIVE.format(0, "second");
}

/** How long ago (never "in …": a past event whose clock runs slightly ahead is "now"). */
export function fmtAgo(value) {
  return fmtRelative(value, { past: true });
}

/** A duration in seconds: "350 ms", "8.2 s", "3 min 4 s", "30 min", "2 h 5 min", "3 d 4 h". */
export function fmtDuration(seconds) {
  if (typeof seconds !== "number" || !isFinite(seconds)) return "–";
  if (seconds < 1) return `${(seconds * 1000).toFixed(0)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
  const two = (big, bigUnit, small, smallUnit) => (small ? `${big} ${bigUnit} ${small} ${smallUnit}` : `${big} ${bigUnit}`);
  if (m < 60) return two(m, "min", s, "s");
  const hr = Math.floor(m / 60);
  return hr < 48 ? two(hr, "h", m % 60, "min") : two(Math.floor(hr / 24), "d", hr % 24, "h");
}

/** A setting in seconds (wall time, zombie time, …): "1800 s (30 min)", or ``none``. */
export function fmtSeconds(seconds, none = "not set") {
  if (typeof seconds !== "number" || !isFinite(seconds)) return none;
  return seconds >= 60 ? `${seconds} s (${fmtDuration(seconds)})` : `${seconds} s`;
}

/** A job's runtime: the finished attempts' time plus, while it runs, the time since it
 *  started (the API's ``runtime`` counts finished attempts only). */
export function jobRuntime(job, now = Date.now()) {
  const done = typeof job?.runtime === "number" ? job.runtime : 0;
  const started = job?.state === "running" ? parseTime(job.started_at) : null;
  if (started) return done + Math.max(0, (now - started.getTime()) / 1000);
  return typeof job?.runtime === "number" ? job.runtime : null;
}

// --- elements that keep themselves current ------------------------------------------------

const TICK_MS = 1000;
let ticker = null;

function tick() {
  for (const el of document.querySelectorAll("[data-ago]")) el.textContent = fmtAgo(el.dataset.ago);
  for (const el of document.querySelectorAll("[data-rel]")) el.textContent = fmtRelative(el.dataset.rel);
  for (const el of document.querySelectorAll("[data-running-since]")) {
    el.textContent = fmtDuration(jobRuntime({ state: "running", runtime: Number(el.dataset.runtime) || 0, started_at: el.dataset.runningSince }));
  }
}

function startTicker() {
  if (ticker === null) ticker = setInterval(tick, TICK_MS);
}

/** A <time> element: ``kind`` "time" (clock, date when not today), "ago" or "relative";
 *  the exact local and UTC time in its title. Relative ones update themselves. */
export function timeEl(value, kind = "time", attrs = {}) {
  const el = document.createElement("time");
  const d = parseTime(value);
  if (!d) {
    el.textContent = "–";
    return el;
  }
  el.dateTime = d.toISOString();
  el.title = utcTitle(d);
  el.className = `t t-${kind}`;
  if (kind === "ago") {
    el.dataset.ago = d.toISOString();
    el.textContent = fmtAgo(d);
    startTicker();
  } else if (kind === "relative") {
    el.dataset.rel = d.toISOString();
    el.textContent = fmtRelative(d);
    startTicker();
  } else {
    el.textContent = fmtTime(d);
  }
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  return el;
}

/** A job's runtime as text that counts on while the job runs. */
export function runtimeEl(job) {
  const el = document.createElement("span");
  el.className = "runtime";
  el.textContent = fmtDuration(jobRuntime(job));
  const started = job?.state === "running" ? parseTime(job.started_at) : null;
  if (started) {
    el.dataset.runningSince = started.toISOString();
    el.dataset.runtime = String(typeof job.runtime === "number" ? job.runtime : 0);
    startTicker();
  }
  return el;
}
