/* Footfall browser tracker. Embed:
 *   <script async src="https://collector.example.org/footfall.js"
 *           data-key="pk_…" data-collector="https://collector.example.org" data-user-token="…"></script>
 * Events are batched, kept in localStorage until the collector answers 2xx, and sent with
 * fetch(keepalive) or sendBeacon, so page unloads and outages lose nothing. Ids are client UUIDs,
 * so a retried event is stored once. Plain ES2017, no dependencies.
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-key]");
  if (!script || window.footfall && window.footfall.loaded) return;
  var ds = script.dataset;
  var cfg = {
    key: ds.key,
    url: (ds.collector || new URL(script.src).origin).replace(/\/$/, "") + "/v1/events",
    token: ds.userToken || null,
    batch: +(ds.batch || 20), delay: +(ds.delay || 2000), ping: +(ds.ping || 15000),
    maxEvents: 500, maxBytes: 512 * 1024,
    off: (ds.disable || "").split(/[\s,]+/),  /* e.g. "ping exit video" */
    respectDnt: ds.respectDnt === "true"
  };
  var dnt = navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.globalPrivacyControl === true;
  var STORE = "footfall:queue", FIRST = "footfall:seen";
  var queue = load(), timer = null, sending = false, backoff = 0, nextTry = 0;

  function load() { try { return JSON.parse(localStorage.getItem(STORE)) || []; } catch (e) { return []; } }
  function save() {
    var text = JSON.stringify(queue);
    while (queue.length > cfg.maxEvents || text.length > cfg.maxBytes) { queue.shift(); text = JSON.stringify(queue); }
    try { localStorage.setItem(STORE, text); } catch (e) { /* storage full or blocked: keep in memory */ }
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)); b[6] = b[6] & 15 | 64; b[8] = b[8] & 63 | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  var firstVisit = (function () {
    try { if (localStorage.getItem(FIRST)) return false; localStorage.setItem(FIRST, "1"); } catch (e) { /* private mode */ }
    return true;
  })();

  function track(type, fields) {
    if (cfg.respectDnt && dnt) return;
    var ev = {
      event_id: uuid(), type: type, timestamp: new Date().toISOString(), url: location.href,
      title: document.title.slice(0, 1024), referrer: document.referrer || null,
      screen: screen.width + "x" + screen.height, language: navigator.language,
      tz_offset: -new Date().getTimezoneOffset(), first_time_visit: firstVisit
    };
    for (var k in fields) if (fields[k] !== undefined) ev[k] = fields[k];
    queue.push(ev); save();
    if (queue.length >= cfg.batch) flush(); else if (!timer) timer = setTimeout(flush, cfg.delay);
  }

  function flush(unloading) {
    clearTimeout(timer); timer = null;
    if (!queue.length || sending || Date.now() < nextTry && !unloading) return;
    var events = queue.slice(0, cfg.batch * 5);
    var body = JSON.stringify({ key: cfg.key, user_token: cfg.token || undefined, events: events });
    if (unloading && navigator.sendBeacon && body.length < 60000 &&
        navigator.sendBeacon(cfg.url, new Blob([body], { type: "text/plain" }))) {
      return; /* the beacon may still fail: events stay queued until a later page sees a 2xx */
    }
    sending = true;
    fetch(cfg.url, { method: "POST", body: body, keepalive: body.length < 60000, mode: "cors",
                     headers: { "Content-Type": "text/plain" }, credentials: "omit" })
      .then(function (r) {
        if (r.ok || r.status >= 400 && r.status < 500 && r.status !== 429) { done(events); backoff = 0; }
        else retry();
      }, retry)
      .then(function () { sending = false; if (queue.length && !timer) timer = setTimeout(flush, cfg.delay); });
  }
  function done(sent) {
    var ids = {}; sent.forEach(function (e) { ids[e.event_id] = 1; });
    queue = load().filter(function (e) { return !ids[e.event_id]; }).concat(
      queue.filter(function (e) { return !ids[e.event_id]; })).filter(function (e, i, all) {
        return all.findIndex(function (x) { return x.event_id === e.event_id; }) === i; });
    save();
  }
  function retry() { backoff = Math.min(backoff ? backoff * 2 : 1000, 60000); nextTry = Date.now() + backoff; }

  /* page views, including single-page-app navigations */
  function pageView() { track("page_view", {}); }
  ["pushState", "replaceState"].forEach(function (name) {
    var original = history[name];
    history[name] = function () { var r = original.apply(this, arguments); if (name === "pushState") pageView(); return r; };
  });
  addEventListener("popstate", pageView);

  /* time on page */
  if (cfg.off.indexOf("ping") < 0) setInterval(function () {
    if (document.visibilityState === "visible") track("page_ping", {});
  }, cfg.ping);

  /* exit links: one delegated listener sees links added later too */
  if (cfg.off.indexOf("exit") < 0) document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[href]");
    if (a && a.host && a.host !== location.host) { track("exit_link", { link_url: a.href }); flush(true); }
  }, true);

  /* video progress for every HTML5 <video>, tutorial identifiers from data- attributes */
  function videoEvent(v, type, extra) {
    var d = v.dataset, f = { position: v.currentTime || 0, duration: isFinite(v.duration) ? v.duration : undefined,
      minute: Math.floor((v.currentTime || 0) / 60), video_src: v.currentSrc || undefined,
      foss: d.foss, tutorial: d.tutorial, language_name: d.language };
    for (var k in extra) f[k] = extra[k];
    track(type, f);
  }
  function watch(v) {
    if (v.__footfall) return; v.__footfall = true;
    var minute = -1, last = 0, seekFrom = null;
    v.addEventListener("play", function () { videoEvent(v, "video_play"); });
    v.addEventListener("pause", function () { if (!v.ended) videoEvent(v, "video_pause"); });
    v.addEventListener("ended", function () { videoEvent(v, "video_ended"); flush(); });
    v.addEventListener("seeking", function () { if (seekFrom === null) seekFrom = last; });
    v.addEventListener("seeked", function () {
      videoEvent(v, "video_seek", { seek_from: seekFrom || 0 }); seekFrom = null;
      minute = Math.floor(v.currentTime / 60);
    });
    v.addEventListener("timeupdate", function () {
      if (!v.seeking) last = v.currentTime;
      var m = Math.floor(v.currentTime / 60);
      if (m !== minute && !v.seeking) { minute = m; videoEvent(v, "video_progress"); }
    });
  }
  function scanVideos() { if (cfg.off.indexOf("video") < 0) document.querySelectorAll("video").forEach(watch); }
  new MutationObserver(scanVideos).observe(document.documentElement, { childList: true, subtree: true });

  addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flush(true); });
  addEventListener("pagehide", function () { flush(true); });
  addEventListener("online", function () { nextTry = 0; flush(); });

  /* public API: footfall('event', name, props) */
  var api = function (command, name, props) {
    if (command === "event") track("custom", { name: String(name).slice(0, 128), props: props || undefined });
    else if (command === "flush") flush();
  };
  var pending = window.footfall && window.footfall.q || [];
  api.loaded = true; window.footfall = api;
  pending.forEach(function (args) { api.apply(null, args); });

  scanVideos(); pageView(); if (queue.length) flush();
})();
