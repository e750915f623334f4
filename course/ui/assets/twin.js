/* Static twin of a course explorer: draws course.figures specifications as SVG.
 * No libraries, no network: the page carries this script and the precomputed frames.
 * window.courseTwin.mount(rootId, data) wires the controls; each input swaps the frame. */
(function () {
  "use strict";
  if (window.courseTwin) return;
  var NS = "http://www.w3.org/2000/svg";
  var PX = 100; // pixels per inch, as the matplotlib renderer
  var MIN_PANEL = 300; // narrowest panel (px) before panels wrap onto another row
  var MIN_FONT = 9.5; // a title shrinks to fit its width, never below this (px)

  function el(tag, attrs, parent, text) {
    var node = document.createElementNS(NS, tag);
    for (var k in attrs) if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function fmt(v) {
    if (v === 0) return "0";
    var a = Math.abs(v);
    if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace("e+", "e");  // as plots._log_label
    return String(parseFloat(v.toPrecision(3)));
  }

  // What the figure shows, in words: the svg's aria-label. The same sentence as
  // course.ui.figures.describe (a browser test compares them).
  function describe(spec, most) {
    most = most || 6;
    var parts = [spec.title ? spec.title + "." : "A figure."];
    spec.panels.forEach(function (p, i) {
      var head = "Panel " + (i + 1) + (p.title ? ", " + p.title : ""), what;
      if (p.kind === "heatmap") {
        what = "heatmap of " + (p.zlabel || "values") + " over " + (p.xlabel || "columns") +
          " (" + p.x.length + ") and " + (p.ylabel || "rows") + " (" + p.y.length + ")";
      } else {
        var scale = p.xlog && p.ylog ? ", both axes logarithmic" : p.xlog ? ", x logarithmic" : p.ylog ? ", y logarithmic" : "";
        var names = p.series.map(function (s) { return s.label; }).filter(function (l) { return l; });
        what = (p.ylabel || "y") + " against " + (p.xlabel || "x") + scale + "; " + p.series.length + " series";
        if (names.length) {
          what += ": " + names.slice(0, most).join(", ") + (names.length > most ? " and " + (names.length - most) + " more" : "");
        }
      }
      parts.push(head + ": " + what + ".");
    });
    return parts.join(" ");
  }

  function linearTicks(lo, hi, n) {
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / n)));
    var err = span / n / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    return ticks;
  }

  function logTicks(lo, hi) {
    var ticks = [], decades = Math.log10(hi / lo);
    var subs = decades <= 3 ? [1, 2, 5] : [1], step = decades <= 3 ? 1 : Math.ceil(decades / 6);
    for (var e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      if (((e % step) + step) % step) continue;
      subs.forEach(function (m) {
        var t = m * Math.pow(10, e);
        if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
      });
    }
    return ticks;
  }

  function extent(values, log) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) {
      if (v === null || !isFinite(v) || (log && v <= 0)) return;
      lo = Math.min(lo, v); hi = Math.max(hi, v);
    });
    if (!isFinite(lo)) { lo = log ? 1 : 0; hi = log ? 10 : 1; }
    if (hi === lo) { hi = lo + (log ? lo : 1); }
    return [lo, hi];
  }

  function scale(lo, hi, a, b, log) {
    if (log) { lo = Math.log10(lo); hi = Math.log10(hi); }
    return function (v) { var u = log ? Math.log10(v) : v; return a + (u - lo) / (hi - lo) * (b - a); };
  }

  function fitText(node, width) {
    // shrink a title that is wider than its room, down to MIN_FONT; wrap nothing
    var size = parseFloat(node.getAttribute("font-size"));
    var len = node.getComputedTextLength ? node.getComputedTextLength() : 0;
    if (len > width && len > 0) node.setAttribute("font-size", Math.max(MIN_FONT, size * width / len).toFixed(1));
  }

  function axesText(g, box, p) {
    fitText(el("text", { x: box.x + box.w / 2, y: box.y - 8, "text-anchor": "middle", "font-size": 13 }, g, p.title), box.w + 40);
    el("text", { x: box.x + box.w / 2, y: box.y + box.h + 36, "text-anchor": "middle", "font-size": 12 }, g, p.xlabel);
    el("text", { x: box.x - 44, y: box.y + box.h / 2, "text-anchor": "middle", "font-size": 12,
                 transform: "rotate(-90 " + (box.x - 44) + " " + (box.y + box.h / 2) + ")" }, g, p.ylabel);
  }

  function textWidth(g, labels, size) {  // drawn width of the longest label, in px
    var longest = labels.reduce(function (a, t) { return String(t).length > a.length ? String(t) : a; }, "");
    var probe = el("text", { "font-size": size }, g, longest);
    var len = probe.getComputedTextLength ? probe.getComputedTextLength() : 0.6 * size * longest.length;
    g.removeChild(probe);
    return len;
  }

  function drawLines(g, p, box, palette) {
    var xs = [], ys = [];
    p.series.forEach(function (s) {
      xs = xs.concat(s.x);
      s.y.forEach(function (y, i) {
        ys.push(y);
        if (s.err && y !== null && s.err[i] !== null) { ys.push(y - s.err[i]); ys.push(y + s.err[i]); }
      });
    });
    var xr = p.xlim || extent(xs, p.xlog), yr = p.ylim || extent(ys, p.ylog);
    if (!p.ylim && !p.ylog) { var pad = (yr[1] - yr[0]) * 0.05; yr = [yr[0] - pad, yr[1] + pad]; }
    var X = scale(xr[0], xr[1], box.x, box.x + box.w, p.xlog);
    var Y = scale(yr[0], yr[1], box.y + box.h, box.y, p.ylog);
    var clipId = "c" + Math.random().toString(36).slice(2);
    var clip = el("clipPath", { id: clipId }, g);
    el("rect", { x: box.x, y: box.y, width: box.w, height: box.h }, clip);
    (p.xlog ? logTicks(xr[0], xr[1]) : linearTicks(xr[0], xr[1], 5)).forEach(function (t) {
      var x = X(t);
      el("line", { x1: x, x2: x, y1: box.y, y2: box.y + box.h, stroke: "#e5e5e5" }, g);
      el("text", { x: x, y: box.y + box.h + 16, "text-anchor": "middle", "font-size": 11 }, g, fmt(t));
    });
    (p.ylog ? logTicks(yr[0], yr[1]) : linearTicks(yr[0], yr[1], 5)).forEach(function (t) {
      var y = Y(t);
      el("line", { x1: box.x, x2: box.x + box.w, y1: y, y2: y, stroke: "#e5e5e5" }, g);
      el("text", { x: box.x - 6, y: y + 4, "text-anchor": "end", "font-size": 11 }, g, fmt(t));
    });
    el("rect", { x: box.x, y: box.y, width: box.w, height: box.h, fill: "none", stroke: "#333" }, g);
    var plot = el("g", { "clip-path": "url(#" + clipId + ")" }, g);
    if (p.vline !== null) el("line", { x1: X(p.vline), x2: X(p.vline), y1: box.y, y2: box.y + box.h, stroke: "#4d4d4d", "stroke-dasharray": "2,3" }, plot);
    if (p.hline !== null) el("line", { x1: box.x, x2: box.x + box.w, y1: Y(p.hline), y2: Y(p.hline), stroke: "#4d4d4d", "stroke-dasharray": "2,3" }, plot);
    p.series.forEach(function (s, i) {
      var color = s.color || palette[i % palette.length];
      if (s.err) {
        var up = [], down = [];
        s.x.forEach(function (x, j) {
          if (s.y[j] === null || s.err[j] === null) return;
          up.push(X(x) + "," + Y(s.y[j] + s.err[j])); down.unshift(X(x) + "," + Y(s.y[j] - s.err[j]));
        });
        if (up.length) el("polygon", { points: up.concat(down).join(" "), fill: color, "fill-opacity": 0.18 }, plot);
      }
      var d = "", pen = false;
      s.x.forEach(function (x, j) {
        if (s.y[j] === null) { pen = false; return; }
        d += (pen ? "L" : "M") + X(x).toFixed(1) + "," + Y(s.y[j]).toFixed(1); pen = true;
      });
      if (s.line !== false) el("path", { d: d, fill: "none", stroke: color, "stroke-width": 1.8, "stroke-dasharray": s.dashed ? "6,4" : null }, plot);
      if (s.markers) s.x.forEach(function (x, j) {
        if (s.y[j] === null) return;
        if (s.hollow) el("circle", { cx: X(x), cy: Y(s.y[j]), r: 6, fill: "none", stroke: color, "stroke-width": 1.2 }, plot);
        else el("circle", { cx: X(x), cy: Y(s.y[j]), r: 3.2, fill: color }, plot);
      });
    });
    if (p.legend) {  // at the corner the specification chose (figures.Lines.legend_place)
      var labelled = p.series.filter(function (s) { return s.label; }), k = 0;
      var loc = p.legend_loc || "upper right", right = loc.indexOf("right") >= 0;
      var width = 30 + textWidth(g, labelled.map(function (s) { return s.label; }), 11);
      var x0 = right ? box.x + box.w - width - 6 : box.x + 8;
      var y0 = loc.indexOf("upper") >= 0 ? box.y + 14 : box.y + box.h - 16 * labelled.length + 4;
      var legend = el("g", { "class": "legend" }, g);
      p.series.forEach(function (s, i) {
        if (!s.label) return;
        var y = y0 + 16 * k++, color = s.color || palette[i % palette.length];
        if (s.line === false) el("circle", { cx: x0 + 10, cy: y - 4, r: s.hollow ? 5 : 3.2, fill: s.hollow ? "none" : color, stroke: color, "stroke-width": 1.2 }, legend);
        else el("line", { x1: x0, x2: x0 + 20, y1: y - 4, y2: y - 4, stroke: color, "stroke-width": 2, "stroke-dasharray": s.dashed ? "6,4" : null }, legend);
        el("text", { x: x0 + 26, y: y, "font-size": 11 }, legend, s.label);
      });
    }
    axesText(g, box, p);
  }

  function color(cmap, u) {
    u = Math.max(0, Math.min(1, u));
    return cmap[Math.round(u * (cmap.length - 1))];
  }

  function drawHeatmap(g, p, box, cmap) {
    var rows = p.z.length, cols = p.z[0].length;
    var bw = 14, bgap = 10, w = box.w - bw - bgap - 34;
    var cw = w / cols, ch = box.h / rows, lo = p.limits[0], hi = p.limits[1];
    // annotate only where the numbers fit their cells; label every k-th column where they do not
    var annotate = p.text && textWidth(g, [].concat.apply([], p.text), 9.5) <= cw - 2;
    var every = Math.max(1, Math.ceil((textWidth(g, p.x, 11) + 4) / cw));
    for (var r = 0; r < rows; r++) {
      for (var c = 0; c < cols; c++) {
        var v = p.z[r][c], u = v === null ? 0 : (v - lo) / (hi - lo);
        var x = box.x + c * cw, y = box.y + box.h - (r + 1) * ch;
        el("rect", { x: x, y: y, width: cw + 0.5, height: ch + 0.5, fill: v === null ? "#fff" : color(cmap, u) }, g);
        if (annotate) el("text", { x: x + cw / 2, y: y + ch / 2 + 3.5, "text-anchor": "middle", "font-size": 9.5, fill: u > 0.5 ? "#000" : "#fff" }, g, p.text[r][c]);
      }
    }
    p.x.forEach(function (t, c) { if (c % every === 0) el("text", { x: box.x + (c + 0.5) * cw, y: box.y + box.h + 16, "text-anchor": "middle", "font-size": 11 }, g, t); });
    p.y.forEach(function (t, r) { el("text", { x: box.x - 6, y: box.y + box.h - (r + 0.5) * ch + 4, "text-anchor": "end", "font-size": 11 }, g, t); });
    if (p.marker) el("rect", { x: box.x + p.marker[0] * cw + 1, y: box.y + box.h - (p.marker[1] + 1) * ch + 1, width: cw - 2, height: ch - 2, fill: "none", stroke: "#d62728", "stroke-width": 2.5, "class": "twin-marker" }, g);
    var bx = box.x + w + bgap, n = 40;
    for (var i = 0; i < n; i++) el("rect", { x: bx, y: box.y + box.h - (i + 1) * box.h / n, width: bw, height: box.h / n + 0.5, fill: color(cmap, (i + 0.5) / n) }, g);
    p.ticks.forEach(function (t, i) { el("text", { x: bx + bw + 4, y: box.y + box.h - i / (p.ticks.length - 1) * box.h + 4, "font-size": 10 }, g, t); });
    el("text", { x: bx + bw + 30, y: box.y + box.h / 2, "text-anchor": "middle", "font-size": 11,
                 transform: "rotate(90 " + (bx + bw + 30) + " " + (box.y + box.h / 2) + ")" }, g, p.zlabel);
    axesText(g, { x: box.x, y: box.y, w: w, h: box.h }, p);
  }

  function render(host, spec, cmap, palette) {
    // Drawn at the width it is shown (1 SVG unit = 1 CSS pixel), so text keeps its size;
    // where the page is narrower than the figure, panels wrap onto more rows.
    var W0 = spec.width * PX, H0 = spec.height * PX;
    var avail = host.clientWidth || W0, W = Math.min(W0, avail);
    var n = spec.panels.length;
    var perRow = Math.max(1, Math.min(n, Math.floor(W / MIN_PANEL)));
    var rows = Math.ceil(n / perRow);
    var left = Math.max(0.07 * W, 56), right = 0.98 * W;
    var top = (1 - (spec.title ? 0.84 : 0.9)) * H0, boxH = 0.68 * H0, rowH = boxH + 0.16 * H0 + 28;
    var H = top + rows * rowH - 28;
    var gap = 0.38, pw = (right - left) / (perRow + gap * (perRow - 1));
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, style: "max-width:100%;height:auto;font-family:sans-serif", role: "img", "aria-label": describe(spec) });
    host.replaceChildren(svg);  // attached first, so text can be measured
    fitText(el("text", { x: W / 2, y: 22, "text-anchor": "middle", "font-size": 14, "class": "twin-title" }, svg, spec.title), W - 8);
    spec.panels.forEach(function (p, i) {
      var r = Math.floor(i / perRow), c = i % perRow;
      var box = { x: left + c * pw * (1 + gap), y: top + r * rowH, w: pw, h: boxH };
      var g = el("g", {}, svg);
      if (p.kind === "heatmap") drawHeatmap(g, p, box, cmap); else drawLines(g, p, box, palette);
    });
  }

  var mounted = {};  // root id -> its data (for tests that walk every frame)

  function mount(id, data) {
    mounted[id] = data;
    var root = document.getElementById(id);
    var host = root.querySelector(".twin-figure"), state = data.controls.map(function (c) { return c.index; });
    function show() {
      var frame = data.frames[state.join(",")];
      if (frame) render(host, frame, data.cmap, data.palette);
    }
    data.controls.forEach(function (c, k) {
      var row = root.querySelector('[data-control="' + c.name + '"]');
      var input = row.querySelector("input,select"), out = row.querySelector("output");
      input.addEventListener("input", function () {
        state[k] = parseInt(input.value, 10);
        if (out) out.textContent = c.labels[state[k]];
        show();
      });
    });
    show();
    window.addEventListener("resize", show);  // redraw at the new width
  }

  window.courseTwin = { mount: mount, render: render, mounted: mounted, describe: describe };
})();
