// Attention canvas, part 1: drawing the panels (an overview grid of every head, a heatmap of
// one matrix, BertViz-style token lines) and hit-testing them. Part 2 (canvas.js) mounts them;
// the Python wrapper joins both into one module. Token text only ever reaches the page as
// canvas text or textContent, never as HTML.

const FONT = '"Source Sans", "Source Sans Pro", "Segoe UI", Helvetica, Arial, sans-serif';
const INK = "#31333f";
const MUTED = "#6b7280";
const ACCENT = "#f59e0b";
const GAP = 28; // px between panels

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function lerp(stops, t) {
  // stops: [[pos, [r, g, b]], ...] with pos ascending from 0 to 1
  t = Math.min(1, Math.max(0, t));
  for (let i = 1; i < stops.length; i++) {
    const [p1, c1] = stops[i];
    const [p0, c0] = stops[i - 1];
    if (t <= p1) {
      const u = p1 === p0 ? 0 : (t - p0) / (p1 - p0);
      return [0, 1, 2].map((k) => Math.round(c0[k] + u * (c1[k] - c0[k])));
    }
  }
  return stops[stops.length - 1][1];
}

function rgb(c) {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  return a !== 0 && a < 0.001 ? v.toExponential(2) : v.toFixed(4);
}

function setupCanvas(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}

function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---- one heatmap: tokens on both axes --------------------------------------------------------

function matrixGeometry(ctx, p, width) {
  ctx.font = `12px ${FONT}`;
  const nr = p.z.length;
  const nc = nr ? p.z[0].length : 0;
  const widest = (labels) => Math.max(0, ...labels.map((s) => ctx.measureText(s).width));
  const left = Math.min(150, widest(p.rows)) + 22; // + the rotated "query" title
  const bar = 64;
  const cell = Math.max(1, Math.min(34, Math.floor((width - left - bar - 6) / Math.max(nc, 1))));
  const bottom = Math.min(110, widest(p.cols) * 0.87 + 10) + 20;
  return { nr, nc, left, bar, cell, top: 6, bottom,
    w: left + nc * cell + bar + 6, h: 6 + nr * cell + bottom };
}

function drawMatrix(canvas, p, width) {
  const probe = canvas.getContext("2d");
  const g = matrixGeometry(probe, p, width);
  const ctx = setupCanvas(canvas, g.w, g.h);
  const stops = p.stops;
  const span = p.zmax - p.zmin || 1;
  // one pixel per cell through a 256-colour table, then scaled up without smoothing: far
  // faster than a fillRect per cell at 128+ tokens, and just as crisp
  const lut = Array.from({ length: 256 }, (_, k) => lerp(stops, k / 255));
  const off = document.createElement("canvas");
  off.width = Math.max(1, g.nc);
  off.height = Math.max(1, g.nr);
  const img = off.getContext("2d").createImageData(off.width, off.height);
  for (let i = 0; i < g.nr; i++) {
    const row = p.z[i];
    for (let j = 0; j < g.nc; j++) {
      const k = Math.round(255 * Math.min(1, Math.max(0, (row[j] - p.zmin) / span)));
      const c = lut[k];
      const o = 4 * (i * g.nc + j);
      img.data[o] = c[0];
      img.data[o + 1] = c[1];
      img.data[o + 2] = c[2];
      img.data[o + 3] = 255;
    }
  }
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, g.left, g.top, g.nc * g.cell, g.nr * g.cell);
  ctx.strokeStyle = "#d1d5db";
  ctx.strokeRect(g.left - 0.5, g.top - 0.5, g.nc * g.cell + 1, g.nr * g.cell + 1);
  ctx.fillStyle = INK;
  ctx.font = `12px ${FONT}`;
  const step = Math.max(1, Math.ceil(13 / g.cell));
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i < g.nr; i += step) {
    ctx.fillText(p.rows[i], g.left - 4, g.top + (i + 0.5) * g.cell, g.left - 24);
  }
  const colStep = Math.max(1, Math.ceil(16 / g.cell)); // rotated labels need more room
  for (let j = 0; j < g.nc; j += colStep) {
    ctx.save();
    ctx.translate(g.left + (j + 0.5) * g.cell, g.top + g.nr * g.cell + 4);
    ctx.rotate(-Math.PI / 3);
    ctx.fillText(p.cols[j], 0, 0, 110);
    ctx.restore();
  }
  ctx.fillStyle = MUTED;
  ctx.textAlign = "center";
  ctx.fillText(p.xlabel, g.left + (g.nc * g.cell) / 2, g.h - 8);
  ctx.save();
  ctx.translate(9, g.top + (g.nr * g.cell) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(p.ylabel, 0, 0);
  ctx.restore();
  // colour bar
  const bx = g.left + g.nc * g.cell + 12;
  const bh = Math.max(60, Math.min(g.nr * g.cell, 260));
  for (let y = 0; y < bh; y++) {
    ctx.fillStyle = rgb(lerp(stops, 1 - y / (bh - 1)));
    ctx.fillRect(bx, g.top + y, 12, 1);
  }
  ctx.fillStyle = INK;
  ctx.textAlign = "left";
  ctx.fillText(fmt(p.zmax).replace(/0+$/, "").replace(/\.$/, ""), bx + 16, g.top + 5);
  ctx.fillText(fmt(p.zmin).replace(/0+$/, "").replace(/\.$/, "") || "0", bx + 16, g.top + bh - 5);
  return g;
}

