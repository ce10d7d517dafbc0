// The login form: the login API sets the HttpOnly token cookie; the page never sees it again.

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

function target() {
  let next = new URLSearchParams(location.search).get("next") || "/";
  // only paths of this site, never another origin
  if (!next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) next = "/";
  // a server redirect keeps the fragment (the dashboard's view) on this page's URL
  if (!next.includes("#") && location.hash) next += location.hash;
  return next;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.hidden = true;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const response = await fetch("/core4/api/v1/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    if (response.ok) {
      location.replace(target());
      return;
    }
    let words = `login failed (HTTP ${response.status})`;
    try {
      const envelope = await response.json();
      if (response.status === 401) words = "Wrong username or password, or the user is inactive.";
      else if (envelope.error) words = envelope.error;
    } catch { /* keep the generic words */ }
    error.textContent = words;
    error.hidden = false;
  } catch (exc) {
    error.textContent = `The server is not reachable: ${exc.message}`;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
