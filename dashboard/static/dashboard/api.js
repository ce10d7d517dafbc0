// The REST client: same-origin requests with the HttpOnly token cookie, core4's envelope.

export class ApiError extends Error {
  constructor(status, envelope) {
    const words = envelope?.error || envelope?.message || `HTTP ${status}`;
    super(words);
    this.status = status;
    this.envelope = envelope;
  }
  get forbidden() { return this.status === 403; }
}

export const API = "/core4/api/v1";

export function toLogin() {
  const next = location.pathname + location.search + location.hash;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

/** Call the API; resolves to the whole envelope (``data`` plus paging), throws ApiError. */
export async function call(method, path, { query, body } = {}) {
  const url = new URL(path.startsWith("/") ? path : `${API}/${path}`, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    url.searchParams.set(key, typeof value === "object" ? JSON.stringify(value) : String(value));
  }
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (exc) {
    throw new ApiError(0, { error: `server not reachable (${exc.message})` });
  }
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    envelope = { error: `unexpected reply (HTTP ${response.status})` };
  }
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, envelope);
  }
  if (!response.ok) throw new ApiError(response.status, envelope);
  return envelope;
}

export const get = (path, query) => call("GET", path, { query });
