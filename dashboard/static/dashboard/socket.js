// The live event socket (/core4/api/v1/event): interest in "queue", resume with "since",
// reconnect with back-off. Authenticated by the HttpOnly cookie the browser sends along.

import { toLogin } from "./api.js";

const ZERO_ID = "0".repeat(24);
const BACKOFF = [500, 1000, 2000, 4000, 5000];

/** Event ids are 24 hex digits: equal length, so string order is id order. */
export const idAfter = (a, b) => a.length === b.length ? a > b : a.length > b.length;

export class EventStream extends EventTarget {
  constructor(channels = ["queue"]) {
    super();
    this.channels = channels;
    this.lastId = null;      // the newest event id seen (resume point)
    this.resumeFromStart = false;
    this.ws = null;
    this.attempt = 0;
    this.state = "idle";     // idle | connecting | open | closed | denied
    this.stopped = false;
    this.received = 0;
  }

  /** Start after the history was loaded: events after ``lastId`` are replayed first. */
  start(lastId, historyKnown) {
    if (lastId) this.lastId = lastId;
    else if (historyKnown) this.resumeFromStart = true; // history empty: replay all (none yet)
    this.connect();
  }

  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...detail } }));
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.setState("connecting");
    const ws = new WebSocket(`${scheme}://${location.host}/core4/api/v1/event`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const frame = { type: "interest", data: this.channels };
      const since = this.lastId || (this.resumeFromStart ? ZERO_ID : null);
      if (since) frame.since = since;
      ws.send(JSON.stringify(frame));
    });
    ws.addEventListener("message", (msg) => this.onFrame(msg.data));
    ws.addEventListener("close", (ev) => this.onClose(ev, ws));
  }

  onFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === "interest") {
      this.attempt = 0;
      this.setState("open");
      return;
    }
    if (frame.type) {
      if (frame.type === "error") console.warn("event socket:", frame.message);
      return;
    }
    if (frame.name === "summary") {
      this.dispatchEvent(new CustomEvent("summary", { detail: frame }));
      return;
    }
    if (typeof frame._id !== "string") return;
    if (this.lastId && !idAfter(frame._id, this.lastId)) return; // already seen
    this.lastId = frame._id;
    this.received += 1;
    this.dispatchEvent(new CustomEvent("event", { detail: frame }));
  }

  onClose(ev, ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    if (ev.code === 4401) {
      this.setState("closed", { code: ev.code });
      toLogin();
      return;
    }
    if (ev.code === 4403) {
      this.stopped = true;
      this.setState("denied", { code: ev.code });
      return;
    }
    if (this.stopped) return;
    this.setState("closed", { code: ev.code });
    const hold = Math.max(0, (this.holdUntil || 0) - Date.now());
    const delay = Math.max(hold, BACKOFF[Math.min(this.attempt, BACKOFF.length - 1)]);
    this.attempt += 1;
    setTimeout(() => this.connect(), delay);
  }

  /** Test and debugging hook: drop the connection as a network failure would, and stay
   *  away for ``holdMs`` before reconnecting. */
  drop(holdMs = 0) {
    this.holdUntil = Date.now() + holdMs;
    if (this.ws) this.ws.close(4000, "dropped by the page");
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
  }
}