function matrixHover(g, p, x, y) {
  const j = Math.floor((x - g.left) / g.cell);
  const i = Math.floor((y - g.top) / g.cell);
  if (i < 0 || j < 0 || i >= g.nr || j >= g.nc) return null;
  return `${p.rows[i]} ${p.arrow} ${p.cols[j]}: ${fmt(p.z[i][j])}`;
}

function matrixSvg(p, g) {
  const span = p.zmax - p.zmin || 1;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${g.w}" height="${g.h}" ` +
    `font-family='${FONT}' font-size="12">`];
  for (let i = 0; i < g.nr; i++) {
    for (let j = 0; j < g.nc; j++) {
      const c = rgb(lerp(p.stops, (p.z[i][j] - p.zmin) / span));
      parts.push(`<rect x="${g.left + j * g.cell}" y="${g.top + i * g.cell}" width="${g.cell}" ` +
        `height="${g.cell}" fill="${c}"><title>${esc(matrixHover(g, p,
          g.left + (j + 0.5) * g.cell, g.top + (i + 0.5) * g.cell))}</title></rect>`);
    }
  }
  const step = Math.max(1, Math.ceil(13 / g.cell));
  for (let i = 0; i < g.nr; i += step) {
    parts.push(`<text x="${g.left - 4}" y="${g.top + (i + 0.5) * g.cell}" text-anchor="end" ` +
      `dominant-baseline="middle">${esc(p.rows[i])}</text>`);
  }
  for (let j = 0; j < g.nc; j += Math.max(1, Math.ceil(16 / g.cell))) {
    const x = g.left + (j + 0.5) * g.cell;
    const y = g.top + g.nr * g.cell + 4;
    parts.push(`<text transform="translate(${x},${y}) rotate(-60)" text-anchor="end" ` +
      `dominant-baseline="middle">${esc(p.cols[j])}</text>`);
  }
  parts.push(`<text x="${g.left}" y="${g.h - 4}" fill="${MUTED}">${esc(p.xlabel)}; ` +
    `colour ${esc(p.scale)}</text></svg>`);
  return parts.join("");
}

// ---- the overview: every head of every layer, tiled ------------------------------------------

function gridGeometry(p, width) {
  const left = 34;
  const top = 20;
  const gap = 4;
  const avail = width - left - (p.heads - 1) * gap;
  const tile = Math.max(14, Math.min(p.max_tile, Math.floor(avail / p.heads)));
  return { left, top, gap, tile,
    w: left + p.heads * tile + (p.heads - 1) * gap,
    h: top + p.layers * tile + (p.layers - 1) * gap };
}

function gridImage(p) {
  // the mosaic of colour indices (one byte per pixel, base64) through the colour table
  const raw = atob(p.pixels);
  const w = p.heads * p.cells;
  const h = p.layers * p.cells;
  const off = document.createElement("canvas");
  off.width = w;
  off.height = h;
  const octx = off.getContext("2d");
  const img = octx.createImageData(w, h);
  const lut = Array.from({ length: 256 }, (_, k) => lerp(p.stops, k / 255));
  for (let i = 0; i < raw.length; i++) {
    const c = lut[raw.charCodeAt(i)];
    img.data[4 * i] = c[0];
    img.data[4 * i + 1] = c[1];
    img.data[4 * i + 2] = c[2];
    img.data[4 * i + 3] = 255;
  }
  octx.putImageData(img, 0, 0);
  return off;
}

