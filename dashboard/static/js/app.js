/* Dashboard behaviour in plain JavaScript: the live check-in feed (Server-Sent Events), auto-submitting
   pickers, confirmations, copy buttons. Every page works without it; this only makes pages livelier.
   Names arrive as data and are put in the page with textContent, never as HTML. */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  /* --- live feed on the Today page ------------------------------------------------------------------ */
  function startFeed(list) {
    var url = list.getAttribute("data-events-url");
    var lastId = parseInt(list.getAttribute("data-last-id") || "0", 10);
    var countsBox = document.getElementById("counts");
    var countsUrl = countsBox ? countsBox.getAttribute("data-url") : null;
    var live = document.getElementById("live");
    var emptyNote = document.getElementById("feed-empty");
    var maxItems = parseInt(list.getAttribute("data-max") || "20", 10);
    var source = null;
    var refreshTimer = null;

    function setLive(on) { if (live) { live.classList.toggle("on", on); } }

    function element(tag, className, text) {
      var el = document.createElement(tag);
      if (className) { el.className = className; }
      if (text !== undefined) { el.textContent = text; }
      return el;
    }

    function addItem(item) {
      var li = element("li", "new");
      if (item.snapshot_url) {
        var img = element("img", "thumb");
        img.src = item.snapshot_url;
        img.alt = "";
        img.loading = "lazy";
        li.appendChild(img);
      } else {
        li.appendChild(element("span", "thumb empty", "—"));
      }
      var who = element("div", "who");
      var name = element("a", "name", item.name);
      name.href = item.student_url;
      who.appendChild(name);
      who.appendChild(element("span", "muted small", item.class_code + " · " + item.camera));
      li.appendChild(who);
      li.appendChild(element("span", "badge " + item.status, item.status_label));
      li.appendChild(element("span", "time", item.time));
      li.setAttribute("data-student", String(item.student_id));
      // a student's earlier check-in sent late by an agent replaces their line: one line, the first arrival
      Array.prototype.slice.call(list.children).forEach(function (old) {
        if (old.getAttribute("data-student") === String(item.student_id)) { list.removeChild(old); }
      });
      list.insertBefore(li, list.firstChild);
      while (list.children.length > maxItems) { list.removeChild(list.lastChild); }
      if (emptyNote) { emptyNote.classList.add("hidden"); }
    }

    function refreshCounts() {
      if (!countsUrl || refreshTimer) { return; }
      refreshTimer = setTimeout(function () {
        refreshTimer = null;
        fetch(countsUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) { if (html !== null) { countsBox.innerHTML = html; } })
          .catch(function () { /* the next check-in tries again */ });
      }, 3000);
    }

    function connect() {
      source = new EventSource(url + "?after=" + lastId);
      source.onopen = function () { setLive(true); };
      source.addEventListener("checkin", function (event) {
        var item;
        try { item = JSON.parse(event.data); } catch (e) { return; }
        if (item.id <= lastId) { return; }
        lastId = item.id;
        addItem(item);
        refreshCounts();
      });
      source.onerror = function () {
        setLive(false);
        if (source.readyState === EventSource.CLOSED) {
          // the server refused (busy) or went away: try again a little later
          setTimeout(connect, 15000);
        }
      };
    }

    if (window.EventSource) { connect(); }
  }

  /* --- small helpers used across pages --------------------------------------------------------------- */
  function wireForms() {
    document.querySelectorAll("[data-autosubmit]").forEach(function (input) {
      input.addEventListener("change", function () { if (input.form) { input.form.submit(); } });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
    document.querySelectorAll("details.mark").forEach(function (details) {
      details.addEventListener("toggle", function () {
        if (!details.open) { return; }
        document.querySelectorAll("details.mark[open]").forEach(function (other) {
          if (other !== details) { other.open = false; }
        });
        var reason = details.querySelector("input[name=reason]");
        if (reason) { reason.focus(); }
      });
    });
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.getElementById(button.getAttribute("data-copy"));
        if (!target || !navigator.clipboard) { return; }
        navigator.clipboard.writeText(target.textContent.trim()).then(function () {
          button.textContent = button.getAttribute("data-done") || "✓";
        });
      });
    });
    document.querySelectorAll("select[data-teacher-classes]").forEach(function (select) {
      var box = document.getElementById(select.getAttribute("data-teacher-classes"));
      function sync() { if (box) { box.classList.toggle("hidden", select.value !== "teacher"); } }
      select.addEventListener("change", sync);
      sync();
    });
  }

  onReady(function () {
    wireForms();
    var feed = document.getElementById("feed");
    if (feed) { startFeed(feed); }
  });
}());
