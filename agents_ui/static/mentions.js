/* "@" in a private note: as the agent types "@Bo", the colleagues whose name matches are offered under the reply
 * box (arrows and Enter, or a click); the chosen name goes in the text as "@Bob Stone". When the note is sent, every
 * colleague named so in its text is sent as `mentions` (their ids), and their desks mark the ticket for them
 * (attention.js). Only private notes mention: the customer never reads "@". An ES module; text via textContent.
 */
import { mentionable } from "./names.js";

const { el, hooks, state } = window.Desk;

const SHOWN = 6;
const list = el("ul", { id: "mention-list", class: "mention-list", role: "listbox", hidden: true });
let offered = [];
let current = 0;

const box = () => document.getElementById("reply-text");
const privateNote = () => document.getElementById("reply-private").checked;

/** The "@query" the caret is in, or null: `{start, query}`. */
function typing(text, caret) {
  const m = /(^|\s)@([^\s@]{0,30})$/.exec(text.slice(0, caret));
  return m ? { start: caret - m[2].length - 1, query: m[2].toLowerCase() } : null;
}

function close() { list.hidden = true; offered = []; }

function draw() {
  list.replaceChildren(...offered.map((a, i) => el("li", {
    role: "option", class: i === current ? "current" : "", "aria-selected": i === current ? "true" : "false",
    dataset: { agent: a.id }, onmousedown: (e) => { e.preventDefault(); choose(a); } }, a.name)));
  list.hidden = offered.length === 0;
}

function offer() {
  const text = box();
  const at = privateNote() ? typing(text.value, text.selectionStart) : null;
  if (!at) { close(); return; }
  const me = state.me ? state.me.id : null;
  offered = mentionable().filter((a) => a.id !== me && a.name.toLowerCase().split(/\s+/)
    .concat([a.name.toLowerCase()]).some((word) => word.startsWith(at.query))).slice(0, SHOWN);
  current = 0;
  draw();
}

function choose(agent) {
  const text = box();
  const at = typing(text.value, text.selectionStart);
  if (!at) return;
  const insert = "@" + agent.name + " ";
  text.value = text.value.slice(0, at.start) + insert + text.value.slice(text.selectionStart);
  text.selectionStart = text.selectionEnd = at.start + insert.length;
  text.focus();
  close();
}

/** The ids of the colleagues named "@Name" in the note's text. */
function namedIn(text) {
  return mentionable().filter((a) => {
    const i = text.indexOf("@" + a.name);
    const after = text.charAt(i + a.name.length + 1);
    return i >= 0 && !/[\p{L}\p{N}]/u.test(after);  // "@Bob" is not "@Bobby"
  }).map((a) => a.id);
}

hooks.replyFields.push((text, isPrivate) => {
  const ids = isPrivate ? namedIn(text) : [];
  return ids.length ? { mentions: ids } : {};
});

document.addEventListener("DOMContentLoaded", () => {
  const text = box();
  const form = document.getElementById("reply-form");
  form.style.position = "relative";
  text.after(list);
  text.addEventListener("input", offer);
  text.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== text) close(); }, 150));
  document.getElementById("reply-private").addEventListener("change", () => { if (!privateNote()) close(); });
  text.addEventListener("keydown", (e) => {
    if (list.hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      current = (current + (e.key === "ArrowDown" ? 1 : offered.length - 1)) % offered.length;
      draw();
    } else if (e.key === "Enter" || e.key === "Tab") {
      choose(offered[current]);
    } else if (e.key === "Escape") {
      close();
    } else {
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
  });
  text.placeholder = "Write a reply… (in a private note, @ mentions a colleague)";
});
