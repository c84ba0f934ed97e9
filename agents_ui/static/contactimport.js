/* Import contacts from a CSV file, or export them (supervisors, on the Contacts page): pick the file, "Check" says what would happen
 * (new contacts, known ones updated, each refused line with its reason) and writes nothing; "Import" does it and says
 * what it did. The browser reads the file and sends its text (POST /api/contacts/import, hub/contactimport.py).
 * Text via textContent only.
 */
const { api, el } = window.Desk;

const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
const MAX_SHOWN = 50;

/** "Export CSV": every contact, in the columns the import reads (GET /api/contacts/export.csv, a download). */
export function exportLink() {
  return el("a", { href: "/api/contacts/export.csv", id: "contact-export", class: "contact-export", download: "" },
            "Export CSV");
}

/** The "Import CSV…" button that opens the dialog. */
export function importOpener() {
  return el("button", { type: "button", id: "contact-import-open", class: "secondary",
                        onclick: openImport }, "Import CSV…");
}

function summary(r) {
  const head = r.dry_run
    ? `${plural(r.created, "new contact")}, ${plural(r.updated, "known contact")} to update`
    : `${plural(r.created, "contact")} created, ${r.updated} updated, ${r.unchanged} unchanged`;
  const refused = r.refused.length ? `; ${plural(r.refused.length, "line")} refused:` : ".";
  const out = [el("p", { id: "import-summary" }, head + refused)];
  if (r.refused.length) {
    out.push(el("ul", { id: "import-refused", class: "import-refused" },
      ...r.refused.slice(0, MAX_SHOWN).map((x) => el("li", {}, `Line ${x.line}: ${x.reason}`)),
      r.refused.length > MAX_SHOWN ? el("li", { class: "muted" }, `… and ${r.refused.length - MAX_SHOWN} more`) : null));
  }
  return out;
}

function openImport() {
  const dialog = el("dialog", { id: "import-dialog", class: "import-dialog" });
  const file = el("input", { type: "file", id: "import-file", accept: ".csv,text/csv,text/plain" });
  const check = el("button", { type: "button", id: "import-check", class: "secondary" }, "Check");
  const run = el("button", { type: "button", id: "import-run", hidden: true }, "Import");
  const result = el("div", { id: "import-result", role: "status" });
  const close = () => { dialog.close(); dialog.remove(); };
  let text = null;
  file.addEventListener("change", () => { text = null; run.hidden = true; check.hidden = false; result.replaceChildren(); });

  async function send(dryRun) {
    const picked = file.files[0];
    if (!picked) {
      result.replaceChildren(el("p", { class: "error", role: "alert" }, "Pick a CSV file first."));
      return;
    }
    text = text === null ? await picked.text() : text;
    check.disabled = run.disabled = true;
    try {
      const r = await api("POST", "/api/contacts/import", { csv: text, dry_run: dryRun });
      result.replaceChildren(...summary(r));
      run.hidden = !dryRun || r.created + r.updated === 0;
      check.hidden = !dryRun;
    } catch (ex) {
      result.replaceChildren(el("p", { class: "error", role: "alert" }, ex.message));
    } finally {
      check.disabled = run.disabled = false;
    }
  }
  check.addEventListener("click", () => send(true));
  run.addEventListener("click", () => send(false));

  dialog.append(
    el("div", { class: "merge-title" }, el("h3", {}, "Import contacts"),
       el("button", { type: "button", class: "secondary", onclick: close, "aria-label": "Close" }, "×")),
    el("p", { class: "muted" }, "A CSV file whose first row names the columns: name, email, phone, tags (separated by ",
       el("code", {}, ";"), "), and any other column is kept as an attribute. Each row needs an email or a phone (with its ",
       "country code); a known address updates its contact, the others are created. At most 1,000 rows."),
    el("div", { class: "row" }, file, check, run), result);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.appendChild(dialog);
  dialog.showModal();
}
