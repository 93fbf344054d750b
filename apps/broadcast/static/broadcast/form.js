// The broadcast form as staff edit it: markers and buttons as rows, the segment's audience counted and the
// message previewed as they type, before saving. The server checks, counts and draws (the admin's own form
// behind two endpoints); this script only asks and shows.
(function () {
  "use strict";
  const script = document.currentScript;
  const form = document.getElementById("broadcast_form");
  if (!form) return;

  function debounced(run, wait) {
    let timer;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(run, wait);
    };
  }

  // POSTs the whole form (the CSRF token with it) to an endpoint; a newer question cancels an older one.
  function asker(url) {
    let pending;
    return async () => {
      if (pending) pending.abort();
      pending = new AbortController();
      try {
        const response = await fetch(url, {
          method: "POST", body: new FormData(form), credentials: "same-origin", signal: pending.signal,
        });
        return await response.json();
      } catch (error) {
        return null; // cancelled by a newer question, or the server away: the last answer stays
      }
    };
  }

  // --- Markers and buttons: rows of two inputs written back into the JSON textarea ------------------------
  const WHOLE_NUMBER = /^-?\d+$/;

  function rowsEditor(textarea) {
    const listed = textarea.dataset.rows === "list"; // a list of {text, url}, or one object of key: value
    const columns = JSON.parse(textarea.dataset.columns);
    const keys = Object.keys(columns);
    let value;
    try {
      value = JSON.parse(textarea.value || (listed ? "[]" : "{}"));
    } catch (error) {
      return; // not JSON: staff fix it in the textarea, which stays
    }
    let rows;
    if (listed && Array.isArray(value) && value.every((item) => item && typeof item === "object")) {
      rows = value.map((item) => keys.map((key) => (item[key] === undefined ? "" : item[key])));
    } else if (!listed && value && typeof value === "object" && !Array.isArray(value)) {
      rows = Object.entries(value);
    } else {
      return;
    }
    const fits = (cell) => typeof cell === "string" || (!listed && Number.isInteger(cell));
    if (!rows.every((row) => row.every(fits))) return; // e.g. a list as a marker's value: the JSON stays

    const box = document.createElement("div");
    box.className = "json-rows";
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    for (const key of keys) {
      const th = document.createElement("th");
      th.textContent = columns[key];
      head.append(th);
    }
    head.append(document.createElement("th"));
    const body = table.createTBody();
    const add = document.createElement("button");
    add.type = "button";
    add.className = "button json-rows-add";
    add.textContent = "Add a row";
    box.append(table, add);

    let suggestions = null;
    if (textarea.dataset.suggest) {
      suggestions = document.createElement("datalist");
      suggestions.id = `${textarea.id}_suggestions`;
      for (const suggestion of JSON.parse(textarea.dataset.suggest)) {
        suggestions.append(new Option(suggestion));
      }
      box.append(suggestions);
    }

    function write() {
      const cells = Array.from(body.rows, (row) => Array.from(row.querySelectorAll("input"), (input) => input.value));
      const filled = cells.filter((row) => row.some((cell) => cell.trim() !== ""));
      const json = listed
        ? filled.map((row) => Object.fromEntries(keys.map((key, index) => [key, row[index].trim()])))
        : Object.fromEntries(filled.map(([key, text]) => [key.trim(), WHOLE_NUMBER.test(text.trim()) ? Number(text) : text]));
      textarea.value = JSON.stringify(json);
    }

    function addRow(row) {
      const tr = body.insertRow();
      keys.forEach((key, index) => {
        const input = document.createElement("input");
        input.type = key === "url" ? "url" : "text";
        input.value = String(row[index]);
        input.setAttribute("aria-label", columns[key]);
        input.className = "vTextField";
        if (index === 0 && suggestions) input.setAttribute("list", suggestions.id);
        tr.insertCell().append(input);
      });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "json-rows-remove";
      remove.title = "Remove this row";
      remove.textContent = "×";
      remove.addEventListener("click", () => {
        tr.remove();
        if (!body.rows.length) addRow(keys.map(() => ""));
        write();
        textarea.dispatchEvent(new Event("input", { bubbles: true }));
      });
      tr.insertCell().append(remove);
      return tr;
    }

    rows.forEach(addRow);
    if (!rows.length) addRow(keys.map(() => ""));
    add.addEventListener("click", () => addRow(keys.map(() => "")).querySelector("input").focus());
    box.addEventListener("input", write); // before the fieldset hears it: the textarea is current when it asks
    textarea.hidden = true;
    textarea.after(box);
  }

  form.querySelectorAll("textarea[data-rows]").forEach(rowsEditor);

  // --- The segment's audience, beside its heading -------------------------------------------------------
  const segment = form.querySelector("fieldset.broadcast-segment");
  if (segment && segment.querySelector("input, select, textarea")) {
    const badge = document.createElement("span");
    badge.id = "segment-count";
    badge.className = "segment-count";
    badge.textContent = "counting…";
    segment.querySelector(".fieldset-heading").append(badge);
    const labelOf = (name) => {
      const label = form.querySelector(`.field-${name} label`);
      return label ? label.textContent.replace(/:$/, "") : name.replaceAll("_", " ");
    };
    const ask = asker(script.dataset.segmentUrl);
    const count = async () => {
      badge.classList.add("busy");
      const answer = await ask();
      if (!answer) return;
      badge.classList.remove("busy");
      if (typeof answer.count === "number") {
        badge.classList.remove("invalid");
        badge.textContent = `reaches ${answer.count.toLocaleString("en")} ${answer.count === 1 ? "user" : "users"}`;
      } else {
        badge.classList.add("invalid");
        const problems = Object.entries(answer.errors || {}).map(([name, messages]) => `${labelOf(name)}: ${messages.join("; ")}`);
        badge.textContent = `not counted — ${problems.join(" · ")}`;
      }
    };
    const later = debounced(count, 300);
    segment.addEventListener("input", later);
    segment.addEventListener("change", later);
    count();
  }

  // --- The message as Telegram will show it -------------------------------------------------------------
  const message = form.querySelector("fieldset.broadcast-message");
  const preview = form.querySelector(".field-preview .readonly");
  if (message && preview && form.elements.text) {
    const ask = asker(script.dataset.previewUrl);
    const later = debounced(async () => {
      const answer = await ask();
      if (answer && typeof answer.html === "string") preview.innerHTML = answer.html; // drawn and escaped by the server
    }, 300);
    message.addEventListener("input", later);
    message.addEventListener("change", later);
  }

  // --- The action buttons act on the broadcast as saved: say so when the form holds unsaved changes ------
  const actions = document.getElementById("broadcast-actions");
  let unsaved = false;
  form.addEventListener("input", () => { unsaved = true; });
  form.addEventListener("change", () => { unsaved = true; });
  if (actions) {
    actions.addEventListener("submit", (event) => {
      if (unsaved && !confirm("Your changes are not saved: this acts on the broadcast as last saved. Go on?")) {
        event.preventDefault();
      }
    });
  }
})();
