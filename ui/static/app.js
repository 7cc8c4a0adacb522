"use strict";
// The first page: shows that the component answers and what it runs on.
(async function () {
  const el = document.getElementById("health");
  try {
    const res = await fetch("/healthz");
    const h = await res.json();
    el.textContent = `spinport ${h.version} — KV backend: ${h.kv.backend} (${h.kv.ok ? "ok" : "failing"})`;
    el.className = h.kv.ok ? "ok" : "bad";
  } catch (e) {
    el.textContent = "spinport is not answering: " + e;
    el.className = "bad";
  }
})();