function drawGrid(canvas, p, width, img) {
  const g = gridGeometry(p, width);
  const ctx = setupCanvas(canvas, g.w, g.h);
  ctx.imageSmoothingEnabled = false;
  ctx.font = `12px ${FONT}`;
  ctx.fillStyle = MUTED;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (let h = 0; h < p.heads; h++) ctx.fillText(`H${h}`, g.left + h * (g.tile + g.gap) + g.tile / 2, 9);
  ctx.textAlign = "right";
  for (let l = 0; l < p.layers; l++) ctx.fillText(`L${l}`, g.left - 6, g.top + l * (g.tile + g.gap) + g.tile / 2);
  for (let l = 0; l < p.layers; l++) {
    for (let h = 0; h < p.heads; h++) {
      const x = g.left + h * (g.tile + g.gap);
      const y = g.top + l * (g.tile + g.gap);
      if (img) ctx.drawImage(img, h * p.cells, l * p.cells, p.cells, p.cells, x, y, g.tile, g.tile);
      ctx.strokeStyle = "#e5e7eb";
      ctx.strokeRect(x - 0.5, y - 0.5, g.tile + 1, g.tile + 1);
      if (g.tile >= 46) {
        ctx.font = `10px ${FONT}`;
        const label = `L${l} H${h}`;
        ctx.fillStyle = "rgba(255,255,255,0.6)";
        ctx.fillRect(x + 1, y + 1, ctx.measureText(label).width + 4, 12);
        ctx.fillStyle = INK;
        ctx.textAlign = "left";
        ctx.fillText(label, x + 3, y + 7.5);
      }
    }
  }
  const [sl, sh] = p.selected;
  ctx.strokeStyle = ACCENT;
  ctx.lineWidth = 3;
  ctx.strokeRect(g.left + sh * (g.tile + g.gap) - 2, g.top + sl * (g.tile + g.gap) - 2, g.tile + 4, g.tile + 4);
  return g;
}

function gridHit(g, p, x, y) {
  const h = Math.floor((x - g.left) / (g.tile + g.gap));
  const l = Math.floor((y - g.top) / (g.tile + g.gap));
  if (h < 0 || l < 0 || h >= p.heads || l >= p.layers) return null;
  if (x - g.left - h * (g.tile + g.gap) > g.tile || y - g.top - l * (g.tile + g.gap) > g.tile) return null;
  return { layer: l, head: h };
}

// ---- token lines (BertViz's head view) -------------------------------------------------------

function linesGeometry(ctx, p, width) {
  const n = p.tokens.length;
  const row = n > 64 ? 14 : 22;
  ctx.font = `${n > 64 ? 11 : 13}px ${FONT}`;
  const text = Math.min(160, Math.max(...p.tokens.map((t) => ctx.measureText(t).width))) + 10;
  const w = Math.min(width, 2 * text + 420);
  return { n, row, text, top: 22, w, h: 22 + n * row + 8, xl: text, xr: w - text };
}

function drawLines(canvas, p, width) {
  const g = linesGeometry(canvas.getContext("2d"), p, width);
  const ctx = setupCanvas(canvas, g.w, g.h);
  const font = `${g.n > 64 ? 11 : 13}px ${FONT}`;
  const y = (i) => g.top + (i + 0.5) * g.row;
  ctx.font = `12px ${FONT}`;
  ctx.fillStyle = MUTED;
  ctx.textAlign = "right";
  ctx.fillText("query", g.xl - 4, 10);
  ctx.textAlign = "left";
  ctx.fillText("keys", g.xr + 4, 10);
  const shade = new Array(g.n).fill(0);
  ctx.lineWidth = 2;
  for (const head of p.heads) {
    ctx.strokeStyle = head.color;
    for (const [j, w] of head.lines) {
      shade[j] = Math.max(shade[j], w);
      ctx.globalAlpha = Math.min(1, w);
      ctx.beginPath();
      ctx.moveTo(g.xl + 4, y(p.query));
      ctx.lineTo(g.xr - 4, y(j));
      ctx.stroke();
    }
  }
  ctx.globalAlpha = 1;
  ctx.font = font;
  ctx.textBaseline = "middle";
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

