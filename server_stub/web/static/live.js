// Live refresh: poll the snapshot version; when it changes, swap in the new <main>.
// Without JavaScript the page is complete as served; this only keeps it current.
(function () {
  var main = document.querySelector("main");
  if (!main || !window.fetch || !window.DOMParser) return;
  var version = main.getAttribute("data-version");
  function tick() {
    fetch("/api/v1/status", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (String(s.snapshot.version) === version) return;
        return fetch(location.href, { cache: "no-store" })
          .then(function (r) { return r.text(); })
          .then(function (html) {
            var next = new DOMParser().parseFromString(html, "text/html").querySelector("main");
            if (next) { main.replaceWith(next); main = next; version = next.getAttribute("data-version"); }
          });
      })
      .catch(function () {})
      .then(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 5000);
})();
