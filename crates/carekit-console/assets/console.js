// carekit console: progressive enhancement over server-rendered pages.
// Forms work without this file; with it the pages follow the desk's live
// events, count a tweet's weighted length as X does, tick SLA clocks and
// show who else is viewing a case. No inline script is ever needed.
(function () {
  "use strict";

  // --- X's weighted length (mirrors carekit_twitter::length) -------------
  var LIGHT = [[0x0000, 0x10FF], [0x2000, 0x200D], [0x2010, 0x201F], [0x2032, 0x2037]];
  var TLDS = ["com", "net", "org", "io", "co", "uk", "de", "fr", "jp", "info", "biz", "me",
    "ly", "app", "dev", "ai", "us", "ca", "au", "in", "es", "it", "nl", "tv"];
  var URL_WEIGHT = 23;

  function isLight(cp) {
    for (var i = 0; i < LIGHT.length; i++) {
      if (cp >= LIGHT[i][0] && cp <= LIGHT[i][1]) return true;
    }
    return false;
  }
  function isEmojiBase(cp) {
    return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
      (cp >= 0x2B00 && cp <= 0x2BFF) || (cp >= 0x2300 && cp <= 0x23FF);
  }
  function isEmojiModifier(cp) {
    return cp === 0xFE0E || cp === 0xFE0F || (cp >= 0x1F3FB && cp <= 0x1F3FF) ||
      cp === 0x20E3 || (cp >= 0xE0020 && cp <= 0xE007F);
  }
  function isRegional(cp) { return cp >= 0x1F1E6 && cp <= 0x1F1FF; }
  function weigh(text) {
    var cps = Array.from(text).map(function (c) { return c.codePointAt(0); });
    var total = 0, i = 0;
    while (i < cps.length) {
      var c = cps[i];
      if (isEmojiBase(c)) {
        i++;
        if (isRegional(c) && i < cps.length && isRegional(cps[i])) i++;
        for (;;) {
          if (i < cps.length && isEmojiModifier(cps[i])) { i++; continue; }
          if (i + 1 < cps.length && cps[i] === 0x200D && isEmojiBase(cps[i + 1])) { i += 2; continue; }
          break;
        }
        total += 2;
        continue;
      }
      total += isLight(c) ? 1 : 2;
      i++;
    }
    return total;
  }
  function isUrl(token) {
    var lower = token.toLowerCase();
    var rest = null;
    if (lower.indexOf("https://") === 0) rest = lower.slice(8);
    else if (lower.indexOf("http://") === 0) rest = lower.slice(7);
    if (rest !== null) return /^[\p{L}\p{N}]/u.test(rest);
    if (lower.indexOf("www.") === 0 && lower.length > 4) return true;
    var host = lower.split(/[/?#]/)[0].replace(/[.,!?):;]+$/, "");
    var labels = host.split(".");
    if (labels.length < 2) return false;
    var tld = labels[labels.length - 1], name = labels[labels.length - 2];
    return name.length > 0 && /^[a-z0-9.-]+$/.test(host) && TLDS.indexOf(tld) >= 0;
  }
  function weightedLength(text) {
    var tokens = text.match(/\s+|\S+/g) || [];
    var total = 0;
    tokens.forEach(function (token) {
      if (!/^\s+$/.test(token) && isUrl(token)) {
        var trimmed = token.replace(/[.,!?):;"']+$/, "");
        total += URL_WEIGHT + weigh(token.slice(trimmed.length));
      } else {
        total += weigh(token);
      }
    });
    return total;
  }
  window.carekitWeightedLength = weightedLength;

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // --- reply counter ------------------------------------------------------
  function wireCounter() {
    var box = document.getElementById("reply-text");
    var counter = document.getElementById("reply-counter");
    var send = document.getElementById("reply-send");
    if (!box || !counter || !send) return;
    var limit = parseInt(box.getAttribute("data-limit") || "0", 10);
    function update() {
      if (!limit) { counter.textContent = ""; return; }
      var n = weightedLength(box.value);
      counter.textContent = n + " / " + limit;
      var over = n > limit;
      counter.classList.toggle("over", over);
      counter.setAttribute("data-over", over ? "true" : "false");
      send.disabled = over || box.value.trim() === "";
    }
    box.addEventListener("input", update);
    update();
  }

  // --- SLA clocks ---------------------------------------------------------
  // Deadlines count from the desk's clock (a page says what time it was
  // there when rendered), not the browser's.
  var skew = 0;
  function readSkew() {
    var meta = document.querySelector('meta[name="desk-now"]');
    var at = meta ? Date.parse(meta.getAttribute("content")) : NaN;
    skew = isNaN(at) ? 0 : at - Date.now();
  }
  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(due)) return;
      var s = Math.round((due - now) / 1000);
      var abs = Math.abs(s);
      var text = (abs >= 3600 ? Math.floor(abs / 3600) + "h " : "") +
        Math.floor((abs % 3600) / 60) + "m " + (abs % 60) + "s";
      el.textContent = s >= 0 ? "due in " + text : "overdue by " + text;
      el.classList.toggle("overdue", s < 0);
    });
  }

  // --- live refresh -------------------------------------------------------
  var refreshTimer = null;
  function refresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      fetch(location.href, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) return null;
        return r.text();
      }).then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh) el.replaceWith(document.adoptNode(fresh));
        });
        tick();
        showViewers();
      });
    }, 150);
  }

  // --- presence -----------------------------------------------------------
  var viewers = {};
  function me() {
    var body = document.body;
    return body ? body.getAttribute("data-agent") : null;
  }
  function caseId() {
    var el = document.getElementById("case");
    return el ? el.getAttribute("data-conversation") : null;
  }
  function agentName(id) {
    var li = document.querySelector('#agent-names [data-id="' + CSS.escape(id) + '"]');
    return li ? li.textContent : "another agent";
  }
  function showViewers() {
    var list = document.getElementById("viewers");
    if (!list) return;
    var now = Date.now();
    list.textContent = "";
    Object.keys(viewers).forEach(function (agent) {
      if (viewers[agent] < now) { delete viewers[agent]; return; }
      var li = document.createElement("li");
      li.textContent = agentName(agent) + " is viewing";
      li.setAttribute("data-agent", agent);
      list.appendChild(li);
    });
  }
  function announce() {
    var id = caseId();
    if (!id) return;
    fetch("/cases/" + encodeURIComponent(id) + "/presence", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf() }
    });
  }

  function follow() {
    if (!window.EventSource || !document.body || !document.body.getAttribute("data-agent")) return;
    var source = new EventSource("/events");
    var changed = function () { refresh(); };
    ["opened", "message", "delivery", "assigned", "escalated", "sla_warning", "sla_breach",
      "status", "priority", "tagged", "note", "handed_off", "reset"].forEach(function (kind) {
      source.addEventListener(kind, changed);
    });
    source.onmessage = changed;
    source.addEventListener("presence", function (e) {
      var data;
      try { data = JSON.parse(e.data); } catch (_) { return; }
      if (!data || data.conversation !== caseId() || data.agent === me()) return;
      var until = Date.parse(data.until);
      var isNew = !(data.agent in viewers);
      viewers[data.agent] = isNaN(until) ? Date.now() + 30000 : until;
      showViewers();
      // Someone just arrived: tell them who is already here (they answer
      // only for agents new to them, so this ends after one round).
      if (isNew) announce();
    });
    source.onopen = function () {
      document.body.setAttribute("data-live-ready", "true");
      // Say again who is viewing, now that this page hears the answers.
      announce();
    };
  }

  // --- keyboard shortcuts -------------------------------------------------
  // "/" search, "r" reply, "n" note (outside text fields).
  function shortcuts(e) {
    var t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
    var target = { "/": 'input[name="q"]', "r": "#reply-text", "n": "#note-text" }[e.key];
    var el = target && document.querySelector(target);
    if (el) { e.preventDefault(); el.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    readSkew();
    document.addEventListener("keydown", shortcuts);
    wireCounter();
    tick();
    setInterval(tick, 1000);
    setInterval(showViewers, 5000);
    follow();
    announce();
    setInterval(announce, 20000);
  });
})();
