/* Footfall browser tracker (plain ES2017, no dependencies, no build step needed to embed it).
 *
 *   <script async src="https://collector.example.org/footfall.js" data-key="pk_…"></script>
 *
 * Progress (for a logged-in learner, with data-user-token): footfall("progress", {foss, language}) and
 * footfall("mark", {foss, language, tutorial}, completed) return promises of the collector's answer.
 *
 * Optional attributes: data-collector (default: the script's origin), data-user-token (a signed JWT
 * from the site's server), data-disable="pageview spa ping exit video", data-respect-dnt="true",
 * data-batch (20), data-delay (2000 ms), data-ping (15000 ms).
 *
 * Every event gets a UUID when it happens and keeps it through every retry, so the store keeps one copy.
 * Events wait in localStorage (at most 500 events and 512 KB, oldest dropped first) until the collector
 * answers 2xx; network errors, 429 and 5xx are retried with backoff, across page loads; other 4xx are
 * dropped. Pages being left send with sendBeacon or fetch(keepalive).
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-key]");
  if (!script || (window.footfall && window.footfall.loaded)) return;
  var ds = script.dataset;
  var base = (ds.collector || new URL(script.src).origin).replace(/\/$/, "");
  var cfg = {
    url: base + "/v1/events", key: ds.key, token: ds.userToken,
    batch: +ds.batch || 20, delay: +ds.delay || 2000, ping: +ds.ping || 15000,
    maxEvents: 500, maxBytes: 512 * 1024, beaconBytes: 60000
  };
  var off = (ds.disable || "").split(/[\s,]+/);
  var on = function (feature) { return off.indexOf(feature) < 0; };
  var QUEUE = "footfall:queue", RETRY = "footfall:retry", SEEN = "footfall:seen";
  var silent = ds.respectDnt === "true" &&
    (navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.globalPrivacyControl === true);

  var memory = {};  /* stands in for localStorage when it is blocked or full */
  function get(name) {
    try { return localStorage.getItem(name); } catch (e) { return memory[name] || null; }
  }
  function set(name, value) {
    try { localStorage.setItem(name, value); } catch (e) { memory[name] = value; }
  }
  function parse(text, fallback) {
    try { return JSON.parse(text) || fallback; } catch (e) { return fallback; }
  }

  /* The queue: this page's copy, merged with what other tabs stored each time it is saved. */
  var queue = parse(get(QUEUE), []), acked = {}, saveTimer = 0;
  function save() {
    clearTimeout(saveTimer); saveTimer = 0;
    var mine = {}, merged = [];
    queue.forEach(function (e) { mine[e.event_id] = 1; });
    parse(get(QUEUE), []).forEach(function (e) { if (!mine[e.event_id] && !acked[e.event_id]) merged.push(e); });
    merged = merged.concat(queue).sort(function (a, b) { return a.timestamp < b.timestamp ? -1 : 1; });
    var sizes = merged.map(function (e) { return JSON.stringify(e).length + 1; });
    var bytes = sizes.reduce(function (a, b) { return a + b; }, 2), drop = 0;
    while (merged.length - drop > cfg.maxEvents || bytes > cfg.maxBytes) bytes -= sizes[drop++];
    queue = merged.slice(drop);
    set(QUEUE, JSON.stringify(queue));
  }
  function saveSoon() { if (!saveTimer) saveTimer = setTimeout(save, 250); }

  /* UUIDv7: the time in ms first, so ids land at the end of the store's index (see footfall/ids.py) */
  function uuid() {
    var b = crypto.getRandomValues(new Uint8Array(16)), h = "", ms = Date.now();
    for (var i = 5; i >= 0; i--) { b[i] = ms % 256; ms = Math.floor(ms / 256); }
    b[6] = (b[6] & 15) | 112; b[8] = (b[8] & 63) | 128;
    for (i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1);
    return h.replace(/(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
  }
  var pageViewId = uuid();  /* every event names the page view it belongs to: time on page, visits */
  var firstVisit = !get(SEEN);
  if (firstVisit) set(SEEN, "1");

  var sendTimer = 0;
  function track(type, fields) {
    if (silent) return;
    var e = {
      event_id: type === "page_view" ? pageViewId : uuid(), page_view_id: pageViewId, type: type, timestamp: new Date().toISOString(), url: location.href.slice(0, 4096),
      title: document.title.slice(0, 1024), referrer: document.referrer || null,
      screen: screen.width + "x" + screen.height, language: navigator.language,
      tz_offset: -new Date().getTimezoneOffset(), first_time_visit: firstVisit
    };
    for (var k in fields) if (fields[k] !== undefined && fields[k] !== "") e[k] = fields[k];
    queue.push(e);
    if (queue.length > cfg.maxEvents * 2) save(); else saveSoon();
    if (queue.length >= cfg.batch) send(); else if (!sendTimer) sendTimer = setTimeout(send, cfg.delay);
  }

  /* Delivery. */
  var inFlight = false, retry = parse(get(RETRY), { at: 0, wait: 0 });
  function body(events) {
    return JSON.stringify({ key: cfg.key, user_token: cfg.token || undefined, events: events });
  }
  function send() {
    clearTimeout(sendTimer); sendTimer = 0;
    if (!queue.length || inFlight) return;  /* a send in flight reschedules when it ends */
    if (Date.now() < retry.at) { sendTimer = setTimeout(send, retry.at - Date.now() + 10); return; }
    var events = queue.slice(0, cfg.batch * 5), data = body(events);
    inFlight = true;
    fetch(cfg.url, { method: "POST", body: data, headers: { "Content-Type": "text/plain" },
                     credentials: "omit", keepalive: data.length < cfg.beaconBytes })
      .then(function (r) {
        if (r.ok || (r.status >= 400 && r.status < 500 && r.status !== 429)) { done(events); backoff(0); }
        else backoff(1);
      }, function () { backoff(1); })
      .then(function () {
        inFlight = false;
        if (queue.length && !sendTimer) sendTimer = setTimeout(send, Math.max(cfg.delay, retry.at - Date.now()));
      });
  }
  function done(events) {
    var ids = {};
    events.forEach(function (e) { ids[e.event_id] = acked[e.event_id] = 1; });
    queue = queue.filter(function (e) { return !ids[e.event_id]; });
    save();
  }
  function backoff(failed) {
    retry = failed ? { wait: Math.min(retry.wait ? retry.wait * 2 : 1000, 60000) } : { wait: 0 };
    retry.at = failed ? Date.now() + retry.wait : 0;
    set(RETRY, JSON.stringify(retry));
  }
  /* The page is going away: hand what is queued to the browser. It stays queued until a 2xx is seen. */
  function leave() {
    save();
    if (!queue.length) return;
    var data = body(queue.slice(0, 50));
    if (data.length < cfg.beaconBytes && navigator.sendBeacon &&
        navigator.sendBeacon(cfg.url, new Blob([data], { type: "text/plain" }))) return;
    fetch(cfg.url, { method: "POST", body: data, keepalive: true, headers: { "Content-Type": "text/plain" },
                     credentials: "omit" }).catch(function () {});
  }
  addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") leave(); });
  addEventListener("pagehide", leave);
  addEventListener("online", function () { backoff(0); send(); });

  /* Page views, including single-page-app navigations. */
  function pageView() { if (on("pageview")) track("page_view"); }
  function navigated() { pageViewId = uuid(); pageView(); }
  if (on("spa")) {
    var push = history.pushState;
    history.pushState = function () { var r = push.apply(this, arguments); navigated(); return r; };
    addEventListener("popstate", navigated);
  }

  /* Time on page: a ping every 15 s while the page is visible. */
  if (on("ping")) setInterval(function () { if (document.visibilityState === "visible") track("page_ping"); }, cfg.ping);

  /* Exit links: one delegated listener, so links added later count too. */
  if (on("exit")) document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[href]");
    if (a && /^https?:$/.test(a.protocol) && a.host !== location.host) {
      track("exit_link", { link_url: a.href.slice(0, 4096) });
      leave();
    }
  }, true);

  /* Video: every HTML5 <video> (Video.js players too); tutorial ids from data- attributes on the video
   * or an element around it (data-foss, data-tutorial, data-language). */
  function watch(v) {
    if (v.__footfall) return;
    v.__footfall = true;
    var last = 0, from = null, current = -1, sent = {};
    function emit(type, extra) {
      var holder = v.closest("[data-foss],[data-tutorial]") || v, d = holder.dataset;
      var f = { position: v.currentTime || 0, duration: isFinite(v.duration) ? v.duration : undefined,
                minute: Math.floor((v.currentTime || 0) / 60), video_src: (v.currentSrc || "").slice(0, 4096),
                foss: d.foss, tutorial: d.tutorial, language_name: d.language };
      for (var k in extra) f[k] = extra[k];
      track(type, f);
    }
    /* What was watched comes from the browser's own record of played ranges, never from the playhead:
     * a seek adds nothing to v.played, whatever order seeking, timeupdate and seeked fire in. Each
     * 5-second segment of media time a played range touches is reported once. */
    function report() {
      var fresh = [], r = v.played;
      for (var i = 0; i < r.length; i++) {
        for (var s = Math.floor(r.start(i) / 5), end = Math.min(Math.ceil(r.end(i) / 5), 7200); s < end; s++) {
          if (!sent[s]) { sent[s] = 1; fresh.push(s); }
        }
      }
      if (fresh.length) emit("video_progress", { segments: fresh });
    }
    v.addEventListener("play", function () { emit("video_play"); });
    v.addEventListener("pause", function () { report(); if (!v.ended) emit("video_pause"); });
    v.addEventListener("ended", function () { report(); emit("video_ended"); send(); });
    v.addEventListener("seeking", function () { if (from === null) from = last; });
    v.addEventListener("seeked", function () {
      emit("video_seek", { seek_from: from || 0 });
      from = null; last = v.currentTime;
    });
    v.addEventListener("timeupdate", function () {
      if (v.seeking) return;
      last = v.currentTime;
      var segment = Math.floor(last / 5);
      if (segment !== current) { current = segment; report(); }
    });
  }
  function scan() { document.querySelectorAll("video").forEach(watch); }
  if (on("video")) {
    new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
    scan();
  }

  /* Public API: footfall("event", name, props), footfall("flush"). Calls made before the script
   * loaded wait in window.footfall.q. */
  function progress(path, init) {
    init.headers = { Authorization: "Bearer " + cfg.token, "Content-Type": "application/json" };
    return fetch(base + path + (path.indexOf("?") < 0 ? "?" : "&") + "key=" + encodeURIComponent(cfg.key), init)
      .then(function (r) { return r.json().then(function (body) { return r.ok ? body : Promise.reject(body); }); });
  }
  var api = function (command, name, props) {
    if (command === "event") track("custom", { name: String(name).slice(0, 128), props: props });
    else if (command === "flush") { backoff(0); send(); }
    else if (command === "progress") {
      return progress("/v1/progress?foss=" + encodeURIComponent(name.foss) + "&language=" +
                      encodeURIComponent(name.language || ""), { credentials: "omit" });
    } else if (command === "mark") {
      return progress("/v1/progress/completion", { method: "POST", credentials: "omit", body: JSON.stringify(
        { foss: name.foss, language: name.language || "", tutorial: name.tutorial, completed: !!props,
          page_view_id: pageViewId }) });
    }
  };
  var early = (window.footfall && window.footfall.q) || [];
  api.loaded = true;
  window.footfall = api;
  early.forEach(function (args) { api.apply(null, args); });
  pageView();
  if (queue.length) send();
})();
