/* Bot trainer's workbench: intents, NLU inbox, training with live progress, try-it, versions,
 * evaluation, Rasa YAML import/export. Routes: #/bot/<tab>[/<intent>].
 * Every piece of data reaches the page through textContent or attributes (Desk.el), never as markup.
 */
"use strict";
(() => {
  const { api, el, registerView, onLive, fmtTime } = window.Desk;
  const TABS = [["intents", "Intents"], ["inbox", "NLU inbox"], ["try", "Try it"], ["versions", "Versions"],
    ["evaluation", "Evaluation"], ["negatives", "Out of scope"], ["files", "Import / export"]];
  const CHANNELS = ["", "widget", "email", "sms", "voice", "telegram", "slack"];
  const REASONS = { low_confidence: "unsure", ambiguous: "ambiguous", out_of_scope: "out of scope",
    not_helpful: "didn't help", escalated: "escalated" };
  const TRAIN_HINT = "Train to use it.";
  const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + " %");
  let root = null;
  let intentNames = [];
  let oosIntent = "out_of_scope";

  function route() {
    const parts = location.hash.replace(/^#\//, "").split("/");
    return { tab: TABS.some(([t]) => t === parts[1]) ? parts[1] : "intents",
      name: parts[2] ? decodeURIComponent(parts[2]) : null };
  }

  function message(text, isError) {
    const box = document.getElementById("trainer-message");
    if (!box) return;
    box.textContent = text || "";
    box.className = isError ? "error" : "muted";
  }

  async function guarded(fn) {
    try { await fn(); } catch (ex) { message(ex.message, true); }
  }

  function table(headers, rows, attrs) {
    return el("table", attrs || {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows));
  }

  // ---- frame: status bar with the train button and progress, tabs ---------------------------------
  async function render(container) {
    root = container;
    const { tab } = route();
    const frame = el("div", { class: "trainer" },
      el("div", { class: "trainer-bar" },
        el("span", { id: "model-status", class: "muted" }, "…"),
        el("button", { id: "train-button", type: "button", onclick: onTrain }, "Train"),
        el("progress", { id: "train-progress", max: "1", value: "0" }),
        el("span", { id: "train-status", dataset: { state: "idle" } }, "")),
      el("nav", { class: "trainer-tabs" }, ...TABS.map(([t, title]) =>
        el("a", { href: "#/bot/" + t, class: t === tab ? "active" : "", dataset: { tab: t } }, title))),
      el("p", { id: "trainer-message", class: "muted", role: "status" }),
      el("div", { id: "trainer-body" }));
    container.replaceChildren(frame);
    await guarded(refreshStatus);
    await guarded(loadIntentNames);
    const body = document.getElementById("trainer-body");
    const renderers = { intents: renderIntents, inbox: renderInbox, try: renderTry, versions: renderVersions,
      evaluation: renderEvaluation, files: renderFiles,
      negatives: (b) => window.Desk.oosReport.renderNegatives(b) };
    await guarded(() => renderers[tab](body));
  }

  async function refreshStatus() {
    const s = await api("GET", "/api/trainer/status");
    const line = document.getElementById("model-status");
    if (!line) return;
    const model = s.active_model;
    line.textContent = (model ? "Model #" + model.number + " (training data v" + model.training_version + ")"
      : "Starter model (training data v" + s.answering_with_version + ")") +
      " · newest data v" + s.training_version.number + (s.trained ? " · up to date" : " · not trained yet");
    const running = s.running.train;
    document.getElementById("train-button").disabled = !!running;
    const job = s.last_job;
    if (running) setProgress("train", job && job.kind === "train" ? job : { progress: 0, message: "training" }, "running");
    else if (job && job.status !== "running") {
      // A job that ended while the page was not told (its feed was down) is shown as it ended.
      const label = document.getElementById(job.kind === "train" ? "train-status" : "eval-status");
      if (label && label.dataset.state === "running") setProgress(job.kind, job, job.status === "succeeded" ? "done" : "failed");
    }
  }

  async function loadIntentNames() {
    const data = await api("GET", "/api/trainer/intents");
    intentNames = data.intents.map((i) => i.name);
    oosIntent = data.out_of_scope_intent || "out_of_scope";
    return data;
  }

  function setProgress(kind, job, state) {
    const bar = document.getElementById(kind === "train" ? "train-progress" : "eval-progress");
    const label = document.getElementById(kind === "train" ? "train-status" : "eval-status");
    if (!bar || !label) return;
    bar.value = job.progress || 0;
    label.dataset.state = state;
    label.textContent = state === "done" ? "done" : state === "failed" ? "failed: " + (job.error || job.message) : (job.message || "");
    const box = document.getElementById("trainer-message");
    if (kind === "train" && state === "done" && box && box.textContent.endsWith(TRAIN_HINT)) message("");  // trained now
  }

  async function onTrain() {
    const button = document.getElementById("train-button");
    button.disabled = true;
    setProgress("train", { progress: 0, message: "starting" }, "running");
    try {
      await api("POST", "/api/trainer/train", {});
    } catch (ex) {
      setProgress("train", { progress: 0, error: ex.message }, "failed");
      button.disabled = false;
    }
  }

  onLive((data) => {
    if (!root || !root.isConnected) return;
    if (data.type === "reconnected") {  // events missed while the feed was down: read the state again
      guarded(refreshStatus);
      if (route().tab === "evaluation") guarded(() => loadReport(document.getElementById("eval-report")));
      return;
    }
    if (data.type !== "event") return;
    const e = data.event;
    if (e.type === "bot.training") {
      const state = e.status === "running" ? "running" : e.status === "succeeded" ? "done" : "failed";
      setProgress(e.kind === "train" ? "train" : "evaluate", e, state);
      if (state !== "running") {
        if (e.kind === "train") {
          const button = document.getElementById("train-button");
          if (button) button.disabled = false;
        }
        guarded(refreshStatus);
        if (e.kind === "evaluate" && state === "done" && route().tab === "evaluation") {
          guarded(() => loadReport(document.getElementById("eval-report")));
        }
      }
    } else if (e.type === "bot.model_published") {
      guarded(refreshStatus);
    }
  });

  // ---- intents -----------------------------------------------------------------------------------
  async function renderIntents(body) {
    const { name } = route();
    if (name) return renderEditor(body, name);
    const data = await loadIntentNames();
    const rows = data.intents.map((i) => el("tr", { dataset: { intent: i.name } },
      el("td", {}, el("a", { href: "#/bot/intents/" + encodeURIComponent(i.name) }, i.name)),
      el("td", {}, String(i.examples)),
      el("td", {}, i.answers ? i.channels.join(", ") : "—"),
      el("td", {}, i.queue || "—"),
      el("td", { class: i.f1 !== null && i.f1 < 0.8 ? "weak" : "" }, i.f1 === null ? "—" : i.f1.toFixed(2))));
    const evalNote = data.evaluation ? "F1 from the evaluation of v" + data.evaluation.training_version + " (" +
      fmtTime(data.evaluation.created_at) + ")" : "No evaluation yet: F1 appears after one.";
    const nameInput = el("input", { id: "new-intent-name", placeholder: "new_intent_name", pattern: "[A-Za-z][A-Za-z0-9_\\-]*" });
    body.replaceChildren(
      el("p", { class: "muted" }, "Training data v" + data.version + " · " + data.intents.length + " intents · " + evalNote),
      table(["Intent", "Examples", "Answers", "Escalates to", "F1"], rows, { id: "intent-table" }),
      el("form", { class: "inline", onsubmit: async (ev) => {
        ev.preventDefault();
        await guarded(async () => {
          await api("POST", "/api/trainer/intents", { name: nameInput.value.trim() });
          location.hash = "#/bot/intents/" + encodeURIComponent(nameInput.value.trim());
        });
      } }, nameInput, el("button", { type: "submit" }, "Add intent")));
  }

  function answerRow(answer) {
    const channel = el("select", { class: "answer-channel", "aria-label": "Channel" },
      ...CHANNELS.map((c) => el("option", { value: c, selected: (answer.channel || "") === c }, c || "all channels")));
    const text = el("textarea", { class: "answer-text", "aria-label": "Answer" });
    text.value = answer.text || "";
    const row = el("div", { class: "answer-row" }, channel, text,
      el("button", { type: "button", class: "secondary", onclick: () => row.remove() }, "Remove"));
    row._buttons = answer.buttons || [];
    return row;
  }

  async function renderEditor(body, name) {
    const data = await api("GET", "/api/trainer/intents/" + encodeURIComponent(name));
    const overview = await api("GET", "/api/trainer/intents");
    const examples = el("textarea", { id: "intent-examples", rows: "14", "aria-label": "Examples" });
    examples.value = data.examples.join("\n");
    const answers = el("div", { id: "intent-answers" }, ...data.answers.map(answerRow));
    const queue = el("select", { id: "intent-queue", "aria-label": "Escalate to queue" },
      el("option", { value: "" }, "— answer, do not escalate —"),
      ...overview.queues.map((q) => el("option", { value: q, selected: data.queue === q }, q)));
    const label = el("input", { id: "intent-label", value: data.label || "", placeholder: "Button label" });
    const save = async () => guarded(async () => {
      const rows = [...answers.querySelectorAll(".answer-row")];
      const saved = await api("PUT", "/api/trainer/intents/" + encodeURIComponent(name), {
        examples: examples.value.split("\n").map((s) => s.trim()).filter(Boolean),
        answers: rows.map((r) => ({ text: r.querySelector(".answer-text").value,
          channel: r.querySelector(".answer-channel").value || null, buttons: r._buttons }))
          .filter((a) => a.text.trim()),
        queue: queue.value, label: label.value,
      });
      message(saved.changed ? "Saved as version " + saved.version.number + ": " + saved.version.summary : "No change.");
      await refreshStatus();
    });
    const remove = async () => guarded(async () => {
      if (!confirm("Delete intent " + name + " with its examples and answers?")) return;
      await api("DELETE", "/api/trainer/intents/" + encodeURIComponent(name));
      location.hash = "#/bot/intents";
    });
    body.replaceChildren(el("div", { class: "editor" },
      el("p", {}, el("a", { href: "#/bot/intents" }, "← all intents")),
      el("h2", {}, name),
      el("label", {}, "Examples, one per line ([text](entity) marks entities)", examples),
      el("h3", {}, "Answers"),
      el("p", { class: "muted" }, "A rich answer for all channels (widget, email), short variants for sms and voice."),
      answers,
      el("button", { type: "button", class: "secondary", onclick: () => answers.appendChild(answerRow({ channel: "sms" })) }, "Add variant"),
      el("label", {}, "Escalation", queue),
      el("label", {}, "Label on \"Did you mean\" buttons", label),
      el("div", { class: "actions" },
        el("button", { type: "button", id: "intent-save", onclick: save }, "Save"),
        el("button", { type: "button", class: "secondary", id: "intent-delete", onclick: remove }, "Delete intent"))));
  }

  // ---- NLU inbox -----------------------------------------------------------------------------------
  async function renderInbox(body, reason) {
    const data = await api("GET", "/api/trainer/inbox" + (reason ? "?reason=" + encodeURIComponent(reason) : ""));
    const counts = { ...data.counts };
    const filterText = (r) => REASONS[r] + " (" + (counts[r] || 0) + ")";
    const filters = el("div", { class: "filters" },
      el("button", { type: "button", class: reason ? "secondary" : "", onclick: () => renderInbox(body, null) }, "All"),
      ...Object.keys(REASONS).map((r) => el("button", {
        type: "button", class: r === reason ? "" : "secondary", dataset: { reason: r },
        onclick: () => renderInbox(body, r) }, filterText(r))));
    const empty = () => el("p", { id: "inbox-empty", class: "muted" }, "Nothing to review.");
    // A labelled or dismissed message leaves the list and its reason's count; the last one leaves "Nothing to review".
    const handled = (li, item) => {
      li.remove();
      counts[item.reason] = Math.max(0, (counts[item.reason] || 0) - 1);
      const button = [...filters.children].find((b) => b.dataset.reason === item.reason);
      if (button) button.textContent = filterText(item.reason);
      const list = body.querySelector("#inbox");
      if (list && !list.children.length) list.replaceWith(empty());
    };
    const items = data.items.map((item) => {
      const select = el("select", { class: "label-intent", "aria-label": "Intent" },
        el("option", { value: "" }, "choose intent…"),
        ...intentNames.filter((n) => n !== oosIntent).map((n) => el("option", { value: n, selected: n === item.intent && item.reason !== "not_helpful" }, n)),
        el("option", { value: "__oos__", selected: item.intent === oosIntent && item.reason !== "not_helpful" }, "out of scope"));
      const li = el("li", { dataset: { id: item.id, reason: item.reason } },
        el("div", { class: "inbox-text" }, item.text),
        el("div", { class: "muted" }, REASONS[item.reason] + " · " + item.channel + " · " + fmtTime(item.created_at) +
          (item.intent ? " · bot thought " + item.intent + " (" + pct(item.confidence) + ")" : "")),
        el("div", { class: "actions" }, select,
          el("button", { type: "button", class: "label-save", onclick: () => guarded(async () => {
            if (!select.value) throw new Error("choose an intent first");
            const payload = select.value === "__oos__" ? { out_of_scope: true } : { intent: select.value };
            const saved = await api("POST", "/api/trainer/inbox/" + item.id + "/label", payload);
            handled(li, item);
            message("Added to " + saved.intent + (saved.changed ? " in version " + saved.version.number : " (already there)") + ". " + TRAIN_HINT);
            await refreshStatus();
          }) }, "Label"),
          el("button", { type: "button", class: "secondary label-dismiss", onclick: () => guarded(async () => {
            await api("POST", "/api/trainer/inbox/" + item.id + "/dismiss", {});
            handled(li, item);
          }) }, "Dismiss")));
      return li;
    });
    body.replaceChildren(filters,
      items.length ? el("ul", { id: "inbox", class: "inbox" }, ...items) : empty());
  }

  // ---- try it ------------------------------------------------------------------------------------------
  function renderTry(body) {
    const text = el("input", { id: "tryit-text", placeholder: "Type what a customer might say", autocomplete: "off" });
    const channel = el("select", { id: "tryit-channel", "aria-label": "Channel" },
      ...CHANNELS.filter(Boolean).map((c) => el("option", { value: c }, c)));
    const result = el("div", { id: "tryit-result" });
    const run = async (ev) => {
      ev.preventDefault();
      await guarded(async () => {
        const data = await api("POST", "/api/trainer/try", { text: text.value, channel: channel.value });
        const d = data.decision;
        const top = d.ranking[0];
        result.replaceChildren(
          el("p", {}, "Top intent: ", el("strong", { class: "top-intent" }, top ? top.name : "—"),
            top ? " (" + pct(top.confidence) + ")" : ""),
          el("p", { class: "decision" }, "Decision: ", el("strong", { class: "decision-kind" }, d.kind),
            " · " + (d.reason || "") + (d.queue ? " → queue " + d.queue : "")),
          el("blockquote", { class: "decision-text" }, d.text),
          table(["Intent", "Confidence", ""], d.ranking.map((s) => el("tr", {},
            el("td", {}, s.name), el("td", {}, pct(s.confidence)),
            el("td", {}, el("span", { class: "bar", style: "width:" + Math.round(s.confidence * 200) + "px" }))))),
          d.entities.length ? el("p", {}, "Entities: " + d.entities.map((e) => e.type + "=" + e.value).join(", ")) : null);
      });
    };
    body.replaceChildren(el("form", { id: "tryit-form", class: "inline", onsubmit: run },
      text, channel, el("button", { type: "submit", id: "tryit-go" }, "Try")), result);
    text.focus();
  }

  // ---- versions ----------------------------------------------------------------------------------------
  async function renderVersions(body) {
    const data = await api("GET", "/api/trainer/versions?limit=100");
    const diffBox = el("div", { id: "diff" });
    const rows = data.versions.map((v, index) => el("tr", { dataset: { version: v.number } },
      el("td", {}, "v" + v.number), el("td", {}, fmtTime(v.created_at)), el("td", {}, v.author.name),
      el("td", {}, v.summary), el("td", {}, String(v.examples)),
      el("td", {},
        v.parent ? el("button", { type: "button", class: "secondary", onclick: () => guarded(() => showDiff(diffBox, v.parent, v.number)) }, "Diff") : null,
        index === 0 ? null : el("button", { type: "button", class: "secondary rollback", onclick: () => guarded(async () => {
          if (!confirm("Create a new version equal to v" + v.number + "?")) return;
          const saved = await api("POST", "/api/trainer/versions/" + v.number + "/rollback", {});
          message(saved.changed ? "Version " + saved.version.number + " restores v" + v.number + ". " + TRAIN_HINT : "Already equal.");
          await renderVersions(body);
        }) }, "Roll back to this"))));
    const numbers = data.versions.map((v) => v.number);
    const from = el("select", { id: "diff-from", "aria-label": "From" }, ...numbers.map((n) => el("option", { value: n, selected: n === numbers[1] }, "v" + n)));
    const to = el("select", { id: "diff-to", "aria-label": "To" }, ...numbers.map((n) => el("option", { value: n }, "v" + n)));
    body.replaceChildren(
      el("form", { class: "inline", onsubmit: (ev) => { ev.preventDefault(); guarded(() => showDiff(diffBox, from.value, to.value)); } },
        "Compare ", from, " with ", to, el("button", { type: "submit" }, "Diff")),
      diffBox,
      table(["Version", "When", "Who", "What changed", "Examples", ""], rows, { id: "versions" }));
  }

  async function showDiff(box, from, to) {
    const d = await api("GET", "/api/trainer/diff?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to));
    const blocks = d.intents.map((i) => el("div", { class: "diff-intent " + i.status },
      el("h4", {}, i.intent + " (" + i.status + ")"),
      ...i.examples_added.map((e) => el("div", { class: "add" }, "+ " + e)),
      ...i.examples_removed.map((e) => el("div", { class: "del" }, "− " + e)),
      i.answers_changed ? el("div", {}, "answers: ",
        el("div", { class: "del" }, ...i.answers_before.map((a) => el("div", {}, "− [" + (a.channel || "all") + "] " + a.text))),
        el("div", { class: "add" }, ...i.answers_after.map((a) => el("div", {}, "+ [" + (a.channel || "all") + "] " + a.text)))) : null,
      i.queue_changed ? el("div", {}, "escalation: " + (i.queue_before || "none") + " → " + (i.queue_after || "none")) : null,
      i.label_changed ? el("div", {}, "label: " + (i.label_before || "none") + " → " + (i.label_after || "none")) : null));
    const other = [...d.responses.map((r) => "response " + r.name), ...d.entities.map((e) => e.name),
      ...d.policy.map((p) => "policy " + p.key)];
    box.replaceChildren(el("h3", {}, "v" + d.from.number + " → v" + d.to.number),
      blocks.length || other.length ? el("div", {}, ...blocks, other.length ? el("p", {}, "Also changed: " + other.join(", ")) : null)
        : el("p", { class: "muted" }, "No differences."));
  }

  // ---- evaluation --------------------------------------------------------------------------------------
  async function renderEvaluation(body) {
    const report = el("div", { id: "eval-report" });
    body.replaceChildren(
      el("div", { class: "inline" },
        el("button", { type: "button", id: "eval-button", onclick: () => guarded(async () => {
          setProgress("evaluate", { progress: 0, message: "starting" }, "running");
          await api("POST", "/api/trainer/evaluate", {});
        }) }, "Run cross-validation"),
        el("progress", { id: "eval-progress", max: "1", value: "0" }),
        el("span", { id: "eval-status", dataset: { state: "idle" } })),
      report);
    await loadReport(report);
  }

  async function loadReport(box) {
    if (!box) return;
    let r;
    try {
      r = await api("GET", "/api/trainer/evaluation");
    } catch (ex) {
      if (ex.status === 404) { box.replaceChildren(el("p", { class: "muted" }, "No evaluation yet.")); return; }
      throw ex;
    }
    box.replaceChildren(
      el("p", {}, "Training data v" + r.training_version + " · " + r.folds + "-fold cross-validation · accuracy " +
        pct(r.accuracy) + " · macro F1 " + pct(r.macro_f1) + " · " + fmtTime(r.created_at)),
      table(["Intent", "Precision", "Recall", "F1", "Examples"], r.intents.map((s) => el("tr", {},
        el("td", {}, s.intent), el("td", {}, pct(s.precision)), el("td", {}, pct(s.recall)),
        el("td", { class: s.f1 < 0.8 ? "weak" : "" }, pct(s.f1)), el("td", {}, String(s.support)))), { id: "eval-intents" }),
      el("h3", {}, "Most confused"),
      r.confusions.length ? table(["Intent", "Taken for", "Times"], r.confusions.map((c) => el("tr", {},
        el("td", {}, c.intent), el("td", {}, c.predicted), el("td", {}, String(c.count)))), { id: "eval-confusions" })
        : el("p", { class: "muted" }, "No confusions."));
    const oos = el("div", { id: "eval-oos" });
    box.appendChild(oos);
    await window.Desk.oosReport.render(oos, r, async () => { await refreshStatus(); await loadReport(box); });
  }

  // ---- import / export ---------------------------------------------------------------------------------
  function renderFiles(body) {
    const areas = { nlu: "nlu.yml (required)", domain: "domain.yml (optional: keeps the answers)",
      policy: "policy.yml (optional: keeps the escalation mapping)" };
    const fields = Object.fromEntries(Object.keys(areas).map((k) => [k, el("textarea", { id: "import-" + k, rows: "8", spellcheck: "false" })]));
    body.replaceChildren(
      el("h3", {}, "Export (Rasa 3.x)"),
      el("p", {}, ...["nlu.yml", "domain.yml", "policy.yml"].map((f) =>
        el("a", { href: "/api/trainer/export/" + f, download: f, class: "download" }, f))),
      el("h3", {}, "Import"),
      el("p", { class: "muted" }, "Replaces the examples (and answers, mapping when given) in a new version; nothing is lost: roll back from Versions."),
      ...Object.entries(areas).map(([k, title]) => el("label", {}, title, fields[k])),
      el("button", { type: "button", id: "import-button", onclick: () => guarded(async () => {
        const payload = { nlu: fields.nlu.value };
        if (fields.domain.value.trim()) payload.domain = fields.domain.value;
        if (fields.policy.value.trim()) payload.policy = fields.policy.value;
        const saved = await api("POST", "/api/trainer/import", payload);
        message(saved.changed ? "Imported as version " + saved.version.number + ": " + saved.version.summary : "Same as the newest version: nothing to import.");
        await refreshStatus();
      }) }, "Import"));
  }

  registerView("bot", "Bot", ["trainer"], (container) => { render(container); });
})();
