/* The page a one-time setup or reset link opens: the user chooses their own password.
 * The token is in the URL's fragment (#token=…), which browsers never send to a server; it is
 * removed from the address bar at once. Names go through textContent, never innerHTML.
 */
const MIN = 8;
const form = document.getElementById("set-password-form");
const error = document.getElementById("set-password-error");
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
history.replaceState(null, "", location.pathname);

async function call(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                body: JSON.stringify(body), credentials: "omit" });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
  return data;
}

function finish(text) {
  form.hidden = true;
  document.getElementById("set-password-result").textContent = text;
  document.getElementById("set-password-done").hidden = false;
}

async function start() {
  if (!token) { finish("This link is incomplete: open the whole link you were given, or ask an admin for a new one."); return; }
  try {
    const link = await call("/api/password-links/check", { token });
    const until = new Date(link.expires_at).toLocaleString();
    document.getElementById("set-password-who").textContent = (link.purpose === "reset" ? "Choose a new password" :
      "Welcome, " + link.name + ". Choose your password") + " for the username " + link.username +
      " (this link works once, until " + until + ").";
    form.hidden = false;
    form.password.focus();
  } catch (ex) {
    finish(ex.message);
  }
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.textContent = "";
  const password = form.password.value;
  if (password.length < MIN) { error.textContent = `The password needs at least ${MIN} characters.`; return; }
  if (password !== form.again.value) { error.textContent = "The two passwords differ."; return; }
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const done = await call("/api/password-links/use", { token, password });
    finish("Your password is set. Log in as " + done.username + ".");
  } catch (ex) {
    error.textContent = ex.message;
  } finally {
    button.disabled = false;
  }
});

start();
