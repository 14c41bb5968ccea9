/* Canon's quality dashboard: draws the plotly charts whose figures the page carries as JSON in
   data-figure attributes, and, in the single static file, routes between views by fragment and
   runs the tables (filter, sort, page, CSV) in the browser. No inline handlers: CSP-friendly.
   Every value is written with textContent, never as HTML. */
(function () {
  "use strict";

  var SEVERITY = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };
  var CONFIG = { displaylogo: false, responsive: true };

  function plot(el) {
    if (el.getAttribute("data-plotted") || typeof Plotly === "undefined") { return; }
    var figure = JSON.parse(el.getAttribute("data-figure"));
    el.setAttribute("data-plotted", "1");
    Plotly.newPlot(el, figure.data, figure.layout || {}, CONFIG);
  }

  function plotVisible() {
    document.querySelectorAll(".chart[data-figure]").forEach(function (el) {
      if (el.offsetParent !== null) { plot(el); }
    });
  }

  /* CSV as a spreadsheet reads it safely: RFC 4180 quoting, formula-like text prefixed. */
  function csvCell(value) {
    var text = value === null || value === undefined ? "" : String(value);
    if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) { text = "'" + text; }
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function ClientTable(root) {
    var data = JSON.parse(document.getElementById(root.getAttribute("data-source")).textContent);
    var cols = data.columns;
    var state = { q: "", entity: "", metric: "", sort: root.getAttribute("data-sort"),
                  order: root.getAttribute("data-order") || "asc", page: 1, perPage: 25 };
    var idx = function (key) { return cols.indexOf(key); };

    var form = el("div", { "class": "filters" });
    var search = el("input", { type: "search", placeholder: "contains…", "aria-label": "filter" });
    var entity = el("select", { "aria-label": "entity type" });
    var metric = idx("metric_id") >= 0 ? el("select", { "aria-label": "metric" }) : null;
    var exportButton = el("button", { type: "button", "class": "csv" }, "Export CSV");
    function options(select, values) {
      select.appendChild(el("option", { value: "" }, "all"));
      values.forEach(function (v) { select.appendChild(el("option", { value: v }, v)); });
    }
    function distinct(key) {
      var seen = {};
      data.rows.forEach(function (r) { seen[r[idx(key)]] = true; });
      return Object.keys(seen).sort();
    }
    options(entity, distinct("entity_type"));
    form.appendChild(search); form.appendChild(entity);
    if (metric) { options(metric, distinct("metric_id")); form.appendChild(metric); }
    form.appendChild(exportButton);
    var summary = el("p", { "class": "muted summary" });
    var table = el("table", { "class": "data" });
    var pager = el("nav", { "class": "pager" });
    root.appendChild(form); root.appendChild(summary);
    var scroll = el("div", { "class": "scroll" }); scroll.appendChild(table);
    root.appendChild(scroll); root.appendChild(pager);

    function selected() {
      var needle = state.q.toLowerCase();
      var rows = data.rows.filter(function (r) {
        if (state.entity && r[idx("entity_type")] !== state.entity) { return false; }
        if (state.metric && r[idx("metric_id")] !== state.metric) { return false; }
        return !needle || r.some(function (v) { return String(v).toLowerCase().indexOf(needle) >= 0; });
      });
      var k = idx(state.sort), sign = state.order === "desc" ? -1 : 1;
      var key = function (r) { return state.sort === "severity" ? SEVERITY[r[k]] : r[k]; };
      rows.sort(function (a, b) { var x = key(a), y = key(b); return x < y ? -sign : x > y ? sign : 0; });
      return rows;
    }

    function cell(key, value) {
      var td = el("td");
      if (key === "cluster_id" && document.getElementById("cluster-" + value)) {
        var a = el("a", { href: "#cluster-" + encodeURIComponent(value), "class": "cluster-link" });
        a.appendChild(el("code", {}, value)); td.appendChild(a);
      } else if (key === "severity") {
        td.appendChild(el("span", { "class": "badge " + value }, value));
      } else {
        td.textContent = typeof value === "number" && key === "min_probability" ? value.toFixed(3) : value;
      }
      return td;
    }

    function draw() {
      var rows = selected();
      var pages = Math.max(1, Math.ceil(rows.length / state.perPage));
      state.page = Math.min(state.page, pages);
      table.textContent = "";
      var head = el("tr");
      data.headings.forEach(function (heading, i) {
        var th = el("th"), button = el("button", { type: "button", "class": "sort" }, heading);
        if (cols[i] === state.sort) { button.className += " " + state.order; }
        button.addEventListener("click", function () {
          state.order = cols[i] === state.sort && state.order === "desc" ? "asc" : "desc";
          state.sort = cols[i]; state.page = 1; draw();
        });
        th.appendChild(button); head.appendChild(th);
      });
      table.appendChild(el("thead")).appendChild(head);
      var body = table.appendChild(el("tbody"));
      rows.slice((state.page - 1) * state.perPage, state.page * state.perPage).forEach(function (r) {
        var tr = body.appendChild(el("tr"));
        r.forEach(function (v, i) { tr.appendChild(cell(cols[i], v)); });
      });
      summary.textContent = rows.length + " rows · page " + state.page + " of " + pages;
      pager.textContent = "";
      if (state.page > 1) { pager.appendChild(pageButton("← Previous", state.page - 1)); }
      if (state.page < pages) { pager.appendChild(pageButton("Next →", state.page + 1)); }
    }

    function pageButton(text, page) {
      var b = el("button", { type: "button" }, text);
      b.addEventListener("click", function () { state.page = page; draw(); });
      return b;
    }

    function download() {
      var lines = [cols.map(csvCell).join(",")].concat(selected().map(function (r) {
        return r.map(csvCell).join(",");
      }));
      var blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" });
      var a = el("a", { href: URL.createObjectURL(blob), download: root.getAttribute("data-filename") });
      document.body.appendChild(a); a.click(); a.remove();
    }

    search.addEventListener("input", function () { state.q = search.value; state.page = 1; draw(); });
    entity.addEventListener("change", function () { state.entity = entity.value; state.page = 1; draw(); });
    if (metric) {
      metric.addEventListener("change", function () { state.metric = metric.value; state.page = 1; draw(); });
    }
    exportButton.addEventListener("click", download);
    this.filter = function (key, value) {
      if (key === "metric" && metric) { metric.value = value; state.metric = value; }
      if (key === "entity") { entity.value = value; state.entity = value; }
      state.page = 1; draw();
    };
    draw();
  }

  /* The static file: one view at a time, chosen by the URL fragment. */
  function route() {
    var views = document.querySelectorAll("[data-view]");
    if (!views.length) { return; }
    var wanted = decodeURIComponent(location.hash.slice(1)) || "overview";
    var found = Array.prototype.some.call(views, function (v) { return v.getAttribute("data-view") === wanted; });
    views.forEach(function (v) {
      v.hidden = v.getAttribute("data-view") !== (found ? wanted : "overview");
    });
    window.scrollTo(0, 0);
    plotVisible();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var tables = {};
    document.querySelectorAll(".client-table").forEach(function (root) {
      tables[root.getAttribute("data-source")] = new ClientTable(root);
    });
    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[data-metric], a[data-entity]") : null;
      if (!link || !document.querySelector("[data-view]")) { return; }
      if (link.hasAttribute("data-metric") && tables["offender-data"]) {
        tables["offender-data"].filter("metric", link.getAttribute("data-metric"));
      } else if (link.hasAttribute("data-entity") && tables["cluster-data"]) {
        tables["cluster-data"].filter("entity", link.getAttribute("data-entity"));
      }
    });
    window.addEventListener("hashchange", route);
    route();
    plotVisible();
  });
})();
