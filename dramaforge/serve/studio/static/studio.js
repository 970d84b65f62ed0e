// dramaforge studio: live render progress (server-sent events), playing a shot's clip with its
// voice, and drag-to-reorder. Pages work without it; htmx (hx-boost) swaps pages in place.
(function () {
  "use strict";

  function follow(panel) {
    if (panel.dataset.following) return;
    panel.dataset.following = "1";
    var rows = {};
    var body = panel.querySelector(".stages tbody");
    body.innerHTML = "";  // the stream replays every event from the start
    var source = new EventSource("/jobs/" + panel.dataset.job + "/events");
    source.onmessage = function (message) {
      var e = JSON.parse(message.data);
      if (e.done) {
        source.close();
        panel.querySelector(".job-state").textContent = e.error ? "error" : "done";
        panel.querySelector(".job-summary").textContent = e.error || "";
        panel.dataset.finished = e.error ? "error" : "ok";
        if (!e.error) setTimeout(function () { window.location.reload(); }, 300);
        return;
      }
      var key = e.shot || "episode";
      if (!rows[key]) {
        var tr = document.createElement("tr");
        tr.dataset.key = key;
        tr.innerHTML = "<td></td><td></td>";
        tr.firstChild.textContent = key;
        body.appendChild(tr);
        rows[key] = tr;
      }
      var text = e.stage + " " + e.status + (e.issues ? " (" + e.issues.join("; ") + ")" : "");
      rows[key].lastChild.textContent = text;
      var card = e.shot && document.getElementById("shot-" + e.shot);
      if (card) card.querySelector(".live").textContent = e.stage + " " + e.status;
    };
  }

  function play(button) {
    var card = button.closest(".card") || document;
    var frame = button.closest(".take") || card.querySelector(".frame");
    var video = document.createElement("video");
    video.src = button.dataset.clip;
    video.className = "clip";
    video.controls = true;
    video.playsInline = true;
    var voice = button.dataset.voice ? new Audio(button.dataset.voice) : null;
    var old = frame.querySelector("img, video");
    if (old) old.replaceWith(video); else frame.prepend(video);
    video.addEventListener("play", function () {
      if (voice) { voice.currentTime = video.currentTime; voice.play().catch(function () {}); }
    });
    video.addEventListener("pause", function () { if (voice) voice.pause(); });
    video.play().catch(function () {});
  }

  function draggable(board) {
    var dragged = null;
    board.addEventListener("dragstart", function (ev) {
      dragged = ev.target.closest(".card");
      if (dragged) dragged.classList.add("dragging");
    });
    board.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
    });
    board.addEventListener("dragover", function (ev) {
      if (dragged && ev.target.closest(".card")) ev.preventDefault();
    });
    board.addEventListener("drop", function (ev) {
      var target = ev.target.closest(".card");
      if (!dragged || !target || target === dragged) return;
      ev.preventDefault();
      var form = document.createElement("form");
      form.method = "post";
      form.action = board.dataset.moveBase + dragged.dataset.shot + "/move";
      form.innerHTML = '<input type="hidden" name="to">';
      form.firstChild.value = target.dataset.n;
      document.body.appendChild(form);
      form.submit();
    });
  }

  function init(root) {
    root.querySelectorAll("[data-job]").forEach(follow);
    root.querySelectorAll(".board").forEach(function (b) {
      if (!b.dataset.dnd) { b.dataset.dnd = "1"; draggable(b); }
    });
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("button.play");
    if (button) { ev.preventDefault(); play(button); }
  });
  if (window.htmx) window.htmx.onLoad(init);
  else document.addEventListener("DOMContentLoaded", function () { init(document); });
})();
