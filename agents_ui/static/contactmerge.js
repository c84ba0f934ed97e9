/* The merge dialog (supervisors): pick the other contact by search, see what moves and whether the hub
 * refuses (two different verified identities of one kind, an erased or already merged contact), confirm.
 * The contact on screen survives; the other stays as a pointer to it. Text via textContent only.
 */
import { contactLine, searchBox } from "./contactsearch.js";

const { api, el } = window.Desk;

function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

export function openMerge(survivor, done) {
  const dialog = el("dialog", { id: "merge-dialog", class: "merge-dialog" });
  const body = el("div", { class: "merge-body" });
  const close = () => { dialog.close(); dialog.remove(); };

  async function choose(other) {
    body.replaceChildren(el("p", { class: "muted" }, "Checking…"));
    let plan;
    try {
      plan = await api("GET", "/api/contacts/" + survivor.id + "/merge?other=" + encodeURIComponent(other.id));
    } catch (ex) {
      body.replaceChildren(el("p", { class: "error", role: "alert" }, ex.message));
      return;
    }
    const error = el("p", { class: "error", role: "alert", id: "merge-error" }, plan.conflict || "");
    const confirm = el("button", { type: "button", id: "merge-confirm", disabled: !!plan.conflict },
                       "Merge into " + plan.survivor.display_name);
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        await api("POST", "/api/contacts/" + survivor.id + "/merge", { other_id: other.id });
        close();
        done();
      } catch (ex) { error.textContent = ex.message; }
    });
    const m = plan.moves;
    body.replaceChildren(
      el("div", { class: "merge-pair" },
        el("div", { class: "merge-side" }, el("small", { class: "muted" }, "Keeps"), contactLine(plan.survivor)),
        el("div", { class: "merge-arrow" }, "←"),
        el("div", { class: "merge-side" }, el("small", { class: "muted" }, "Merged away"), contactLine(plan.other))),
      plan.conflict ? null : el("p", { id: "merge-summary" },
        "Moves " + plural(m.identities, "channel identity") + ", " + plural(m.conversations, "conversation") + " and " +
        plural(m.tickets, "ticket") + " to " + plan.survivor.display_name + ". " + plan.other.display_name +
        " stays on record as merged, and its links lead here."),
      !plan.conflict && plan.other.blocked && !plan.survivor.blocked
        ? el("p", { id: "merge-blocked", class: "merge-blocked" }, plan.other.display_name + " is blocked: " +
             plan.survivor.display_name + " will be blocked too (unblock them after the merge if they should not be).")
        : null,
      error,
      el("div", { class: "row" }, confirm,
        el("button", { type: "button", class: "secondary", onclick: () => choose_again() }, "Pick another")));
  }

  function choose_again() {
    body.replaceChildren(searchBox({ id: "merge-search", pick: choose, exclude: survivor.id }));
  }

  dialog.append(el("div", { class: "merge-title" }, el("h3", {}, "Merge a contact into " + survivor.display_name),
                   el("button", { type: "button", class: "secondary", onclick: close, "aria-label": "Close" }, "×")),
                body);
  document.body.appendChild(dialog);
  choose_again();
  dialog.showModal();
}
