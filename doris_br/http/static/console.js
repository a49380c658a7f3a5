// doris-br console: metadata backup buttons and live job progress. No external assets.
(function () {
  "use strict";

  function esc(text) {
    return String(text === null || text === undefined ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function progressHtml(pct) {
    if (pct === null || pct === undefined) return '<span class="empty">-</span>';
    var p = Math.max(0, Math.min(100, Number(pct)));
    return '<div class="progress" data-progress="' + p + '"><div class="bar" style="width: ' + p + '%"></div>' +
      '<span class="label">' + p.toFixed(0) + '%</span></div>';
  }

  document.querySelectorAll("button.backup").forEach(function (button) {
    button.addEventListener("click", function () {
      var out = document.getElementById(button.dataset.result || "backup-result");
      var body = { scope: button.dataset.scope };
      if (button.dataset.database) body.database = button.dataset.database;
      if (button.dataset.table) body.table = button.dataset.table;
      button.disabled = true;
      out.className = "backup-result";
      out.textContent = "Backing up metadata...";
      fetch("/rest/v1/meta_backups", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Doris-Console": "1" },
        body: JSON.stringify(body)
      }).then(function (r) { return r.json(); }).then(function (answer) {
        if (answer.status === "OK") {
          out.className = "backup-result ok";
          out.innerHTML = 'Metadata backed up to <code class="backup-path">' + esc(answer.data.path) + "</code>";
        } else {
          out.className = "backup-result error";
          out.textContent = "Backup failed: " + answer.msg;
        }
      }).catch(function (e) {
        out.className = "backup-result error";
        out.textContent = "Backup failed: " + e;
      }).finally(function () { button.disabled = false; });
    });
  });

  var jobs = document.getElementById("jobs-body");
  if (jobs) {
    var refresh = function () {
      fetch("/rest/v1/jobs", { credentials: "same-origin" }).then(function (r) { return r.json(); })
        .then(function (answer) {
          if (answer.status !== "OK") return;
          var rows = answer.data;
          document.getElementById("jobs-empty").style.display = rows.length ? "none" : "";
          document.getElementById("jobs-table").style.display = rows.length ? "" : "none";
          jobs.innerHTML = rows.map(function (j) {
            return "<tr><td>" + esc(j.id) + "</td><td>" + esc(j.kind) + "</td><td>" + esc(j.database) + "</td><td>" +
              esc(j.label) + "</td><td>" + esc(j.state) + "</td><td>" + progressHtml(j.progress) + "</td></tr>";
          }).join("");
        }).catch(function () {});
    };
    setInterval(refresh, 1000);
  }
})();
