// anna-molly console: the only script, served by the console itself (the Content-Security-
// Policy allows nothing else). Everything it inserts is HTML the server rendered and escaped,
// or text set with textContent.
"use strict";

function fetchInto(el, url, options) {
  return fetch(url, Object.assign({ credentials: "same-origin" }, options || {}))
    .then(function (r) {
      return r.text().then(function (body) {
        el.innerHTML = body;
        return r.ok;
      });
    });
}

function clock() {
  return new Date().toISOString().substring(11, 19) + " UTC";
}

// The alarms page: swap in the tables every few seconds.
function alarmsPage() {
  var box = document.getElementById("alarms");
  if (!box) return;
  var status = document.getElementById("updated");
  var every = Math.max(1, Number(box.dataset.refresh || 5)) * 1000;
  function tick() {
    fetchInto(box, box.dataset.src)
      .then(function (ok) { status.textContent = (ok ? "updated " : "update failed at ") + clock(); })
      .catch(function (e) { status.textContent = "cannot reach the console (" + e + "), retrying"; })
      .finally(function () { setTimeout(tick, every); });
  }
  status.textContent = "updated " + clock();
  setTimeout(tick, every);
}

// A metric's page: the correlation, zoom by dragging, pick the anomaly's time by clicking.
function metricPage() {
  var corr = document.getElementById("correlate");
  if (corr) {
    corr.dataset.state = "loading";
    fetchInto(corr, corr.dataset.src)
      .then(function () { corr.dataset.state = "done"; })
      .catch(function (e) { corr.textContent = "correlation failed: " + e; corr.dataset.state = "failed"; });
  }
  var fig = document.getElementById("plot");
  if (!fig) return;
  var svg = fig.querySelector("svg");
  var from = Number(fig.dataset.from), until = Number(fig.dataset.until);
  var left = Number(fig.dataset.left), right = Number(fig.dataset.right), width = Number(fig.dataset.width);
  var sel = document.createElement("div");
  sel.className = "selection";
  sel.hidden = true;
  fig.appendChild(sel);
  function px(ev) {
    var r = svg.getBoundingClientRect();
    return (ev.clientX - r.left) * (width / r.width);
  }
  function time(x) {
    var f = Math.min(1, Math.max(0, (x - left) / (right - left)));
    return Math.round(from + f * (until - from));
  }
  var start = null;
  svg.addEventListener("mousedown", function (ev) { start = px(ev); ev.preventDefault(); });
  svg.addEventListener("mousemove", function (ev) {
    if (start === null) return;
    var r = svg.getBoundingClientRect(), scale = r.width / width;
    var a = Math.min(start, px(ev)), b = Math.max(start, px(ev));
    sel.hidden = false;
    sel.style.left = a * scale + "px";
    sel.style.width = (b - a) * scale + "px";
  });
  window.addEventListener("mouseup", function (ev) {
    if (start === null) return;
    var end = px(ev), a = Math.min(start, end), b = Math.max(start, end);
    start = null;
    sel.hidden = true;
    if (b - a > 5) {
      var f = time(a), u = time(b);
      if (u - f >= 60) location.href = fig.dataset.href + "?from=" + f + "&until=" + u;
      return;
    }
    if (!corr) return;
    var at = time(end);
    var src = corr.dataset.src.replace(/&at=-?\d+/, "") + "&at=" + at;
    corr.dataset.src = src;
    var label = document.getElementById("correlate-at");
    if (label) label.textContent = "around " + new Date(at * 1000).toISOString().replace("T", " ").substring(0, 19) + " (clicked)";
    corr.innerHTML = "";
    var p = document.createElement("p");
    p.className = "status";
    p.textContent = "Correlating with every stored metric…";
    corr.appendChild(p);
    corr.dataset.state = "loading";
    fetchInto(corr, src).then(function () { corr.dataset.state = "done"; });
  });
}

// Search by shape: draw on the canvas (or paste numbers), then search.
function shapePage() {
  var form = document.getElementById("shape-form");
  if (!form) return;
  var canvas = document.getElementById("shape-canvas");
  var ctx = canvas.getContext("2d");
  var values = form.elements["values"];
  var results = document.getElementById("shape-results");
  var stroke = [];
  function draw(ys) {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (ys.length < 2) return;
    var lo = Math.min.apply(null, ys), hi = Math.max.apply(null, ys), span = hi - lo || 1;
    ctx.strokeStyle = "#1f66b2";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ys.forEach(function (y, i) {
      var x = i / (ys.length - 1) * (canvas.width - 10) + 5;
      var py = canvas.height - 5 - (y - lo) / span * (canvas.height - 10);
      if (i === 0) ctx.moveTo(x, py); else ctx.lineTo(x, py);
    });
    ctx.stroke();
  }
  function parse() {
    return values.value.split(/[\s,;]+/).filter(function (s) { return s.length > 0; }).map(Number);
  }
  function point(ev) {
    var r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) * canvas.width / r.width, (ev.clientY - r.top) * canvas.height / r.height];
  }
  // The stroke as one value per column: the last y drawn at each x, gaps interpolated.
  function sample() {
    var n = 100, cols = new Array(n).fill(null);
    stroke.forEach(function (p) {
      var i = Math.max(0, Math.min(n - 1, Math.round(p[0] / canvas.width * (n - 1))));
      cols[i] = canvas.height - p[1];
    });
    var known = cols.map(function (v, i) { return v === null ? -1 : i; }).filter(function (i) { return i >= 0; });
    if (known.length < 2) return [];
    var first = known[0], last = known[known.length - 1], out = [];
    for (var i = first; i <= last; i++) {
      if (cols[i] !== null) { out.push(cols[i]); continue; }
      var a = i - 1; while (cols[a] === null) a--;
      var b = i + 1; while (cols[b] === null) b++;
      out.push(cols[a] + (cols[b] - cols[a]) * (i - a) / (b - a));
    }
    return out.map(function (v) { return Math.round(v * 10) / 10; });
  }
  var drawing = false;
  canvas.addEventListener("pointerdown", function (ev) {
    drawing = true; stroke = [point(ev)]; canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener("pointermove", function (ev) {
    if (!drawing) return;
    stroke.push(point(ev));
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#1f66b2"; ctx.lineWidth = 2; ctx.beginPath();
    stroke.forEach(function (p, i) { if (i === 0) ctx.moveTo(p[0], p[1]); else ctx.lineTo(p[0], p[1]); });
    ctx.stroke();
  });
  canvas.addEventListener("pointerup", function () {
    drawing = false;
    var ys = sample();
    values.value = ys.join(", ");
    draw(ys);
  });
  values.addEventListener("input", function () { draw(parse()); });
  document.getElementById("shape-clear").addEventListener("click", function () {
    values.value = ""; stroke = []; draw([]);
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = { values: parse(), range: Number(form.elements["range"].value) };
    var among = form.elements["among"].value.trim();
    if (among) body.among = among;
    results.textContent = "Searching every stored series…";
    results.dataset.state = "loading";
    fetchInto(results, "/fragment/shape", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function () { results.dataset.state = "done"; })
      .catch(function (e) { results.textContent = "search failed: " + e; results.dataset.state = "failed"; });
  });
  var seed = parse();
  if (seed.length >= 3) {
    draw(seed);
    form.requestSubmit();
  }
}

document.addEventListener("DOMContentLoaded", function () {
  alarmsPage();
  metricPage();
  shapePage();
});
