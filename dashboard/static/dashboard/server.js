// What the server defines once (jobqueue/states.py, the APIs' core4 handler names): read from
// the JSON the page carries (dashboard/bootstrap.py), never re-typed here.

const SERVER = JSON.parse(document.getElementById("dashboard-bootstrap").textContent);

/** Every job state. */
export const ALL_STATES = SERVER.states;
/** The states of unfinished jobs (the queue's counts), in the order the page shows them. */
export const STATES = SERVER.unfinished;
/** States ``restart`` applies to. */
export const RESTARTABLE = SERVER.restartable;
/** States ``restart`` runs now, the same job: "retry now". */
export const WAITING = SERVER.waiting;
/** Job ids in one ``PUT /job/bulk`` (``CORE4_JOB_BULK_MAX``). */
export const BULK_MAX = SERVER.bulk_max;
export const STATE_LABELS = Object.fromEntries(ALL_STATES.map((s) => [s, s.charAt(0).toUpperCase() + s.slice(1)]));
/** Queue event name -> its tone in the stream (CSS class ``ev-<tone>``), in the server's order. */
export const EVENT_TONES = SERVER.events;
/** The name a job shows under to a user who may not read it. */
export const UNAUTHORIZED = SERVER.unauthorized;
/** The page's key of an API -> its core4 handler name (what ``api://`` permissions name). */
export const HANDLERS = SERVER.handlers;
