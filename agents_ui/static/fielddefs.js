/* The admins' ticket fields (hub.ticketfields, GET /api/ticket-fields), read once per page and shared by what draws
 * them: the ticket's panel (ticketfields.js), the list's filter (ticketlist.js) and the bulk bar (bulkbar.js). The
 * admins' page reads them afresh and says when it changed them. An ES module.
 */
const { api } = window.Desk;

let reading = null;

/** The fields, in the order defined ([] when the hub cannot say now: asked again next time). */
export function fieldDefs() {
  if (!reading) reading = api("GET", "/api/ticket-fields").then((d) => d.fields).catch(() => { reading = null; return []; });
  return reading;
}

/** An admin saved or deleted a field on this page (fieldeditor.js): the next ask reads them again. */
export function fieldsChanged() { reading = null; }

/** What the list filters by and the bulk bar sets: each list field's choices, each checkbox's yes and no. */
export function fieldChoices(defs) {
  return defs.flatMap((f) => f.kind === "list" ? f.options.map((o) => ({ field: f, value: o, shown: o }))
    : f.kind === "checkbox" ? [{ field: f, value: true, shown: "yes" }, { field: f, value: false, shown: "no" }] : []);
}
