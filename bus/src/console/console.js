// The console's one script: the overview's live parts, as the bus sends them (server-sent
// events of HTML it rendered and escaped), replace what the page shows, without a reload.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  const source = new EventSource("/console/live");
  source.addEventListener("overview", function (event) {
    live.innerHTML = event.data;
  });
  source.addEventListener("signed-out", function () {
    source.close();
    window.location.assign("/console/sign-in");
  });
})();
