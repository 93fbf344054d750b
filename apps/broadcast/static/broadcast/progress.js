// Live progress on a broadcast's change page: asks the server every two seconds while it is running.
(function () {
  "use strict";
  const box = document.getElementById("broadcast-progress");
  if (!box) return;
  const bar = box.querySelector("progress");
  const counters = box.querySelector(".counters");
  async function refresh() {
    const response = await fetch(box.dataset.url, { credentials: "same-origin" });
    if (!response.ok) return;
    const progress = await response.json();
    bar.max = Math.max(progress.recipients, 1);
    bar.value = progress.done;
    counters.textContent = progress.text;
    if (progress.status === "running" || progress.status === "scheduled") setTimeout(refresh, 2000);
  }
  refresh();
})();
