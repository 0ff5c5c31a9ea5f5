/* qbelief figure viewer: draws the figure specs of bayes/interactive.py on <canvas>.
 * No dependency and no network access.  Scatter panels are orthographic projections of
 * 2-D or 3-D points; dragging a 3-D panel rotates every panel of its link group (a shared
 * rotation matrix), double-click resets the view; hovering a point shows its hover text
 * and rings the same point in every panel.  Line panels draw series as lines, markers,
 * dashed lines or grouped bars (linear or log y).  A slider selects the training step
 * of frames / y_frames.  Errors are shown in the figure, never thrown: the page sets
 * data-qb-rendered (figures drawn) and data-qb-errors (figures that failed) on <html>. */
(function (root) {
  "use strict";
  function el(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function css(c) { return "#" + ("000000" + (c >>> 0).toString(16)).slice(-6); }
  function finite(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v) {
    if (!finite(v)) return "\u2013";
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
    return String(+v.toPrecision(4));
  }
  function fmtLog(v) {  // tick labels of a log axis: 0.01 ... 100 as decimals, beyond as 1e-4 / 2e5
    var e = Math.floor(Math.log10(v) + 1e-9), k = Math.round(v / Math.pow(10, e));
    return e >= -2 && e <= 3 ? String(+v.toPrecision(3)) : k + "e" + e;
  }
  function fmtVec(v) { return Array.isArray(v) ? "(" + v.map(fmt).join(", ") + ")" : fmt(v); }

  // ---------------------------------------------------------------- 3x3 rotations (row-major)
  function mul(a, b) {
    var r = new Array(9);
    for (var i = 0; i < 3; i++) for (var j = 0; j < 3; j++)
      r[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
    return r;
  }
  function rotX(t) { var c = Math.cos(t), s = Math.sin(t); return [1, 0, 0, 0, c, -s, 0, s, c]; }
  function rotY(t) { var c = Math.cos(t), s = Math.sin(t); return [c, 0, s, 0, 1, 0, -s, 0, c]; }
  function initialRotation() { return mul(rotX(0.5), rotY(-0.4)); }

  function setupCanvas(canvas, w, h) {
    var dpr = root.devicePixelRatio || 1;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    canvas.style.width = w + "px"; canvas.style.height = h + "px";
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }
  function localXY(canvas, ev) {
    var r = canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  // ---------------------------------------------------------------- a view shared by linked panels
  function View(dims) { this.dims = dims; this.R = initialRotation(); this.panels = []; this.center = null; this.radius = 1; }
  View.prototype.fit = function () {
    var d = this.dims, lo = [], hi = [], k, all = [];
    for (k = 0; k < d; k++) { lo.push(Infinity); hi.push(-Infinity); }
    this.panels.forEach(function (p) {
      p.allPoints().forEach(function (q) {
        for (var k = 0; k < d; k++) { if (q[k] < lo[k]) lo[k] = q[k]; if (q[k] > hi[k]) hi[k] = q[k]; }
        all.push(q);
      });
    });
    var c = lo.map(function (l, k) { return finite(l) ? (l + hi[k]) / 2 : 0; });
    // radius: the 99.5th percentile of the distances from the centre (a few outliers of a
    // poorly fitted projection do not shrink the picture), and every guide
    var dist = all.map(function (q) {
      var s = 0; for (var k = 0; k < d; k++) { var t = q[k] - c[k]; s += t * t; } return Math.sqrt(s);
    }).sort(function (a, b) { return a - b; });
    var r = dist.length ? dist[Math.min(dist.length - 1, Math.floor(0.995 * dist.length))] : 1;
    this.panels.forEach(function (p) {
      (p.spec.guides || []).forEach(function (g) {
        g.forEach(function (q) { var s = 0; for (var k = 0; k < d; k++) s += (q[k] - c[k]) * (q[k] - c[k]); r = Math.max(r, Math.sqrt(s)); });
      });
    });
    this.center = c; this.radius = r > 0 ? r * 1.04 : 1;
  };
  View.prototype.redraw = function () { this.panels.forEach(function (p) { p.draw(); }); };

  // ---------------------------------------------------------------- scatter panel
  function ScatterPanel(fig, spec, box) {
    this.fig = fig; this.spec = spec; this.size = 340;
    el("div", "qb-ptitle", box, spec.title);
    this.canvas = el("canvas", "qb-canvas", box);
    this.ctx = setupCanvas(this.canvas, this.size, this.size);
    var n = (spec.points || spec.frames[0]).length;
    this.n = n;
    this.colors = new Array(n);
    for (var i = 0; i < n; i++) this.colors[i] = spec.colors ? css(spec.colors[i]) : "#1f77b4";
    this.xs = new Float32Array(n); this.ys = new Float32Array(n); this.zs = new Float32Array(n);
    if (spec.dims === 3) el("div", "qb-hint", box, "drag to rotate \u00b7 double-click to reset");
    this.bind();
  }
  // the points the view is scaled to: static points, or the last frame (the trained model;
  // early, noisy frames may run off the canvas rather than shrink the final picture)
  ScatterPanel.prototype.allPoints = function () {
    return this.spec.points ? this.spec.points : this.spec.frames[this.spec.frames.length - 1];
  };
  ScatterPanel.prototype.current = function () {
    return this.spec.points ? this.spec.points : this.spec.frames[this.fig.step];
  };
  ScatterPanel.prototype.project = function (q, out) {
    var v = this.view, c = v.center, s = 0.47 * this.size / v.radius, h = this.size / 2;
    var a = q[0] - c[0], b = q[1] - c[1], z = this.spec.dims === 3 ? q[2] - c[2] : 0, R = v.R;
    if (this.spec.dims === 3) {
      out[0] = h + s * (R[0] * a + R[1] * b + R[2] * z);
      out[1] = h - s * (R[3] * a + R[4] * b + R[5] * z);
      out[2] = R[6] * a + R[7] * b + R[8] * z;
    } else { out[0] = h + s * a; out[1] = h - s * b; out[2] = 0; }
    return out;
  };
  ScatterPanel.prototype.draw = function () {
    var ctx = this.ctx, S = this.size, self = this, p = [0, 0, 0], i, pts = this.current();
    ctx.clearRect(0, 0, S, S);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, S, S);
    ctx.strokeStyle = "#c8c8c8"; ctx.lineWidth = 1;
    (this.spec.guides || []).forEach(function (g) {
      ctx.beginPath();
      g.forEach(function (q, k) { self.project(q, p); if (k) ctx.lineTo(p[0], p[1]); else ctx.moveTo(p[0], p[1]); });
      ctx.stroke();
    });
    for (i = 0; i < this.n; i++) { this.project(pts[i], p); this.xs[i] = p[0]; this.ys[i] = p[1]; this.zs[i] = p[2]; }
    var order = new Uint32Array(this.n);
    for (i = 0; i < this.n; i++) order[i] = i;
    if (this.spec.dims === 3) { var zs = this.zs; order.sort(function (a, b) { return zs[a] - zs[b]; }); }
    var sizes = this.spec.sizes;
    for (var k = 0; k < this.n; k++) {
      i = order[k];
      ctx.fillStyle = this.colors[i];
      ctx.beginPath(); ctx.arc(this.xs[i], this.ys[i], sizes ? sizes[i] : 2.2, 0, 2 * Math.PI); ctx.fill();
    }
    var hi = this.fig.hoverIndex;
    if (hi >= 0 && hi < this.n) {
      ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(this.xs[hi], this.ys[hi], 7, 0, 2 * Math.PI); ctx.stroke();
    }
    this.drawAxes();
  };
  ScatterPanel.prototype.drawAxes = function () {
    var ctx = this.ctx, R = this.view.R, ox = 30, oy = this.size - 30, names = this.spec.axes;
    ctx.font = "11px system-ui, sans-serif"; ctx.lineWidth = 1.2;
    for (var k = 0; k < this.spec.dims; k++) {
      var dx = this.spec.dims === 3 ? R[k] : (k === 0 ? 1 : 0), dy = this.spec.dims === 3 ? R[3 + k] : (k === 1 ? 1 : 0);
      ctx.strokeStyle = "#555"; ctx.fillStyle = "#333";
      ctx.beginPath(); ctx.moveTo(ox, oy); ctx.lineTo(ox + 20 * dx, oy - 20 * dy); ctx.stroke();
      ctx.fillText(names[k], ox + 24 * dx - 4, oy - 24 * dy + 4);
    }
  };
  ScatterPanel.prototype.nearest = function (x, y) {
    var best = -1, bd = 49;
    for (var i = 0; i < this.n; i++) {
      var dx = this.xs[i] - x, dy = this.ys[i] - y, d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  };
  ScatterPanel.prototype.bind = function () {
    var self = this, c = this.canvas, drag = null;
    c.addEventListener("pointerdown", function (ev) {
      if (self.spec.dims !== 3) return;
      drag = localXY(c, ev); self.fig.hover(-1);
      try { c.setPointerCapture(ev.pointerId); } catch (e) { /* a synthetic or finished pointer: drag without capture */ }
    });
    c.addEventListener("pointermove", function (ev) {
      var xy = localXY(c, ev);
      if (drag) {
        self.view.R = mul(mul(rotY((xy[0] - drag[0]) * 0.01), rotX((xy[1] - drag[1]) * 0.01)), self.view.R);
        drag = xy; self.view.redraw(); return;
      }
      var i = self.nearest(xy[0], xy[1]);
      self.fig.hover(i, i >= 0 ? self.tip(i) : null, ev);
    });
    c.addEventListener("pointerup", function () { drag = null; });
    c.addEventListener("pointerleave", function () { if (!drag) self.fig.hover(-1); });
    c.addEventListener("dblclick", function () { self.view.R = initialRotation(); self.view.redraw(); });
  };
  ScatterPanel.prototype.tip = function (i) {
    var h = this.fig.spec.hover, lines = [];
    if (h && h.labels) lines.push(h.title + " " + h.labels[i]);
    if (h) h.fields.forEach(function (f) { lines.push(f.name + " " + fmtVec(f.values[i])); });
    lines.push(this.spec.title + ": " + fmtVec(this.current()[i]));
    return lines.join("\n");
  };

  // ---------------------------------------------------------------- line / bar panel
  function niceTicks(lo, hi, n) {
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / n))), err = span / n / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) out.push(Math.abs(t) < 1e-12 * span ? 0 : t);
    return out;
  }
  function LinesPanel(fig, spec, box) {
    this.fig = fig; this.spec = spec; this.W = 430; this.H = 300; this.hidden = {};
    el("div", "qb-ptitle", box, spec.title);
    this.canvas = el("canvas", "qb-canvas", box);
    this.ctx = setupCanvas(this.canvas, this.W, this.H);
    var cats = spec.categories, longest = 0;
    (cats || []).forEach(function (c) { longest = Math.max(longest, c.length); });
    this.rotate = cats && longest * 6.5 > (this.W - 70) / cats.length;
    this.m = { l: 62, r: 12, t: 10, b: this.rotate ? 30 + Math.min(longest, 22) * 4.6 : 42 };
    var legend = el("div", "qb-legend", box), self = this;
    spec.series.forEach(function (s, j) {
      var item = el("span", "qb-legend-item", legend);
      var sw = el("span", "qb-swatch", item); sw.style.background = css(s.color || 0);
      if (s.mode === "dashed") sw.className += " qb-swatch-dashed";
      el("span", "", item, s.name);
      item.addEventListener("click", function () {
        self.hidden[j] = !self.hidden[j]; item.classList.toggle("qb-off", !!self.hidden[j]); self.draw();
      });
    });
    this.fitScales();
    this.bind();
  }
  LinesPanel.prototype.ys = function (s) { return s.y_frames ? s.y_frames[this.fig.step] : s.y; };
  LinesPanel.prototype.fitScales = function () {
    var spec = this.spec, lo = Infinity, hi = -Infinity, xlo = Infinity, xhi = -Infinity, log = spec.log_y, bars = false;
    spec.series.forEach(function (s) {
      (s.y_frames || [s.y]).forEach(function (ys) {
        ys.forEach(function (v) { if (finite(v) && (!log || v > 0)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
      });
      s.x.forEach(function (v) { xlo = Math.min(xlo, v); xhi = Math.max(xhi, v); });
      if (s.mode === "bars") bars = true;
    });
    if (bars && !log) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
    var steps = this.fig.spec.steps;
    if (spec.step_marker && steps) { xlo = Math.min(xlo, steps[0]); xhi = Math.max(xhi, steps[steps.length - 1]); }
    if (!finite(lo)) { lo = log ? 0.1 : 0; hi = log ? 1 : 1; }
    if (spec.y_range) { lo = spec.y_range[0]; hi = spec.y_range[1]; }
    else if (log) { lo = Math.pow(10, Math.floor(Math.log10(lo) - 0.05)); hi = Math.pow(10, Math.ceil(Math.log10(hi) + 0.05)); }
    else { var pad = hi > lo ? 0.06 * (hi - lo) : (Math.abs(hi) || 1) * 0.1; if (!(bars && lo === 0)) lo -= pad; hi += pad; }
    if (spec.categories) { xlo = -0.5; xhi = spec.categories.length - 0.5; }
    else if (!(xhi > xlo)) { xlo -= 1; xhi += 1; }
    else { var xp = 0.03 * (xhi - xlo); xlo -= xp; xhi += xp; }
    this.ylo = lo; this.yhi = hi; this.xlo = xlo; this.xhi = xhi;
  };
  LinesPanel.prototype.px = function (x) { var m = this.m; return m.l + (x - this.xlo) / (this.xhi - this.xlo) * (this.W - m.l - m.r); };
  LinesPanel.prototype.py = function (y) {
    var m = this.m, h = this.H - m.t - m.b, f;
    if (this.spec.log_y) f = (Math.log10(y) - Math.log10(this.ylo)) / (Math.log10(this.yhi) - Math.log10(this.ylo));
    else f = (y - this.ylo) / (this.yhi - this.ylo);
    return m.t + (1 - f) * h;
  };
  LinesPanel.prototype.yTicks = function () {
    if (!this.spec.log_y) return niceTicks(this.ylo, this.yhi, 5);
    var out = [], a = Math.floor(Math.log10(this.ylo)), b = Math.ceil(Math.log10(this.yhi)), mult = b - a <= 2 ? [1, 2, 5] : [1];
    for (var e = a; e <= b; e++) mult.forEach(function (k) { var v = k * Math.pow(10, e); out.push(v); });
    var lo = this.ylo, hi = this.yhi;
    return out.filter(function (v) { return v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9); });
  };
  LinesPanel.prototype.draw = function () {
    var ctx = this.ctx, m = this.m, W = this.W, H = this.H, self = this, spec = this.spec;
    ctx.clearRect(0, 0, W, H); ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    ctx.font = "11px system-ui, sans-serif"; ctx.strokeStyle = "#e3e3e3"; ctx.fillStyle = "#333"; ctx.lineWidth = 1;
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    this.yTicks().forEach(function (t) {
      var y = self.py(t); ctx.beginPath(); ctx.moveTo(m.l, y); ctx.lineTo(W - m.r, y); ctx.stroke();
      ctx.fillText(self.spec.log_y ? fmtLog(t) : fmt(t), m.l - 5, y);
    });
    var cats = spec.categories, xt = cats ? cats.map(function (_, k) { return k; }) : niceTicks(this.xlo, this.xhi, 6);
    xt.forEach(function (t) {
      var x = self.px(t), label = cats ? cats[t] : fmt(t);
      ctx.save(); ctx.translate(x, H - m.b + 6);
      if (self.rotate) { ctx.rotate(-0.6); ctx.textAlign = "right"; ctx.textBaseline = "middle"; }
      else { ctx.textAlign = "center"; ctx.textBaseline = "top"; }
      ctx.fillText(label, 0, 0); ctx.restore();
    });
    ctx.strokeStyle = "#888"; ctx.beginPath(); ctx.moveTo(m.l, m.t); ctx.lineTo(m.l, H - m.b); ctx.lineTo(W - m.r, H - m.b); ctx.stroke();
    ctx.textAlign = "center"; ctx.textBaseline = "bottom"; ctx.fillText(spec.x_label, (m.l + W - m.r) / 2, H - 2);
    ctx.save(); ctx.translate(12, (m.t + H - m.b) / 2); ctx.rotate(-Math.PI / 2); ctx.textBaseline = "middle";
    ctx.fillText(spec.y_label, 0, 0); ctx.restore();
    var steps = this.fig.spec.steps;
    if (spec.step_marker && steps) {
      var sx = this.px(steps[this.fig.step]);
      ctx.strokeStyle = "#999"; ctx.setLineDash([3, 3]); ctx.beginPath(); ctx.moveTo(sx, m.t); ctx.lineTo(sx, H - m.b); ctx.stroke(); ctx.setLineDash([]);
    }
    ctx.save(); ctx.beginPath(); ctx.rect(m.l, m.t, W - m.l - m.r, H - m.t - m.b); ctx.clip();
    var nb = spec.series.filter(function (s) { return s.mode === "bars"; }).length, bi = 0;
    this.marks = [];
    spec.series.forEach(function (s, j) {
      var ys = self.ys(s), col = css(s.color || 0), isBar = s.mode === "bars", slot = isBar ? bi++ : 0;
      if (self.hidden[j]) return;
      ctx.strokeStyle = col; ctx.fillStyle = col; ctx.lineWidth = 1.6;
      ctx.setLineDash(s.mode === "dashed" ? [6, 4] : []);
      if (isBar) {
        var bw = 0.8 / nb, base = self.py(spec.log_y ? self.ylo : Math.max(self.ylo, 0));
        s.x.forEach(function (x, k) {
          if (!finite(ys[k]) || (spec.log_y && ys[k] <= 0)) return;
          var x0 = self.px(x - 0.4 + slot * bw), x1 = self.px(x - 0.4 + (slot + 1) * bw), y = self.py(ys[k]);
          ctx.fillRect(x0, Math.min(y, base), Math.max(1, x1 - x0 - 1), Math.abs(base - y));
          self.marks.push([(x0 + x1) / 2, y, j, k]);
        });
        return;
      }
      if (s.mode !== "markers") {
        ctx.beginPath(); var pen = false;
        s.x.forEach(function (x, k) {
          var ok = finite(ys[k]) && (!spec.log_y || ys[k] > 0);
          if (!ok) { pen = false; return; }
          if (pen) ctx.lineTo(self.px(x), self.py(ys[k])); else ctx.moveTo(self.px(x), self.py(ys[k]));
          pen = true;
        });
        ctx.stroke();
      }
      ctx.setLineDash([]);
      s.x.forEach(function (x, k) {
        if (!finite(ys[k]) || (spec.log_y && ys[k] <= 0)) return;
        var X = self.px(x), Y = self.py(ys[k]);
        if (s.mode === "markers" || s.mode === "lines+markers") { ctx.beginPath(); ctx.arc(X, Y, 3, 0, 2 * Math.PI); ctx.fill(); }
        self.marks.push([X, Y, j, k]);
      });
    });
    ctx.restore(); ctx.setLineDash([]);
  };
  LinesPanel.prototype.bind = function () {
    var self = this, c = this.canvas;
    c.addEventListener("pointermove", function (ev) {
      var xy = localXY(c, ev), best = null, bd = 144;
      (self.marks || []).forEach(function (mk) {
        var d = (mk[0] - xy[0]) * (mk[0] - xy[0]) + (mk[1] - xy[1]) * (mk[1] - xy[1]);
        if (d < bd) { bd = d; best = mk; }
      });
      if (!best) { self.fig.tooltip(null); return; }
      var s = self.spec.series[best[2]], x = s.x[best[3]], cats = self.spec.categories;
      self.fig.tooltip(s.name + "\n" + (self.spec.x_label || "x") + " " + (cats ? cats[x] : fmt(x)) + "\n" +
                       (self.spec.y_label || "y") + " " + fmt(self.ys(s)[best[3]]), ev);
    });
    c.addEventListener("pointerleave", function () { self.fig.tooltip(null); });
  };

  // ---------------------------------------------------------------- figure
  function Figure(container, spec) {
    this.spec = spec; this.container = container; this.hoverIndex = -1;
    this.step = spec.steps ? spec.steps.length - 1 : 0;
    container.innerHTML = "";
    if (spec.title) el("div", "qb-title", container, spec.title);
    var row = el("div", "qb-panels", container), self = this, views = {};
    this.panels = spec.panels.map(function (p) {
      var box = el("div", "qb-panel", row);
      if (p.type === "lines") return new LinesPanel(self, p, box);
      if (p.type !== "scatter") throw new Error("unknown panel type " + JSON.stringify(p.type));
      var sp = new ScatterPanel(self, p, box), key = (p.link || "view") + "/" + p.dims;
      sp.view = views[key] || (views[key] = new View(p.dims));
      sp.view.panels.push(sp);
      return sp;
    });
    Object.keys(views).forEach(function (k) { views[k].fit(); });
    if (spec.steps) this.controls();
    if (spec.caption) el("div", "qb-caption", container, spec.caption);
    this.tip = el("div", "qb-tip", container);
    this.draw();
  }
  Figure.prototype.draw = function () { this.panels.forEach(function (p) { p.draw(); }); };
  Figure.prototype.controls = function () {
    var self = this, steps = this.spec.steps, bar = el("div", "qb-controls", this.container);
    var play = el("button", "qb-play", bar, "\u25b6");
    var slider = el("input", "qb-slider", bar);
    slider.type = "range"; slider.min = 0; slider.max = steps.length - 1; slider.value = this.step;
    var label = el("span", "qb-step", bar, "step " + steps[this.step]);
    var timer = null;
    function set(i) { self.step = i; slider.value = i; label.textContent = "step " + steps[i]; self.draw(); }
    slider.addEventListener("input", function () { set(+slider.value); });
    play.addEventListener("click", function () {
      if (timer) { clearInterval(timer); timer = null; play.textContent = "\u25b6"; return; }
      if (self.step >= steps.length - 1) set(0);
      play.textContent = "\u275a\u275a";
      timer = setInterval(function () {
        if (self.step >= steps.length - 1) { clearInterval(timer); timer = null; play.textContent = "\u25b6"; return; }
        set(self.step + 1);
      }, 700);
    });
    this.setStep = set;
  };
  Figure.prototype.hover = function (i, text, ev) {
    if (i !== this.hoverIndex) {
      this.hoverIndex = i;
      this.panels.forEach(function (p) { if (p instanceof ScatterPanel) p.draw(); });
    }
    this.tooltip(i >= 0 ? text : null, ev);
  };
  Figure.prototype.tooltip = function (text, ev) {
    if (!text) { this.tip.style.display = "none"; return; }
    var r = this.container.getBoundingClientRect();
    this.tip.textContent = text; this.tip.style.display = "block";
    this.tip.style.left = (ev.clientX - r.left + 14) + "px"; this.tip.style.top = (ev.clientY - r.top + 14) + "px";
  };

  // ---------------------------------------------------------------- entry points
  var counts = { rendered: 0, errors: 0 };
  function render(container, spec) {
    try {
      var f = new Figure(container, spec);
      counts.rendered++;
      return f;
    } catch (e) {
      counts.errors++;
      container.innerHTML = "";
      el("div", "qb-error", container, "This figure could not be drawn: " + (e && e.message ? e.message : e));
      return null;
    } finally {
      document.documentElement.setAttribute("data-qb-rendered", String(counts.rendered));
      document.documentElement.setAttribute("data-qb-errors", String(counts.errors));
    }
  }
  function renderAll() {
    var nodes = document.querySelectorAll("script[data-qb-figure]");
    Array.prototype.forEach.call(nodes, function (s) {
      var box = document.getElementById(s.getAttribute("data-qb-figure"));
      if (!box || box.getAttribute("data-qb-done")) return;
      box.setAttribute("data-qb-done", "1");
      var spec;
      try { spec = JSON.parse(s.textContent); } catch (e) {
        counts.errors++; el("div", "qb-error", box, "This figure's data could not be read: " + e.message); return;
      }
      render(box, spec);
    });
    document.documentElement.setAttribute("data-qb-rendered", String(counts.rendered));
    document.documentElement.setAttribute("data-qb-errors", String(counts.errors));
  }
  root.QBViewer = { render: render, renderAll: renderAll };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", renderAll);
  else renderAll();
})(window);
