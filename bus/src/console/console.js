// The console's one script: a page's live part, as the bus sends it (server-sent events of HTML
// it rendered and escaped), replaces what the page shows, without a reload. The element marked
// `data-live` names its stream and `data-event` the event that carries it.
"use strict";
(function () {
  const live = document.querySelector("[data-live]");
  if (!live || !window.EventSource) return;
  const source = new EventSource(live.dataset.live);
  source.addEventListener(live.dataset.event, function (event) {
    live.innerHTML = event.data;
  });
  source.addEventListener("signed-out", function () {
    source.close();
    window.location.assign("/console/sign-in");
  });
})();
