// Replaces the live part of the page with GET fragment every few seconds;
// the page is complete without it.
(function () {
  var main = document.getElementById("live");
  var state = document.getElementById("live-state");
  if (!main || !window.fetch) return;
  var every = Number(main.getAttribute("data-refresh-ms")) || 1500;
  state.textContent = "live: updates every " + every / 1000 + " s";
  function tick() {
    fetch("fragment", { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (html) {
        main.innerHTML = html;
        main.setAttribute("data-updates", String(Number(main.getAttribute("data-updates")) + 1));
        state.textContent = "live: updates every " + every / 1000 + " s";
      })
      .catch(function (e) { state.textContent = "live update failed (" + e.message + "): retrying"; })
      .then(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
