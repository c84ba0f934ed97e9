/* The ticket fields a macro sets (hub.ticketfields): one control per field, empty for "leave it as it is" — a text,
 * number, date or link typed, a list's choice, yes or no for a checkbox. An ES module; text via textContent.
 */
const { el } = window.Desk;

/** `defs`: GET /api/ticket-fields; `values`: the macro's `fields`. Returns the node and a reader of the values. */
export function fieldPicks(defs, values) {
  values = values || {};
  const controls = defs.map((f) => {
    const id = "set-" + f.key + "-" + Math.random().toString(36).slice(2, 8);
    let input;
    if (f.kind === "list" || f.kind === "checkbox") {
      const choices = f.kind === "list" ? f.options.map((o) => [o, o]) : [["true", "yes"], ["false", "no"]];
      input = el("select", { id, name: "field-" + f.key, dataset: { kind: f.kind } },
        el("option", { value: "" }, "— leave as is"), ...choices.map(([v, l]) => el("option", { value: v }, l)));
      input.value = values[f.key] === undefined ? "" : String(values[f.key]);
    } else {
      const type = { number: "number", date: "date", link: "url" }[f.kind] || "text";
      input = el("input", { id, name: "field-" + f.key, type, step: f.kind === "number" ? "any" : null,
                            value: values[f.key] ?? "", placeholder: "leave as is", dataset: { kind: f.kind } });
    }
    return [f, el("label", { for: id }, f.label, input), input];
  });
  const node = defs.length
    ? el("fieldset", { class: "field-picks" }, el("legend", {}, "Set ticket fields"), ...controls.map(([, l]) => l))
    : null;
  function read() {
    const out = {};
    for (const [f, , input] of controls) {
      const raw = input.value.trim();
      if (!raw) continue;
      out[f.key] = f.kind === "checkbox" ? raw === "true" : f.kind === "number" ? Number(raw) : raw;
    }
    return out;
  }
  return { node, read };
}
