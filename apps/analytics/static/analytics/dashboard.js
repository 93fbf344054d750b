// The staff dashboard: every chart and table is drawn from the /api/v1/ endpoints with the admin session.
(function () {
  "use strict";
  const charts = {};
  const form = document.getElementById("dashboard-range");
  const status = document.getElementById("dashboard-status");
  const stageNames = JSON.parse(document.getElementById("stage-names").textContent);
  const marginBy = document.getElementById("margin-by-select");
  const retentionBy = document.getElementById("retention-select");
  // The server's today (TIME_ZONE), not the browser's: the API's days are the server's.
  const today = form.dataset.today;
  const PARTIAL = "today (so far)";
  const DAY = 86400000;
  let lastWindow = null;
  let lastPeriod = null;

  function isoDay(date) { return date.toISOString().slice(0, 10); }
  function addDays(day, days) { return isoDay(new Date(Date.parse(day) + days * DAY)); }
  function dayLabel(day) { return day === today ? PARTIAL : day; }

  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  // A day axis reads back from its last day, which is always labelled (today's as not over), one label in so
  // many as fit flat ("4 Nov"); the tooltips keep the whole date.
  function dayTicks(value, index, ticks) {
    const label = this.getLabelForValue(value);
    const every = Math.ceil(ticks.length / Math.max(2, Math.floor(this.width / 64)));
    if ((ticks.length - 1 - index) % every) { return null; }
    if (label === PARTIAL) { return ["today", "(so far)"]; }
    return `${Number(label.slice(8, 10))} ${MONTHS[Number(label.slice(5, 7)) - 1]}`;
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) { throw new Error(`${url.split("?")[0]}: HTTP ${response.status}`); }
    return response.json();
  }

  function api(path, params) { return getJSON(`/api/v1/${path}?${new URLSearchParams(params)}`); }

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

  function largestFirst(rows, name) {
    return [...rows].sort((a, b) => (units(b[name]) > units(a[name]) ? 1 : units(b[name]) < units(a[name]) ? -1 : 0));
  }

  // --- Today's bucket: the day is not over, so it is hatched, and lines run dashed into it --------------
  let hatching = null;

  function hatch(context) {
    if (!hatching) {
      const tile = document.createElement("canvas");
      tile.width = tile.height = 8;
      const pen = tile.getContext("2d");
      pen.strokeStyle = "rgba(0, 0, 0, 0.22)";
      pen.lineWidth = 2;
      pen.beginPath();
      for (const offset of [-8, 0, 8]) { pen.moveTo(offset, 8); pen.lineTo(offset + 8, 0); }
      pen.stroke();
      hatching = context.createPattern(tile, "repeat");
    }
    return hatching;
  }

  Chart.register({
    id: "hatchedToday",
    beforeDatasetsDraw(chart) {
      const index = chart.data.labels.indexOf(PARTIAL);
      const axis = chart.scales.x;
      if (index < 0 || !axis) { return; }
      const step = chart.data.labels.length > 1
        ? Math.abs(axis.getPixelForValue(1) - axis.getPixelForValue(0)) : chart.chartArea.width;
      const centre = axis.getPixelForValue(index);
      const { top, bottom, left, right } = chart.chartArea;
      const from = Math.max(left, centre - step / 2);
      const context = chart.ctx;
      context.save();
      context.fillStyle = hatch(context);
      context.fillRect(from, top, Math.min(right, centre + step / 2) - from, bottom - top);
      context.restore();
    },
  });

  function draw(id, type, labels, datasets, options) {
    if (charts[id]) { charts[id].destroy(); }
    const partial = labels.indexOf(PARTIAL);
    for (const dataset of datasets) {
      if ((dataset.type || type) === "line" && partial > 0) {
        dataset.segment = { borderDash: (segment) => (segment.p1DataIndex === partial ? [6, 4] : undefined) };
      }
    }
    const settings = Object.assign(
      { responsive: true, animation: false, interaction: { mode: "index", intersect: false } }, options);
    if (labels.length && labels.every((label) => label === PARTIAL || /^\d{4}-\d\d-\d\d$/.test(label))) {
      settings.scales = Object.assign({ x: { ticks: { autoSkip: false, maxRotation: 0, callback: dayTicks } } },
                                      settings.scales);
    }
    charts[id] = new Chart(document.getElementById(id), { type, data: { labels, datasets }, options: settings });
  }

  // --- Users by name: the admin resolves ids to names and admin pages (staff who may view users) --------
  const namesUrl = form.dataset.userNames;
  const users = new Map();

  async function learnNames(ids) {
    const wanted = [...new Set(ids)].filter((id) => id !== null && !users.has(id));
    if (!namesUrl || !wanted.length) { return; }
    const found = await getJSON(`${namesUrl}?${new URLSearchParams(wanted.map((id) => ["id", id]))}`);
    for (const id of wanted) { users.set(id, found[id] || null); }
  }

  // A link to the user's admin page, by name; their id where the name is not known (or not ours to show).
  function userName(id) {
    const user = users.get(id);
    if (!user) { return `user ${id}`; }
    const link = document.createElement("a");
    link.href = user.url;
    link.textContent = user.name;
    link.title = `${user.name}, user ${id}`;
    return link;
  }

  // --- Tables ---------------------------------------------------------------------------------------
  function cell(row, content, className) {
    const td = row.insertCell();
    td.append(content);
    if (className) { td.className = className; }
    return td;
  }

  // A loss in red where it shows: less than half a cent reads $0.00, and is not red.
  function marginCell(row, amount) { return cell(row, dollars(amount), amount <= -500000n ? "money loss" : "money"); }

  function emptyRow(body, columns, text) {
    cell(body.insertRow(), text).colSpan = columns;
  }

  async function renderTopUsers(byUser) {
    const top = largestFirst(byUser.filter((row) => row.group !== null && units(row.llm_cost) > 0n), "llm_cost")
      .slice(0, 10);
    await learnNames(top.map((row) => row.group));
    const body = document.getElementById("top-users-table").tBodies[0];
    body.replaceChildren();
    const largest = top.length ? Number(top[0].llm_cost) : 0;
    for (const row of top) {
      const tr = body.insertRow();
      cell(tr, userName(row.group));
      cell(tr, row.requests.toLocaleString("en-US"), "money");
      // A bar behind the cost: how each compares with the largest.
      const share = Math.round((100 * Number(row.llm_cost)) / largest);
      cell(tr, dollars(units(row.llm_cost)), "money").style.backgroundImage =
        `linear-gradient(to left, rgba(121, 174, 200, 0.35) ${share}%, transparent ${share}%)`;
      marginCell(tr, units(row.margin));
    }
    if (!top.length) { emptyRow(body, 4, "No LLM requests in this period."); }
  }

  function moneyRow(section, name, figures) {
    const row = section.insertRow();
    cell(row, name);
    cell(row, figures.requests.toLocaleString("en-US"), "money");
    for (const key of ["cash_revenue", "earned_revenue", "llm_cost", "background_cost"]) {
      cell(row, dollars(figures[key]), "money");
    }
    marginCell(row, figures.margin);
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

  // What a group is called: the API's ids (weeks, deep links, stage ids, user ids) in an operator's words.
  function groupName(by, group) {
    if (group === null) { return by === "model" || by === "persona" ? "no request (payments)" : "no user"; }
    if (by === "cohort") { return `week of ${group}`; }
    if (by === "source") { return group || "no deep link"; }
    if (by === "stage") { return group ? (stageNames[group] || group) : "not analysed"; }
    if (by === "user") { return userName(group); }
    if (by === "persona") { return group || "no persona (background)"; }
    return String(group);
  }

  // Margin by the chosen grouping for the period shown; the footer is the period's whole, which every
  // grouping adds up to (the users' list is cut to the 20 with the largest margin, the whole is not).
  async function renderMarginBy() {
    if (!lastWindow) { return; }
    const by = marginBy.value;
    const rows = await api("llm/costs/", Object.assign({ group_by: by }, lastWindow));
    let shown = by === "cohort" ? rows : largestFirst(rows, "margin");
    if (by === "user") {
      shown = shown.slice(0, 20);
      await learnNames(shown.map((row) => row.group));
    }
    const table = document.getElementById("margin-by-table");
    const body = table.tBodies[0];
    body.replaceChildren();
    table.tFoot.replaceChildren();
    for (const row of shown) { moneyRow(body, groupName(by, row.group), figuresOf([row])); }
    moneyRow(table.tFoot, "Whole period", figuresOf(rows));
    table.dataset.groupBy = by;
  }

  // --- Retention heatmap: cohorts down, periods since registering across ------------------------------
  const PERIODS = {
    day: { days: 1, unit: "day", name: (start) => dayLabel(start) },
    week: { days: 7, unit: "week", name: (start) => (isPartial(start, 7) ? "this week (so far)" : `week of ${start}`) },
  };

  function isPartial(start, days) { return start <= today && today < addDays(start, days); }

  // Light for few, dark for most: the text turns white where the colour gets dark.
  function shade(td, rate) {
    td.style.backgroundColor = `hsl(205, 65%, ${Math.round(96 - 58 * rate)}%)`;
    td.style.color = rate >= 0.55 ? "#fff" : "#1a1a1a";
  }

  function hidden(text) {
    const span = document.createElement("span");
    span.className = "visually-hidden";
    span.textContent = text;
    return span;
  }

  async function renderRetention() {
    if (!lastPeriod) { return; }
    const by = PERIODS[retentionBy.value];
    const cohorts = await api("retention/", Object.assign({ period: retentionBy.value }, lastPeriod));
    const table = document.getElementById("retention-table");
    const columns = Math.max(0, ...cohorts.map((cohort) => cohort.returned.length));
    const head = table.tHead;
    head.replaceChildren();
    const titles = head.insertRow();
    for (const title of ["Registered", "Users"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = title;
      titles.append(th);
    }
    for (let index = 0; index < columns; index += 1) {
      const th = document.createElement("th");
      th.scope = "col";
      th.append(hidden(`${by.unit} `), String(index));
      titles.append(th);
    }
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const cohort of cohorts) {
      const row = body.insertRow();
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = by.name(cohort.cohort);
      row.append(th);
      cell(row, cohort.size.toLocaleString("en-US"), "size");
      cohort.rates.forEach((rate, index) => {
        const partial = isPartial(addDays(cohort.cohort, index * by.days), by.days);
        const soFar = partial ? " so far" : "";
        // The percentage shown without its sign, to fit a month of days across a laptop's screen.
        const td = cell(row, String(Math.round(rate * 100)), partial ? "share partial" : "share");
        td.append(hidden(`%, ${cohort.returned[index]} of ${cohort.size}${soFar}`));
        td.title = `${cohort.returned[index]} of ${cohort.size} users active in ${by.unit} ${index}${soFar}`;
        shade(td, rate);
      });
    }
    if (!cohorts.length) { emptyRow(body, 2, "No one registered in this period."); }
    document.getElementById("retention-help").textContent =
      `Per cent of each cohort active in each ${by.unit} after registering (${by.unit} 0: the one they registered in);` +
      " the number of users on hover.";
  }

  // --- The whole page, for the range chosen ---------------------------------------------------------
  async function render(start, end) {
    status.textContent = "Loading…";
    delete document.body.dataset.dashboard;
    lastPeriod = { start, end };
    // The API takes end as exclusive for timestamps: include the whole last day.
    const window = { start, end: addDays(end, 1) };
    const [activity, costs, byUser, funnel, latency, stages] = await Promise.all([
      api("activity/daily/", lastPeriod),
      api("llm/costs/", Object.assign({ group_by: "day" }, window)),
      api("llm/costs/", Object.assign({ group_by: "user" }, window)),
      api("funnel/", Object.assign({ steps: "bot_started,ai_dialog_started,payment_completed" }, window)),
      api("response-times/", Object.assign({ interval: "day" }, window)),
      api("users/stages/", {}),
    ]);
    const days = activity.map((row) => dayLabel(row.date));
    draw("chart-users", "line", days, [
      { label: "active users", data: activity.map((row) => row.active_users) },
      { label: "new users", data: activity.map((row) => row.new_users) },
    ]);
    draw("chart-messages", "bar", days, [{ label: "messages", data: activity.map((row) => row.messages) }]);
    const costDays = costs.map((row) => dayLabel(row.group));
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
    const includesToday = start <= today && today <= end;
    document.getElementById("partial-note").hidden = !includesToday;
    document.getElementById("money-total").textContent =
      `In this period${includesToday ? " (today so far)" : ""}: margin ${dollars(sum(costs, "margin"))}` +
      ` = earned ${dollars(sum(costs, "earned_revenue"))} − LLM cost ${dollars(sum(costs, "llm_cost"))}` +
      ` (background ${dollars(sum(costs, "background_cost"))}); cash ${dollars(sum(costs, "cash_revenue"))}.`;
    draw("chart-funnel", "bar", funnel.map((row) => row.step), [
      { label: "users", data: funnel.map((row) => row.users) },
    ], { indexAxis: "y" });
    draw("chart-latency", "line", latency.map((row) => dayLabel(row.bucket.slice(0, 10))), [
      { label: "p50", data: latency.map((row) => row.p50_ms) },
      { label: "p95", data: latency.map((row) => row.p95_ms) },
      { label: "first text p50", data: latency.map((row) => row.ttft_p50_ms) },
    ]);
    draw("chart-stages", "doughnut", stages.map((row) => stageNames[row.stage] || row.stage), [
      { label: "users", data: stages.map((row) => row.users) },
    ], { aspectRatio: 2 });
    lastWindow = window;
    await Promise.all([renderTopUsers(byUser), renderMarginBy(), renderRetention()]);
    status.textContent = "";
    document.body.dataset.dashboard = "rendered";
  }

  function showing(promise) {
    promise.catch((error) => { status.textContent = String(error); });
  }

  marginBy.addEventListener("change", () => showing(renderMarginBy()));
  retentionBy.addEventListener("change", () => showing(renderRetention()));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    showing(render(form.start.value, form.end.value));
  });
  form.requestSubmit();
})();
