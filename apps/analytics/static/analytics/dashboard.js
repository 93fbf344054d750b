// The staff dashboard: every chart is drawn from the /api/v1/ endpoints with the admin session.
(function () {
  "use strict";
  const charts = {};
  const form = document.getElementById("dashboard-range");
  const status = document.getElementById("dashboard-status");
  const stageNames = JSON.parse(document.getElementById("stage-names").textContent);
  const marginBy = document.getElementById("margin-by-select");
  let lastWindow = null;

  function isoDay(date) { return date.toISOString().slice(0, 10); }

  async function api(path, params) {
    const query = new URLSearchParams(params).toString();
    const response = await fetch(`/api/v1/${path}?${query}`, { credentials: "same-origin" });
    if (!response.ok) { throw new Error(`${path}: HTTP ${response.status}`); }
    return response.json();
  }

  // Money comes as decimal strings with 8 places: summed exactly in hundred-millionths, shown to the cent.
  function units(text) {
    const [whole, fraction = ""] = String(text).split(".");
    const size = BigInt(whole.replace("-", "")) * 100000000n + BigInt(fraction.padEnd(8, "0").slice(0, 8));
    return whole.startsWith("-") ? -size : size;
  }

  function dollars(total) {
    const cents = ((total < 0n ? -total : total) + 500000n) / 1000000n;
    const whole = (cents / 100n).toLocaleString("en-US");
    return `${total < 0n && cents ? "-" : ""}$${whole}.${String(cents % 100n).padStart(2, "0")}`;
  }

  function sum(rows, name) { return rows.reduce((total, row) => total + units(row[name]), 0n); }

  function draw(id, type, labels, datasets, options) {
    if (charts[id]) { charts[id].destroy(); }
    charts[id] = new Chart(document.getElementById(id), {
      type, data: { labels, datasets },
      options: Object.assign({ responsive: true, animation: false, interaction: { mode: "index", intersect: false } },
                             options || {}),
    });
  }

  async function render(start, end) {
    status.textContent = "Loading…";
    const period = { start, end };
    // The API takes end as exclusive for timestamps: include the whole last day.
    const endNext = isoDay(new Date(new Date(end).getTime() + 86400000));
    const window = { start, end: endNext };
    const [activity, costs, byUser, funnel, latency, stages] = await Promise.all([
      api("activity/daily/", period),
      api("llm/costs/", Object.assign({ group_by: "day" }, window)),
      api("llm/costs/", Object.assign({ group_by: "user" }, window)),
      api("funnel/", Object.assign({ steps: "bot_started,ai_dialog_started,payment_completed" }, window)),
      api("response-times/", Object.assign({ interval: "day" }, window)),
      api("users/stages/", {}),
    ]);
    const days = activity.map((row) => row.date);
    draw("chart-users", "line", days, [
      { label: "active users", data: activity.map((row) => row.active_users) },
      { label: "new users", data: activity.map((row) => row.new_users) },
    ]);
    draw("chart-messages", "bar", days, [{ label: "messages", data: activity.map((row) => row.messages) }]);
    const costDays = costs.map((row) => row.group);
    draw("chart-tokens", "bar", costDays, [
      { label: "tokens", data: costs.map((row) => row.total_tokens), yAxisID: "tokens" },
      { label: "LLM cost, USD", data: costs.map((row) => Number(row.llm_cost)), yAxisID: "usd", type: "line" },
    ], { scales: { tokens: { position: "left" }, usd: { position: "right" } } });
    // Cash: Stars paid, net of refunds; earned: credits spent, at what was paid for them (README).
    draw("chart-margin", "line", costDays, [
      { label: "margin", data: costs.map((row) => Number(row.margin)) },
      { label: "earned revenue", data: costs.map((row) => Number(row.earned_revenue)) },
      { label: "cash revenue", data: costs.map((row) => Number(row.cash_revenue)) },
      { label: "LLM cost", data: costs.map((row) => Number(row.llm_cost)) },
      { label: "background cost", data: costs.map((row) => Number(row.background_cost)) },
    ]);
    document.getElementById("money-total").textContent =
      `In this period: margin ${dollars(sum(costs, "margin"))} = earned ${dollars(sum(costs, "earned_revenue"))}` +
      ` − LLM cost ${dollars(sum(costs, "llm_cost"))} (background ${dollars(sum(costs, "background_cost"))});` +
      ` cash ${dollars(sum(costs, "cash_revenue"))}.`;
    draw("chart-funnel", "bar", funnel.map((row) => row.step), [
      { label: "users", data: funnel.map((row) => row.users) },
    ], { indexAxis: "y" });
    draw("chart-latency", "line", latency.map((row) => row.bucket.slice(0, 10)), [
      { label: "p50", data: latency.map((row) => row.p50_ms) },
      { label: "p95", data: latency.map((row) => row.p95_ms) },
      { label: "first text p50", data: latency.map((row) => row.ttft_p50_ms) },
    ]);
    const top = byUser.sort((a, b) => Number(b.llm_cost) - Number(a.llm_cost)).slice(0, 10);
    draw("chart-top-users", "bar", top.map((row) => String(row.group)), [
      { label: "LLM cost, USD", data: top.map((row) => Number(row.llm_cost)) },
    ], { indexAxis: "y" });
    draw("chart-stages", "doughnut", stages.map((row) => stageNames[row.stage] || row.stage), [
      { label: "users", data: stages.map((row) => row.users) },
    ], { aspectRatio: 2 });
    lastWindow = window;
    await renderMarginBy();
    status.textContent = "";
    document.body.dataset.chartsRendered = String(Object.keys(charts).length);
  }

  // What a group is called: the API's ids (weeks, deep links, stage ids, user ids) in an operator's words.
  function groupName(by, group) {
    if (group === null) { return by === "model" || by === "persona" ? "no request (payments)" : "no user"; }
    if (by === "cohort") { return `week of ${group}`; }
    if (by === "source") { return group || "no deep link"; }
    if (by === "stage") { return group ? (stageNames[group] || group) : "not analysed"; }
    if (by === "user") { return `user ${group}`; }
    if (by === "persona") { return group || "no persona (background)"; }
    return String(group);
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    if (className) { td.className = className; }
  }

  function moneyRow(section, name, figures) {
    const row = section.insertRow();
    cell(row, name);
    cell(row, figures.requests.toLocaleString("en-US"), "money");
    for (const key of ["cash_revenue", "earned_revenue", "llm_cost", "background_cost"]) {
      cell(row, dollars(figures[key]), "money");
    }
    cell(row, dollars(figures.margin), figures.margin < 0n ? "money loss" : "money");
    // A share of less than a cent earned says nothing: no percentage.
    const share = figures.earned_revenue >= 1000000n ? Number((figures.margin * 1000n) / figures.earned_revenue) / 10 : null;
    cell(row, share === null ? "—" : `${share.toFixed(1)}%`, "money");
  }

  const MONEY = ["cash_revenue", "earned_revenue", "llm_cost", "background_cost", "margin"];

  function figuresOf(rows) {
    const figures = { requests: rows.reduce((total, row) => total + row.requests, 0) };
    for (const key of MONEY) { figures[key] = sum(rows, key); }
    return figures;
  }

  // Margin by the chosen grouping for the period shown; the footer is the period's whole, which every
  // grouping adds up to (the users' list is cut to the 20 with the largest margin, the whole is not).
  async function renderMarginBy() {
    if (!lastWindow) { return; }
    const by = marginBy.value;
    const rows = await api("llm/costs/", Object.assign({ group_by: by }, lastWindow));
    const table = document.getElementById("margin-by-table");
    const body = table.tBodies[0];
    body.replaceChildren();
    table.tFoot.replaceChildren();
    let shown = rows;
    if (by !== "cohort") {
      shown = [...rows].sort((a, b) => (units(b.margin) > units(a.margin) ? 1 : units(b.margin) < units(a.margin) ? -1 : 0));
    }
    if (by === "user") { shown = shown.slice(0, 20); }
    for (const row of shown) { moneyRow(body, groupName(by, row.group), figuresOf([row])); }
    moneyRow(table.tFoot, "Whole period", figuresOf(rows));
    table.dataset.groupBy = by;
  }

  marginBy.addEventListener("change", () => {
    renderMarginBy().catch((error) => { status.textContent = String(error); });
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    render(form.start.value, form.end.value).catch((error) => { status.textContent = String(error); });
  });
  const today = new Date();
  form.end.value = isoDay(today);
  form.start.value = isoDay(new Date(today.getTime() - 29 * 86400000));
  form.requestSubmit();
})();
