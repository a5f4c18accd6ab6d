/* Dashboard behaviour in plain JavaScript: live pages (short polling of /live with ETag/304), auto-submitting
   pickers, confirmations, copy buttons. Every page works without it; this only makes pages livelier.
   Names arrive as data and are put in the page with textContent, never as HTML. */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  /* --- live pages: poll /live every few seconds; 304 while nothing changed -------------------------- */
  // indicator: the "Live" badge (data-poll-url, data-poll-ms, data-etag). onChange() is called when the
  // school's state changed and returns a promise that resolves true once the page shows it (false: try
  // again at the next poll, e.g. while the teacher has a form open). "Live" is green only while polls succeed.
  function startLive(indicator, onChange) {
    var url = indicator.getAttribute("data-poll-url");
    var intervalMs = parseInt(indicator.getAttribute("data-poll-ms") || "2500", 10);
    var etag = indicator.getAttribute("data-etag") || "";
    var pending = "";  // a changed etag not yet shown
    var timer = null;

    function setLive(on) { indicator.classList.toggle("on", on); indicator.setAttribute("data-live", on ? "on" : "off"); }

    function schedule(ms) { clearTimeout(timer); timer = setTimeout(poll, ms); }

    function apply(next) {
      return Promise.resolve(onChange()).then(function (shown) {
        if (shown) { etag = next; pending = ""; } else { pending = next; }
      });
    }

    function poll() {
      if (document.hidden) { schedule(intervalMs); return; }
      fetch(url, { credentials: "same-origin", cache: "no-store",
                   headers: { "If-None-Match": etag, "Accept": "application/json" } })
        .then(function (r) {
          if (r.status === 304) { setLive(true); return pending ? apply(pending) : null; }
          if (!r.ok) { throw new Error("poll " + r.status); }
          setLive(true);
          return r.json().then(function (body) { return body.etag !== etag ? apply(body.etag) : null; });
        })
        .catch(function () { setLive(false); })
        .then(function () { schedule(intervalMs); });
    }

    document.addEventListener("visibilitychange", function () { if (!document.hidden) { schedule(0); } });
    schedule(Math.min(1000, intervalMs));  // the first poll soon: "Live" turns green once it answers
  }

  /* --- the Today page: new check-ins into the feed, fresh counts -------------------------------------- */
  function startFeed(list, indicator) {
    var url = list.getAttribute("data-checkins-url");
    var lastId = parseInt(list.getAttribute("data-last-id") || "0", 10);
    var countsBox = document.getElementById("counts");
    var countsUrl = countsBox ? countsBox.getAttribute("data-url") : null;
    var emptyNote = document.getElementById("feed-empty");
    var maxItems = parseInt(list.getAttribute("data-max") || "20", 10);

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

    function refresh() {
      var feed = fetch(url + "?after=" + lastId, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error("feed " + r.status); } return r.json(); })
        .then(function (body) {
          body.items.forEach(function (item) { if (item.id > lastId) { addItem(item); } });
          lastId = Math.max(lastId, body.last_id);
        });
      var counts = !countsUrl ? Promise.resolve() :
        fetch(countsUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
          .then(function (r) { if (!r.ok) { throw new Error("counts " + r.status); } return r.text(); })
          .then(function (html) { countsBox.innerHTML = html; });
      return Promise.all([feed, counts]).then(function () { return true; }, function () { return false; });
    }

    startLive(indicator, refresh);
  }

  /* --- a class roll: the page re-reads itself and swaps the live part, unless a form is being used ---- */
  function startRoll(box, indicator) {
    function busy() {
      return box.querySelector("details[open]") !== null ||
        (document.activeElement && box.contains(document.activeElement) && document.activeElement.tagName !== "A");
    }
    function refresh() {
      if (busy()) { return false; }
      return fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { if (!r.ok) { throw new Error("roll " + r.status); } return r.text(); })
        .then(function (html) {
          if (busy()) { return false; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(box.id);
          if (!fresh) { return false; }
          box.innerHTML = fresh.innerHTML;
          wireForms(box);
          return true;
        })
        .catch(function () { return false; });
    }
    startLive(indicator, refresh);
  }

  /* --- small helpers used across pages --------------------------------------------------------------- */
  function wireForms(root) {
    root = root || document;
    root.querySelectorAll("[data-autosubmit]").forEach(function (input) {
      input.addEventListener("change", function () { if (input.form) { input.form.submit(); } });
    });
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
    root.querySelectorAll("details.mark").forEach(function (details) {
      details.addEventListener("toggle", function () {
        if (!details.open) { return; }
        document.querySelectorAll("details.mark[open]").forEach(function (other) {
          if (other !== details) { other.open = false; }
        });
        var reason = details.querySelector("input[name=reason]");
        if (reason) { reason.focus(); }
      });
    });
    root.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.getElementById(button.getAttribute("data-copy"));
        if (!target || !navigator.clipboard) { return; }
        navigator.clipboard.writeText(target.textContent.trim()).then(function () {
          button.textContent = button.getAttribute("data-done") || "✓";
        });
      });
    });
    root.querySelectorAll("select[data-teacher-classes]").forEach(function (select) {
      var box = document.getElementById(select.getAttribute("data-teacher-classes"));
      function sync() { if (box) { box.classList.toggle("hidden", select.value !== "teacher"); } }
      select.addEventListener("change", sync);
      sync();
    });
  }

  onReady(function () {
    wireForms();
    var indicator = document.getElementById("live");
    var feed = document.getElementById("feed");
    var roll = document.getElementById("roll-live");
    if (indicator && window.fetch && window.Promise) {
      if (feed) { startFeed(feed, indicator); } else if (roll) { startRoll(roll, indicator); }
    }
  });
}());
