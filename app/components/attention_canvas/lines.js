// Attention canvas, part 2: token lines (BertViz's head view, one lane per head) and bars (one
// query row against the words of its sentence). Uses the helpers of panels.js.

// ---- token lines ------------------------------------------------------------------------------

function linesLegend(ctx, p, w) {
  // "lanes, top to bottom:" then one chip per head, wrapped to the width; returns their boxes
  ctx.font = `12px ${FONT}`;
  const chips = [];
  let x = ctx.measureText(LANES).width + 10;
  let y = 0;
  for (const h of p.heads) {
    const cw = ctx.measureText(`H${h.head}`).width + 24;
    if (x + cw > w && x > 0 && chips.length) { x = 0; y += 20; }
    chips.push({ x, y, w: cw, head: h });
    x += cw + 4;
  }
  return { chips, h: p.heads.length ? y + 26 : 0 };
}
const LANES = "Heads, one lane each (top to bottom in every row):";

function linesGeometry(ctx, p, width) {
  const n = p.tokens.length;
  const row = n > 64 ? 14 : 24;
  ctx.font = `${n > 64 ? 11 : 13}px ${FONT}`;
  const text = Math.ceil(Math.min(160, Math.max(...p.tokens.map((t) => ctx.measureText(t).width))));
  const w = Math.max(1, Math.min(width, 2 * (text + 10) + 560)); // wide: lanes stay apart
  const legend = linesLegend(ctx, p, w);
  const top = legend.h + 18; // the legend, then "query" and "keys"
  // each head keeps its own height within a row (its lane) at both ends of its lines, so the
  // lines of several heads to the same key run side by side instead of over one another
  const k = p.heads.length;
  const spread = k > 1 ? row - 6 : 0;
  const lane = (s) => (k > 1 ? (s / (k - 1) - 0.5) * spread : 0);
  const stroke = k > 1 ? Math.max(1, Math.min(2.5, spread / k)) : 2.5;
  return { n, row, text: text + 10, top, w, h: top + n * row + 8, xl: text + 10,
    xr: w - text - 10, legend, lane, stroke };
}

