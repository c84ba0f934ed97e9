/* Help center: "Was this article helpful?" without a page reload. A random visitor token kept in
 * localStorage makes a reader's answer count once per article (no cookies). Without scripts the form
 * still posts and the hub falls back to the address and browser.
 */
const KEY = "sb_help_visitor";

function visitor() {
  try {
    let token = localStorage.getItem(KEY);
    if (!token) {
      token = crypto.randomUUID();
      localStorage.setItem(KEY, token);
    }
    return token;
  } catch (e) {
    return "";
  }
}

for (const form of document.querySelectorAll("form[data-feedback]")) {
  form.elements.namedItem("visitor").value = visitor();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter;
    const data = new URLSearchParams({ visitor: form.elements.namedItem("visitor").value, answer: button.value });
    const thanks = form.querySelector(".thanks[hidden]") || form.querySelector(".thanks");
    try {
      const r = await fetch(form.action, { method: "POST", body: data, headers: { Accept: "application/json" },
                                           credentials: "omit" });
      const answer = await r.json().catch(() => ({}));
      thanks.textContent = r.ok ? "Thanks for letting us know." : (answer.error || "That did not work; try again.");
    } catch (e) {
      thanks.textContent = "That did not work; try again.";
    }
    for (const b of form.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
    thanks.hidden = false;
  });
}
