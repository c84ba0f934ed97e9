/* Labelled <select>s for the desk's forms (automation rules, macros). An ES module. */
const { el } = window.Desk;

/** A labelled select of `options` ([value, text]) with `value` chosen ("" for none). */
export const pick = (name, label, options, value) => el("label", {}, label, el("select", { name, "aria-label": label },
  ...options.map(([v, t]) => el("option", { value: v, selected: (value || "") === v }, t))));

/** A picker of `choices` ([value, text]) and "—", that keeps a stored value it no longer offers, marked
 * "(gone)": saving the form does not drop it unseen. */
export const choose = (name, label, choices, value, gone) => pick(name, label, [["", "—"],
  ...(value && !choices.some(([v]) => v === value) ? [[value, value + " (" + gone + ")"]] : []), ...choices], value);