function drawLines(canvas, p, width, scale, background) {
  const g = linesGeometry(canvas.getContext("2d"), p, width);
  const ctx = setupCanvas(canvas, g.w, g.h, scale, background);
  const font = `${g.n > 64 ? 11 : 13}px ${FONT}`;
  const y = (i) => g.top + (i + 0.5) * g.row;
  ctx.font = `12px ${FONT}`;
  ctx.textBaseline = "middle";
  ctx.fillStyle = MUTED;
  ctx.textAlign = "left";
  if (p.heads.length) ctx.fillText(LANES, 0, 10);
  for (const c of g.legend.chips) {
    ctx.strokeStyle = c.head.color;
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.moveTo(c.x + 2, c.y + 10);
    ctx.lineTo(c.x + 16, c.y + 10);
    ctx.stroke();
    ctx.fillStyle = c.head.color;
    ctx.fillText(`H${c.head.head}`, c.x + 20, c.y + 10);
  }
  ctx.fillStyle = MUTED;
  ctx.textAlign = "right";
  ctx.fillText("query", g.xl - 4, g.top - 8);
  ctx.textAlign = "left";
  ctx.fillText("keys", g.xr + 4, g.top - 8);
  const shade = new Array(g.n).fill(0);
  // every line of every head, weakest first: the strong ones end up on top
  const all = [];
  p.heads.forEach((head, s) => {
    for (const [j, w] of head.lines) all.push([w, j, s, head.color]);
  });
  all.sort((a, b) => a[0] - b[0]);
  ctx.lineWidth = g.stroke;
  ctx.lineCap = "butt";
  for (const [w, j, s, color] of all) {
    shade[j] = Math.max(shade[j], w);
    ctx.strokeStyle = color;
    ctx.globalAlpha = Math.min(1, w);
    ctx.beginPath();
    ctx.moveTo(g.xl + 4, y(p.query) + g.lane(s));
    ctx.lineTo(g.xr - 4, y(j) + g.lane(s));
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  ctx.font = font;
  for (let i = 0; i < g.n; i++) {
    if (i === p.query) {
      ctx.fillStyle = "#fde68a";
      ctx.fillRect(2, y(i) - g.row / 2 + 1, g.xl - 4, g.row - 2);
    }
    ctx.fillStyle = `rgba(79,70,229,${0.35 * Math.min(1, shade[i])})`;
    ctx.fillRect(g.xr + 2, y(i) - g.row / 2 + 1, g.w - g.xr - 4, g.row - 2);
    ctx.fillStyle = INK;
    ctx.textAlign = "right";
    ctx.fillText(p.tokens[i], g.xl - 6, y(i), g.xl - 10);
    ctx.textAlign = "left";
    ctx.fillText(p.tokens[i], g.xr + 6, y(i), g.w - g.xr - 10);
  }
  return g;
}

function linesHit(g, x, y) {
  const i = Math.floor((y - g.top) / g.row);
  if (i < 0 || i >= g.n) return null;
  if (x <= g.xl) return { side: "query", i };
  if (x >= g.xr) return { side: "key", i };
  return null;
}

function linesHover(p, hit) {
  if (hit.side === "query") return `${p.tokens[hit.i]}: click to show its lines`;
  const parts = p.heads.map((h) => `H${h.head} ${fmt(h.all[hit.i])}`);
  return `${p.tokens[p.query]} → ${p.tokens[hit.i]}: ${parts.join(" · ")}`;
}

// ---- bars: one query row against the words of its sentence ------------------------------------

function barsGeometry(ctx, p, width) {
  const n = p.labels.length;
  const row = n <= 32 ? 22 : n <= 80 ? 14 : 8;
  ctx.font = `${row >= 14 ? 13 : 11}px ${FONT}`;
  const widest = Math.max(0, ...p.labels.map((s) => ctx.measureText(s).width));
  const left = Math.ceil(Math.min(170, widest)) + 12;
  const right = 52; // the value written after the longest bar
  const w = Math.max(left + right + 60, Math.min(width, left + 380 + right));
  const top = 4;
  return { n, row, left, right, top, w, plot: w - left - right, h: top + n * row + 44 };
}

function drawBars(canvas, p, width, scale, background) {
  const g = barsGeometry(canvas.getContext("2d"), p, width);
  const ctx = setupCanvas(canvas, g.w, g.h, scale, background);
  const x = (v) => g.left + ((v - p.lo) / (p.hi - p.lo || 1)) * g.plot;
  const y = (i) => g.top + (i + 0.5) * g.row;
  const zero = x(Math.min(Math.max(0, p.lo), p.hi));
  const axisY = g.top + g.n * g.row;
  // grid lines at the ticks
  ctx.font = `12px ${FONT}`;
  ctx.textBaseline = "middle";
  ctx.textAlign = "center";
  for (const t of p.ticks) {
    ctx.strokeStyle = "#e5e7eb";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(Math.round(x(t)) + 0.5, g.top);
    ctx.lineTo(Math.round(x(t)) + 0.5, axisY);
    ctx.stroke();
    ctx.fillStyle = MUTED;
    ctx.fillText(fmt(t).replace(/0+$/, "").replace(/\.$/, "") || "0", x(t), axisY + 10);
  }
  ctx.fillText(p.xlabel, g.left + g.plot / 2, g.h - 10, g.w - 4);
  ctx.font = `${g.row >= 14 ? 13 : 11}px ${FONT}`;
  const thick = Math.max(1, g.row - (g.row >= 14 ? 8 : 2));
  const step = Math.max(1, Math.ceil(13 / g.row));
  for (let i = 0; i < g.n; i++) {
    const v = p.values[i];
    if (i === p.highlight) {
      ctx.fillStyle = "#fde68a";
      ctx.fillRect(0, y(i) - g.row / 2, g.left - 4, g.row);
    }
    if (v !== null) {
      const color = p.diverging ? (v >= 0 ? "#b2182b" : "#2166ac") : p.color;
      ctx.fillStyle = color;
      const x0 = Math.min(zero, x(v));
      ctx.fillRect(x0, y(i) - thick / 2, Math.max(Math.abs(x(v) - zero), v === 0 ? 0 : 1), thick);
      if (g.row >= 14) {
        ctx.fillStyle = INK;
        // a difference's value sits across zero from its bar, clear of the labels and the edge
        const after = p.diverging ? v < 0 : true;
        ctx.textAlign = after ? "left" : "right";
        const at = p.diverging ? zero + (after ? 4 : -4) : Math.max(x(v), zero) + 4;
        ctx.fillText(Math.abs(v) < 0.0005 ? "0.000" : v.toFixed(3), at, y(i)); // hover: exact
      }
    }
    if (i % step === 0) {
      ctx.fillStyle = v === null ? MUTED : INK;
      ctx.textAlign = "right";
      ctx.fillText(p.labels[i], g.left - 8, y(i), g.left - 12);
    }
  }
  ctx.strokeStyle = "#9ca3af";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(Math.round(zero) + 0.5, g.top);
  ctx.lineTo(Math.round(zero) + 0.5, axisY);
  ctx.stroke();
  return g;
}

function barsHover(g, p, x, y) {
  const i = Math.floor((y - g.top) / g.row);
  if (i < 0 || i >= g.n || x > g.w) return null;
  const v = p.values[i];
  return `${p.prefix}${p.labels[i]}: ${v === null ? p.missing : fmt(v)}`;
}
