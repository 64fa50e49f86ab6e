// The board's script: times in the viewer's zone, countdowns, and the live board.
// Without it every page still works (plain links and forms); with it the board follows
// the stream: any event about an alert the reader may see refetches the board's live part.
(function () {
  "use strict";
  const page = document.documentElement.lang || "en";
  // The reader's own conventions (en-GB, fr-CD...) when they speak the page's language.
  const lang = (navigator.language || "").startsWith(page) ? navigator.language : page;

  function showTimes(root) {
    const absolute = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
    const relative = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
    root.querySelectorAll("time[data-show]").forEach(function (el) {
      const at = new Date(el.getAttribute("datetime"));
      if (isNaN(at)) return;
      if (el.dataset.show === "relative") {
        const minutes = Math.round((at - Date.now()) / 60000);
        el.textContent = Math.abs(minutes) < 60
          ? relative.format(minutes, "minute")
          : Math.abs(minutes) < 2880 ? relative.format(Math.round(minutes / 60), "hour")
          : relative.format(Math.round(minutes / 1440), "day");
      } else {
        el.textContent = absolute.format(at);
      }
    });
  }

  function showCountdowns(root) {
    root.querySelectorAll("[data-countdown]").forEach(function (el) {
      const left = Math.round((new Date(el.dataset.countdown) - Date.now()) / 1000);
      const s = Math.max(left, 0);
      el.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    });
  }

  // Typing a message to the community chooses "my own words": otherwise the default,
  // "do not send anything", would silently drop what was typed.
  document.querySelectorAll("[data-feedback]").forEach(function (set) {
    const text = set.querySelector("[data-community-text]");
    const free = set.querySelector("[data-community-free]");
    if (!text || !free) return;
    text.addEventListener("input", function () { if (text.value.trim()) free.checked = true; });
  });

  showTimes(document);
  showCountdowns(document);
  setInterval(function () { showCountdowns(document); }, 1000);
  setInterval(function () { showTimes(document); }, 30000);

  const live = document.getElementById("board-live");
  const indicator = document.getElementById("live-status");
  if (!live || !indicator || !window.EventSource) return;

  let source = null;
  let troubleSince = null;
  let quick = null;
  let settle = null;

  function state(name) {
    indicator.dataset.state = name;
    let label = indicator.dataset["label" + name.charAt(0).toUpperCase() + name.slice(1)] || name;
    if (troubleSince) {
      label = label.replace("{time}", troubleSince.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }));
    }
    indicator.textContent = label;
  }

  function refresh() {
    fetch(live.dataset.liveUrl, { credentials: "same-origin" })
      .then(function (response) {
        if (response.redirected || response.status === 401 || response.status === 403) {
          window.location.reload();  // the session ended: sign in again
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === undefined) return;
        live.innerHTML = html;
        showTimes(live);
        showCountdowns(live);
      })
      .catch(function () { /* the stream's state says whether we are connected */ });
  }

  // The stream and the views are fed by separate queues: an event may arrive a moment
  // before the view shows it. Refetch soon, and once more when things have settled.
  function changed() {
    clearTimeout(quick);
    clearTimeout(settle);
    quick = setTimeout(refresh, 200);
    settle = setTimeout(refresh, 1500);
  }

  function connect() {
    source = new EventSource("/board/stream");
    source.onopen = function () {
      if (troubleSince) refresh();  // catch up on what happened while we were away
      troubleSince = null;
      state("live");
    };
    source.onerror = function () {
      if (!troubleSince) troubleSince = new Date();
      if (source.readyState === EventSource.CLOSED) {
        state("stale");
        setTimeout(connect, 5000);
      } else {
        state(Date.now() - troubleSince > 15000 ? "stale" : "reconnecting");
      }
    };
    // An alert's page follows its own alert only; the board follows every alert.
    const only = live.closest("[data-alert-id]");
    function concerned(event) {
      if (!only) return true;
      try {
        const data = JSON.parse(event.data);
        const id = data.alert_id || data.subject_id;
        return !id || id === only.dataset.alertId;
      } catch (e) {
        return true;
      }
    }
    (live.dataset.events || "").split(" ").forEach(function (type) {
      if (type) source.addEventListener(type, function (event) { if (concerned(event)) changed(); });
    });
    source.addEventListener("reauthenticate", function () { window.location.reload(); });
    source.addEventListener("overflow", function () {
      source.close();
      troubleSince = troubleSince || new Date();
      connect();
    });
  }

  connect();
})();
