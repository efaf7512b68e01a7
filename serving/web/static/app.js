// leadscore pages: progressive enhancement on top of server-rendered HTML.
// - htmx requests carry the session's CSRF token as a header;
// - the queue's SLA pills count down from the server's deadline and the server's clock
//   (the offset between the server's "now" and the browser's is measured on each render);
// - the queue list refreshes without closing opened reasons or stealing focus.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  // --- SLA countdown -------------------------------------------------------------------
  var offsetMs = 0;
  var slaMinutes = 30;
  // the pill's words in the page's language (data-sla-* of the queue list), English otherwise
  var words = {
    days: "{n} d",
    hours: "{n} h",
    minutes: "{n} min",
    overdue: "overdue {span}",
    left: "{span} left",
    moment: "<1 min left"
  };

  function say(role, name, value) {
    return words[role].replace("{" + name + "}", value);
  }

  function readClock(root) {
    var meta = (root || document).querySelector("[data-server-now]");
    if (!meta) {
      return;
    }
    var serverNow = Date.parse(meta.getAttribute("data-server-now"));
    if (!isNaN(serverNow)) {
      offsetMs = serverNow - Date.now();
    }
    var sla = parseFloat(meta.getAttribute("data-sla-minutes"));
    if (sla > 0) {
      slaMinutes = sla;
    }
    for (var role in words) {
      var text = meta.getAttribute("data-sla-" + role);
      if (text) {
        words[role] = text;
      }
    }
  }

  // as serving/web/views.py's span_words and sla_pill
  function span(minutes) {
    if (minutes >= 2 * 24 * 60) {
      return say("days", "n", Math.floor(minutes / (24 * 60)));
    }
    if (minutes >= 120) {
      return say("hours", "n", Math.floor(minutes / 60));
    }
    return say("minutes", "n", Math.floor(minutes));
  }

  function pill(minutesLeft) {
    if (minutesLeft < 0) {
      return {
        level: "overdue",
        text: say("overdue", "span", span(Math.max(1, Math.round(-minutesLeft))))
      };
    }
    var text = minutesLeft < 1 ? words.moment : say("left", "span", span(minutesLeft));
    return { level: minutesLeft < slaMinutes / 3 ? "soon" : "ok", text: text };
  }

  function tick() {
    var now = Date.now() + offsetMs;
    var pills = document.querySelectorAll(".sla[data-deadline]");
    for (var i = 0; i < pills.length; i++) {
      var deadline = Date.parse(pills[i].getAttribute("data-deadline"));
      if (isNaN(deadline)) {
        continue;
      }
      var state = pill((deadline - now) / 60000);
      pills[i].textContent = state.text;
      pills[i].className = "sla sla-" + state.level;
    }
  }

  // --- the queue's refresh -------------------------------------------------------------
  var openDetails = [];

  function isQueueList(event) {
    var target = event.detail && (event.detail.target || event.detail.elt);
    return target && target.id === "queue-list";
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!isQueueList(event)) {
      return;
    }
    var list = document.getElementById("queue-list");
    var active = document.activeElement;
    // someone is working inside the list (keyboard focus on a button): refresh later
    if (list && active && active !== document.body && list.contains(active)) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!isQueueList(event)) {
      return;
    }
    openDetails = [];
    var opened = document.querySelectorAll("#queue-list details[open]");
    for (var i = 0; i < opened.length; i++) {
      openDetails.push(opened[i].id);
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!isQueueList(event)) {
      return;
    }
    for (var i = 0; i < openDetails.length; i++) {
      var again = document.getElementById(openDetails[i]);
      if (again) {
        again.open = true;
      }
    }
    readClock(document.getElementById("queue-list"));
    tick();
  });

  document.addEventListener("DOMContentLoaded", function () {
    readClock(document);
    tick();
    window.setInterval(tick, 5000);
  });
})();
