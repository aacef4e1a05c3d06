// aevb explore: the page. One panel per run; the controls and the cursor are linked across panels.
// The cursor's place on a map is kept as a fraction of that map's extent, so with two runs each cursor sweeps its
// own codes (an autoencoder's codes and a VAE's may differ in scale by orders of magnitude).
"use strict";

const MAP = 360;           // map size in CSS pixels
const PAD = 0.08;          // margin around the codes, as a fraction of their extent
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"];
const state = {plane: "pca", dimA: 0, dimB: 1, mode: "mean", label: 0, panels: [], latencies: [], drawn: 0};
window.explorer = state;   // read by the browser test: latencies, drawn, each panel's z and last decoded values

function $(id) { return document.getElementById(id); }
function el(tag, attrs = {}, parent = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  if (parent) parent.appendChild(node);
  return node;
}
function showError(message) { const e = $("error"); e.textContent = message; e.hidden = !message; }

async function api(path, body) {
  if (window.AEVB_STATIC) return staticApi(path, body);   // a page written by --export: no server
  const response = await fetch(path, body === undefined ? {} :
    {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

// --- the plane: z ↔ (u, v) -----------------------------------------------------------------------------------
function basis(space) {
  const d = space.latent_dim;
  if (state.plane === "pca") return {c: space.center, e: space.axes};
  const unit = k => Array.from({length: d}, (_, j) => (j === k ? 1 : 0));
  const a = Math.min(state.dimA, d - 1), b = Math.min(state.dimB, d - 1);
  // one dimension chosen twice (or a 1-d code): the map's vertical axis moves nothing, or z would jump
  return {c: new Array(d).fill(0), e: [unit(a), b === a ? new Array(d).fill(0) : unit(b)]};
}
function dot(a, b) { let s = 0; for (let j = 0; j < a.length; j++) s += a[j] * b[j]; return s; }
function project(b, z) {
  const diff = z.map((v, j) => v - b.c[j]);
  return [dot(b.e[0], diff), dot(b.e[1], diff)];
}
// z moved so that its plane coordinates are (u, v); its other coordinates are kept.
function moveTo(b, z, u, v) {
  const [u0, v0] = project(b, z);
  return z.map((x, j) => x + (u - u0) * b.e[0][j] + (v - v0) * b.e[1][j]);
}

// --- a panel per run -----------------------------------------------------------------------------------------
class Panel {
  constructor(space, index, root) {
    this.space = space; this.index = index;
    this.z = space.center.slice();
    this.selected = [];          // up to two datapoint indices
    this.inflight = false; this.pending = null; this.values = null; this.decodedZ = null;
    const box = el("section", {class: "panel", "data-space": index}, root);
    el("h2", {text: `${space.name} — ${space.model}, ${space.latent_dim}-d ${space.layer}`}, box);
    const row = el("div", {class: "row"}, box);
    const left = el("div", {}, row);
    this.map = el("canvas", {class: "map", width: MAP * devicePixelRatio, height: MAP * devicePixelRatio}, left);
    this.map.style.width = this.map.style.height = MAP + "px";
    this.legend = el("div", {class: "legend"}, left);
    const right = el("div", {}, row);
    el("h3", {text: "decoded at the cursor"}, right);
    this.image = space.image_shape;
    if (this.image) {
      const [, h, w] = this.image;
      this.decoded = el("canvas", {class: "decoded", width: w, height: h}, right);
    } else {
      this.decoded = el("canvas", {class: "bars", width: 240, height: 150}, right);
    }
    this.coords = el("div", {class: "coords"}, right);
    el("h3", {text: "latent coordinates"}, right);
    this.sliders = el("div", {class: "sliders"}, right);
    this.sliderInputs = space.range[0].map((lo, k) => {
      const hi = space.range[1][k], span = Math.max(hi - lo, 1e-3);
      const label = el("label", {}, this.sliders);
      el("span", {text: `z${k}`}, label);
      return el("input", {type: "range", min: lo - 0.25 * span, max: hi + 0.25 * span, step: span / 500,
                          value: this.z[k], "data-dim": k}, label);
    });
    this.sliders.addEventListener("input", event => {
      const k = Number(event.target.dataset.dim);
      for (const p of state.panels) {
        if (p === this || p.space.latent_dim === this.space.latent_dim) {
          p.z[k] = Number(event.target.value); p.request(performance.now());
        }
      }
    });
    const pointBox = el("div", {class: "point"}, box);
    this.pointTitle = el("h3", {text: "click a datapoint"}, pointBox);
    const pair = el("div", {class: "row"}, pointBox);
    this.original = this.thumb(pair, "datapoint"); this.recon = this.thumb(pair, "reconstruction");
    this.lineTitle = el("h3", {text: ""}, pointBox);
    this.strip = el("canvas", {class: this.image ? "strip" : "bars", width: 1, height: 1}, pointBox);
    this.strip.hidden = true;
    this.map.addEventListener("mousemove", event => this.onMove(event));
    this.map.addEventListener("click", event => this.onClick(event));
    this.rebuild();
  }
  thumb(parent, title) {
    const box = el("figure", {}, parent);
    const canvas = this.image ? el("canvas", {class: "thumb", width: this.image[2], height: this.image[1]}, box)
                              : el("canvas", {class: "bars", width: 200, height: 100}, box);
    el("figcaption", {text: title}, box);
    return canvas;
  }
  // plane coordinates of every datapoint, the map's extent, and the scatter drawn once to an offscreen canvas
  rebuild() {
    this.basis = basis(this.space);
    if (this.posterior) this.ellipse = ellipse(this.basis, this.posterior.mean, this.posterior.covariance);
    this.uv = this.space.means.map(m => project(this.basis, m));
    let [u0, u1, v0, v1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const [u, v] of this.uv) { u0 = Math.min(u0, u); u1 = Math.max(u1, u); v0 = Math.min(v0, v); v1 = Math.max(v1, v); }
    const du = Math.max(u1 - u0, 1e-6) * PAD, dv = Math.max(v1 - v0, 1e-6) * PAD;
    this.extent = [u0 - du, u1 + du, v0 - dv, v1 + dv];
    const scatter = document.createElement("canvas");
    scatter.width = this.map.width; scatter.height = this.map.height;
    const g = scatter.getContext("2d"), s = devicePixelRatio;
    g.fillStyle = "white"; g.fillRect(0, 0, scatter.width, scatter.height);
    const colors = this.pointColors();
    this.uv.forEach(([u, v], i) => {
      const [x, y] = this.toPixel(u, v);
      g.fillStyle = colors[i]; g.beginPath(); g.arc(x * s, y * s, 2.2 * s, 0, 2 * Math.PI); g.fill();
    });
    g.fillStyle = "#444"; g.font = `${11 * s}px sans-serif`;
    const axis = state.plane === "pca" ? ["PC 1", "PC 2"] : [`z${state.dimA}`, `z${state.dimB}`];
    g.fillText(axis[0] + " →", (MAP - 60) * s, (MAP - 6) * s);
    g.save(); g.translate(12 * s, 60 * s); g.rotate(-Math.PI / 2); g.fillText(axis[1] + " →", 0, 0); g.restore();
    this.scatter = scatter;
    this.draw();
  }
  pointColors() {
    const sp = this.space;
    this.legend.textContent = "";
    if (sp.color) {
      const lo = Math.min(...sp.color.filter(Number.isFinite)), hi = Math.max(...sp.color.filter(Number.isFinite));
      el("span", {text: `colour: ${sp.color_name}, ${lo.toPrecision(3)} (blue) … ${hi.toPrecision(3)} (yellow)`},
         this.legend);
      return sp.color.map(c => ramp(Number.isFinite(c) ? (c - lo) / Math.max(hi - lo, 1e-12) : 1));
    }
    if (sp.labels) {
      for (const y of [...new Set(sp.labels)].sort((a, b) => a - b)) {
        const item = el("span", {}, this.legend);
        el("i", {style: `background:${PALETTE[y % 10]}`}, item); item.append(`${y}`);
      }
      return sp.labels.map(y => PALETTE[y % 10]);
    }
    return sp.means.map(() => "#1f77b4");
  }
  toPixel(u, v) {
    const [u0, u1, v0, v1] = this.extent;
    return [(u - u0) / (u1 - u0) * MAP, (1 - (v - v0) / (v1 - v0)) * MAP];
  }
  fromPixel(x, y) {
    const [u0, u1, v0, v1] = this.extent;
    return [u0 + x / MAP * (u1 - u0), v0 + (1 - y / MAP) * (v1 - v0)];
  }
  draw() {
    const g = this.map.getContext("2d"), s = devicePixelRatio;
    g.drawImage(this.scatter, 0, 0);
    if (this.selected.length === 2) {
      const [a, b] = this.selected.map(i => this.toPixel(...this.uv[i]));
      g.strokeStyle = "#000"; g.lineWidth = 1.5 * s; g.setLineDash([4 * s, 3 * s]);
      g.beginPath(); g.moveTo(a[0] * s, a[1] * s); g.lineTo(b[0] * s, b[1] * s); g.stroke(); g.setLineDash([]);
    }
    if (this.ellipse) {
      const {center, radii, angle} = this.ellipse;
      const [cx, cy] = this.toPixel(...center);
      const [sx, sy] = [MAP / (this.extent[1] - this.extent[0]), MAP / (this.extent[3] - this.extent[2])];
      g.strokeStyle = "#d00"; g.lineWidth = 1.5 * s; g.beginPath();
      for (let t = 0; t <= 64; t++) {
        const a = 2 * Math.PI * t / 64;
        const du = radii[0] * Math.cos(a) * Math.cos(angle) - radii[1] * Math.sin(a) * Math.sin(angle);
        const dv = radii[0] * Math.cos(a) * Math.sin(angle) + radii[1] * Math.sin(a) * Math.cos(angle);
        const [x, y] = [cx + du * sx, cy - dv * sy];
        if (t === 0) g.moveTo(x * s, y * s); else g.lineTo(x * s, y * s);
      }
      g.stroke();
      g.fillStyle = "#d00"; g.beginPath(); g.arc(cx * s, cy * s, 3.5 * s, 0, 2 * Math.PI); g.fill();
    }
    const [x, y] = this.toPixel(...project(this.basis, this.z));
    g.strokeStyle = "#000"; g.lineWidth = 1 * s;
    g.beginPath(); g.moveTo((x - 9) * s, y * s); g.lineTo((x + 9) * s, y * s);
    g.moveTo(x * s, (y - 9) * s); g.lineTo(x * s, (y + 9) * s); g.stroke();
  }
  // --- events ---
  onMove(event) {
    const t0 = performance.now();
    const [fx, fy] = [event.offsetX / MAP, event.offsetY / MAP];
    for (const p of state.panels) {
      const [u, v] = p.fromPixel(fx * MAP, fy * MAP);
      p.z = moveTo(p.basis, p.z, u, v);
      p.request(t0);
    }
  }
  onClick(event) {
    let best = -1, bestDistance = 8;
    this.uv.forEach(([u, v], i) => {
      const [x, y] = this.toPixel(u, v);
      const distance = Math.hypot(x - event.offsetX, y - event.offsetY);
      if (distance < bestDistance) { best = i; bestDistance = distance; }
    });
    if (best < 0) return;
    for (const p of state.panels) p.select(best);
  }
  async select(i) {
    this.selected = [...this.selected, i].slice(-2);
    try {
      const point = await api(`/api/point?space=${this.index}&index=${i}`);
      this.pointTitle.textContent = `datapoint ${i}` + (point.label === null ? "" : `, label ${point.label}`);
      this.paint(this.original, point.x); this.paint(this.recon, point.reconstruction);
      this.posterior = {mean: point.mean, covariance: point.covariance};   // redrawn when the plane changes
      this.ellipse = ellipse(this.basis, point.mean, point.covariance);
      this.z = point.mean.slice(); this.request(performance.now());
      if (this.selected.length === 2) await this.line();
    } catch (error) { showError(error.message); }
  }
  async line() {
    const [i, j] = this.selected, steps = 10;
    const body = {space: this.index, i, j, steps};
    if (this.space.num_classes) body.label = state.label;
    const {values} = await api("/api/line", body);
    this.lineTitle.textContent = `decoded line from datapoint ${i} to ${j} (${steps} steps)`;
    this.strip.hidden = false;
    if (this.image) {
      const [, h, w] = this.image;
      this.strip.width = w * steps; this.strip.height = h;
      this.strip.style.width = `${56 * w / h * steps}px`;
      values.forEach((row, k) => this.paint(this.strip, row, k * w));
    } else {
      this.strip.width = 300; this.strip.height = 100;
      this.lineTitle.textContent = `decoded line from datapoint ${i} (outlined) to ${j} (filled)`;
      bars(this.strip, values[values.length - 1], this.space.value_range, values[0]);
    }
  }
  // --- decoding ---
  request(t0) {
    this.pending = {z: this.z.slice(), t0};
    this.draw(); this.showCoords();
    if (!this.inflight) this.send();
  }
  async send() {
    const job = this.pending; this.pending = null; this.inflight = true;
    const body = {space: this.index, z: job.z, sample: state.mode === "sample"};
    if (this.space.num_classes) body.label = state.label;
    try {
      const {values} = await api("/api/decode", body);
      this.values = values[0]; this.decodedZ = job.z;
      if (this.image) this.paint(this.decoded, this.values);
      else bars(this.decoded, this.values, this.space.value_range);
      state.latencies.push(performance.now() - job.t0); state.drawn += 1;
      showError("");
    } catch (error) { showError(error.message); }
    this.inflight = false;
    if (this.pending) this.send();   // only the newest move waits: moves made meanwhile are not queued
  }
  showCoords() {
    this.coords.textContent = "z = [" + this.z.map(v => v.toFixed(2)).join(", ") + "]";
    this.sliderInputs.forEach((input, k) => { input.value = this.z[k]; });
  }
  // values [C·H·W] in the data's range → pixels at x offset `left` of `canvas`
  paint(canvas, values, left = 0) {
    if (!this.image) { bars(canvas, values, this.space.value_range); return; }
    const [c, h, w] = this.image, [lo, hi] = imageRange(this.space.value_range);
    const g = canvas.getContext("2d"), img = g.createImageData(w, h);
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < 3; k++) {
        const v = values[(c === 1 ? 0 : k) * h * w + p];
        img.data[4 * p + k] = Math.round(255 * Math.min(Math.max((v - lo) / (hi - lo), 0), 1));
      }
      img.data[4 * p + 3] = 255;
    }
    g.putImageData(img, left, 0);
  }
}

function imageRange(range) { return range[0] >= 0 && range[1] <= 1 ? [0, 1] : range; }

// the 1-σ ellipse of N(mean, covariance) projected on the plane: centre, radii and angle in plane units
function ellipse(b, mean, cov) {
  const proj = b.e.map(e => cov.map(row => dot(row, e)));            // Σ eᵀ for each axis
  const [a, c, d] = [dot(b.e[0], proj[0]), dot(b.e[0], proj[1]), dot(b.e[1], proj[1])];
  const mid = (a + d) / 2, diff = Math.sqrt(((a - d) / 2) ** 2 + c * c);
  const angle = Math.atan2(c, mid + diff - d) || 0;
  return {center: project(b, mean), radii: [Math.sqrt(Math.max(mid + diff, 0)), Math.sqrt(Math.max(mid - diff, 0))],
          angle: Math.abs(c) < 1e-12 && a < d ? Math.PI / 2 : angle};
}

function bars(canvas, values, range, reference = null) {
  const g = canvas.getContext("2d"), [w, h] = [canvas.width, canvas.height];
  // values beyond the range are drawn to its edge (the range is the data's 1st–99th percentile)
  const lo = Math.min(range[0], 0), hi = Math.max(range[1], 0);
  const y = v => h - (Math.min(Math.max(v, lo), hi) - lo) / (hi - lo || 1) * h;
  g.fillStyle = "white"; g.fillRect(0, 0, w, h);
  const step = w / values.length;
  if (reference) {
    g.strokeStyle = "#999"; g.beginPath();
    reference.forEach((v, k) => { g.rect(k * step + 1, Math.min(y(v), y(0)), step - 2, Math.abs(y(v) - y(0))); });
    g.stroke();
  }
  g.fillStyle = "#1f77b4";
  values.forEach((v, k) => g.fillRect(k * step + 1, Math.min(y(v), y(0)), Math.max(step - 2, 1), Math.abs(y(v) - y(0))));
  g.strokeStyle = "#444"; g.beginPath(); g.moveTo(0, y(0)); g.lineTo(w, y(0)); g.stroke();
}

// a blue → green → yellow ramp for score colours (t in [0, 1])
function ramp(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1), i = Math.min(Math.floor(x), stops.length - 2);
  const f = x - i, c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function setupControls(spaces) {
  const d = Math.max(...spaces.map(s => s.latent_dim));
  for (const id of ["dim-a", "dim-b"]) {
    for (let k = 0; k < d; k++) el("option", {value: k, text: `z${k}`}, $(id));
  }
  $("dim-b").value = state.dimB = Math.min(1, d - 1);
  $("dims-choice").hidden = true;
  const replot = () => { for (const p of state.panels) { p.rebuild(); p.request(performance.now()); } };
  $("plane").addEventListener("change", e => { state.plane = e.target.value; $("dims-choice").hidden = state.plane !== "dims"; replot(); });
  $("dim-a").addEventListener("change", e => { state.dimA = Number(e.target.value); replot(); });
  $("dim-b").addEventListener("change", e => { state.dimB = Number(e.target.value); replot(); });
  $("decode-mode").addEventListener("change", e => { state.mode = e.target.value; replot(); });
  const classes = Math.max(...spaces.map(s => s.num_classes));
  if (classes) {
    $("class-choice").hidden = false;
    for (let k = 0; k < classes; k++) el("option", {value: k, text: `${k}`}, $("label"));
    $("label").addEventListener("change", e => { state.label = Number(e.target.value); replot(); });
  }
  if (d < 2) { $("plane").value = "dims"; state.plane = "dims"; }
  if (window.AEVB_STATIC) $("decode-mode").querySelector("option[value=sample]").disabled = true;
}

// --- the static page (aevb explore --export): the same answers as the server, computed here -------------------
function fromBase64(text, type) {
  const bytes = Uint8Array.from(atob(text), c => c.charCodeAt(0));
  return type === "uint8" ? bytes : new Float32Array(bytes.buffer);
}
const ACT = {relu: v => Math.max(v, 0), tanh: Math.tanh, softplus: v => (v > 20 ? v : Math.log1p(Math.exp(v))),
             elu: v => (v > 0 ? v : Math.expm1(v)), leaky_relu: v => (v > 0 ? v : 0.01 * v)};
function staticSpaces() {
  if (!state.static) {
    state.static = window.AEVB_STATIC.map(s => ({
      summary: s.summary, spec: s.decoder,
      layers: s.decoder.layers.map(l => ({n: l.in, m: l.out, w: fromBase64(l.w), b: fromBase64(l.b)})),
      x: fromBase64(s.points.data, s.points.dtype), scale: s.points.dtype === "uint8" ? 1 / 255 : 1,
    }));
  }
  return state.static;
}
// the decoder mean E[x|z] of one z: the MLP, then the likelihood's mean function
function staticDecode(s, z, label) {
  let h = Float64Array.from(z);
  if (s.spec.context_dim) {
    if (label === undefined || label === null) throw new Error("this model is conditional: choose a class");
    h = Float64Array.from([...z, ...Array.from({length: s.spec.context_dim}, (_, k) => (k === label ? 1 : 0))]);
  }
  if (h.length !== s.layers[0].n) throw new Error(`z must hold ${s.layers[0].n - s.spec.context_dim} numbers`);
  s.layers.forEach((layer, k) => {
    const out = new Float64Array(layer.m), last = k === s.layers.length - 1;
    for (let i = 0; i < layer.m; i++) {
      let v = layer.b[i];
      const row = i * layer.n;
      for (let j = 0; j < layer.n; j++) v += layer.w[row + j] * h[j];
      out[i] = last ? v : ACT[s.spec.activation](v);
    }
    h = out;
  });
  const mean = Array.from(h.subarray(0, s.spec.event_size));
  const like = s.spec.likelihood, squash = like.kind === "bernoulli" || like.squash;
  if (like.center) return mean.map((v, i) => like.center[i] + like.scale[i] * v);  // a standardizing model
  return squash ? mean.map(v => 1 / (1 + Math.exp(-v))) : mean;
}
function staticApi(path, body) {
  const spaces = staticSpaces();
  const url = new URL(path, "http://page/");
  if (url.pathname === "/api/spaces") return spaces.map(s => s.summary);
  const s = spaces[body ? body.space : Number(url.searchParams.get("space"))];
  if (url.pathname === "/api/decode") {
    if (body.sample) throw new Error("this static page decodes the mean only: draws need aevb explore's server");
    return {values: [staticDecode(s, body.z, body.label)]};
  }
  if (url.pathname === "/api/point") {
    const i = Number(url.searchParams.get("index")), n = s.spec.event_size;
    const x = Array.from(s.x.subarray(i * n, (i + 1) * n), v => v * s.scale);
    const label = s.summary.labels ? s.summary.labels[i] : null;
    const mean = s.summary.means[i], std = s.summary.std[i];
    const covariance = std.map((a, r) => std.map((_, c) => (r === c ? a * a : 0)));   // the diagonal only
    return {index: i, x, reconstruction: staticDecode(s, mean, s.summary.num_classes ? label : null), mean,
            covariance, label};
  }
  if (url.pathname === "/api/line") {
    const a = s.summary.means[body.i], b = s.summary.means[body.j], steps = body.steps || 10;
    return {values: Array.from({length: steps}, (_, k) => {
      const t = k / (steps - 1);
      return staticDecode(s, a.map((v, d) => (1 - t) * v + t * b[d]), body.label);
    })};
  }
  throw new Error(`unknown request ${path}`);
}

async function main() {
  try {
    const spaces = await api("/api/spaces");
    setupControls(spaces);
    state.panels = spaces.map((space, i) => new Panel(space, i, $("panels")));
    for (const p of state.panels) p.request(performance.now());
    state.ready = true;
  } catch (error) { showError(error.message); }
}
main();
