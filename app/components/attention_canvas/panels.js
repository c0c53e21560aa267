// Attention canvas, part 1: shared helpers, a heatmap of one matrix and the overview grid of
// every head, and their hit-testing. lines.js draws token lines and bars; canvas.js mounts the
// panels; the Python wrapper joins the files into one module. Token text only ever reaches the
// page as canvas text or textContent, never as HTML.
//
// Every draw function takes (canvas, panel, width, scale, background) and returns the geometry
// it drew, whose w x h (CSS px) holds everything drawn, outlines included: the canvas is sized
// to it, so nothing is cut at the edges on screen or in the PNG (drawn again at EXPORT_SCALE).

const FONT = '"Source Sans", "Source Sans Pro", "Segoe UI", Helvetica, Arial, sans-serif';
const INK = "#31333f";
const MUTED = "#6b7280";
const ACCENT = "#f59e0b";
const GAP = 28; // px between panels
const EXPORT_SCALE = 3; // PNG pixels per CSS pixel: sharp on a slide or a projector

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

function setupCanvas(canvas, w, h, scale, background) {
  // w, h in CSS px (whole numbers); the bitmap holds scale device pixels per CSS px
  const k = scale || window.devicePixelRatio || 1;
  canvas.width = Math.round(w * k);
  canvas.height = Math.round(h * k);
  canvas.style.width = `${w}px`;
  canvas.style.aspectRatio = `${w} / ${h}`; // height follows, also where max-width squeezes it
  const ctx = canvas.getContext("2d");
  ctx.setTransform(canvas.width / w, 0, 0, canvas.height / h, 0, 0);
  ctx.clearRect(0, 0, w, h);
  if (background) {
    ctx.fillStyle = background;
    ctx.fillRect(0, 0, w, h);
  }
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
  const left = Math.ceil(Math.min(150, widest(p.rows))) + 22; // + the rotated "query" title
  const bar = 64;
  // whole-pixel cells while they fit; below 1 px (hundreds of tokens on a narrow screen) a
  // fraction, so the matrix still fits the width instead of running off the frame
  const room = (width - left - bar - 6) / Math.max(nc, 1);
  const cell = room >= 1 ? Math.min(34, Math.floor(room)) : Math.max(0.25, room);
  const bottom = Math.ceil(Math.min(110, widest(p.cols) * 0.87 + 10)) + 20;
  const top = 6;
  // the axis titles stay whole on a small matrix: the canvas grows to hold them
  const xtitle = Math.ceil(ctx.measureText(p.xlabel).width) + 8;
  const ytitle = Math.ceil(ctx.measureText(p.ylabel).width) + 8;
  const w = Math.ceil(Math.max(left + nc * cell + bar + 6, Math.min(xtitle, width)));
  return { nr, nc, left, bar, cell, top, bottom, w,
    h: Math.ceil(top + Math.max(nr * cell, ytitle) + bottom) };
}

const BLANK = [243, 244, 246]; // a cell with no number (null): light grey, "–" in the hover
const VALUE_CELL = 28; // px: the smallest cell that holds its number ("0.87")

function matrixColour(lut, p, v) {
  if (v === null) return BLANK;
  const span = p.zmax - p.zmin || 1;
  return lut[Math.round(255 * Math.min(1, Math.max(0, (v - p.zmin) / span)))];
}

function valueInk(c) {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] < 140 ? "#fff" : INK;
}

function drawMatrix(canvas, p, width, scale, background) {
  const probe = canvas.getContext("2d");
  const g = matrixGeometry(probe, p, width);
  const ctx = setupCanvas(canvas, g.w, g.h, scale, background);
  const stops = p.stops;
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
      const c = matrixColour(lut, p, row[j]);
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
  ctx.lineWidth = 1;
  ctx.strokeRect(g.left - 0.5, g.top - 0.5, g.nc * g.cell + 1, g.nr * g.cell + 1);
  if (p.selected) { // the chosen cell, outlined inside its own square (never cut at an edge)
    const [si, sj] = p.selected;
    ctx.strokeStyle = ACCENT;
    ctx.lineWidth = 3;
    ctx.strokeRect(g.left + sj * g.cell + 1.5, g.top + si * g.cell + 1.5, g.cell - 3, g.cell - 3);
    ctx.lineWidth = 1;
  }
  if (p.values && g.cell >= VALUE_CELL) { // a small matrix: every cell's number, as on a slide
    ctx.font = `11px ${FONT}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let i = 0; i < g.nr; i++) {
      for (let j = 0; j < g.nc; j++) {
        const v = p.z[i][j];
        if (v === null) continue;
        ctx.fillStyle = valueInk(matrixColour(lut, p, v));
        ctx.fillText(v.toFixed(2), g.left + (j + 0.5) * g.cell, g.top + (i + 0.5) * g.cell);
      }
    }
  }
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
  const half = ctx.measureText(p.xlabel).width / 2;
  const xc = Math.min(Math.max(g.left + (g.nc * g.cell) / 2, half + 2), g.w - half - 2);
  ctx.fillText(p.xlabel, xc, g.h - 8, g.w - 4);
  ctx.save();
  ctx.translate(9, g.top + Math.max(g.nr * g.cell, ctx.measureText(p.ylabel).width + 8) / 2);
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

function matrixCell(g, x, y) {
  const j = Math.floor((x - g.left) / g.cell);
  const i = Math.floor((y - g.top) / g.cell);
  return i < 0 || j < 0 || i >= g.nr || j >= g.nc ? null : { i, j };
}

function matrixSvg(p, g) {
  const lut = Array.from({ length: 256 }, (_, k) => lerp(p.stops, k / 255));
  const values = p.values && g.cell >= VALUE_CELL;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${g.w}" height="${g.h}" ` +
    `font-family='${FONT}' font-size="12">`];
  for (let i = 0; i < g.nr; i++) {
    for (let j = 0; j < g.nc; j++) {
      const v = p.z[i][j];
      const c = matrixColour(lut, p, v);
      parts.push(`<rect x="${g.left + j * g.cell}" y="${g.top + i * g.cell}" width="${g.cell}" ` +
        `height="${g.cell}" fill="${rgb(c)}"><title>${esc(matrixHover(g, p,
          g.left + (j + 0.5) * g.cell, g.top + (i + 0.5) * g.cell))}</title></rect>`);
      if (values && v !== null) {
        parts.push(`<text x="${g.left + (j + 0.5) * g.cell}" y="${g.top + (i + 0.5) * g.cell}" ` +
          `text-anchor="middle" dominant-baseline="middle" font-size="11" ` +
          `fill="${valueInk(c)}">${v.toFixed(2)}</text>`);
      }
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
  // tiles shrink to fit the width (never below 2 px); the gap shrinks with them
  const left = 34;
  const top = 20;
  const pad = 4; // the selected tile's outline (3 px, 2 px outside the tile) stays on the canvas
  const fit = (gap) => Math.floor((width - left - pad - (p.heads - 1) * gap) / p.heads);
  const gap = fit(4) >= 16 ? 4 : fit(2) >= 6 ? 2 : 1;
  const tile = Math.max(2, Math.min(p.max_tile, fit(gap)));
  return { left, top, gap, tile, pad,
    w: left + p.heads * tile + (p.heads - 1) * gap + pad,
    h: top + p.layers * tile + (p.layers - 1) * gap + pad };
}

const MOSAICS = new WeakMap();

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

function drawGrid(canvas, p, width, scale, background) {
  const g = gridGeometry(p, width);
  if (!MOSAICS.has(p)) MOSAICS.set(p, gridImage(p)); // decoded once per panel, not per paint
  const img = MOSAICS.get(p);
  const ctx = setupCanvas(canvas, g.w, g.h, scale, background);
  ctx.imageSmoothingEnabled = false;
  ctx.font = `12px ${FONT}`;
  ctx.fillStyle = MUTED;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  const every = Math.max(1, Math.ceil(24 / (g.tile + g.gap))); // head labels that fit
  for (let h = 0; h < p.heads; h += every) {
    ctx.fillText(`H${h}`, g.left + h * (g.tile + g.gap) + g.tile / 2, 9);
  }
  ctx.textAlign = "right";
  const everyL = Math.max(1, Math.ceil(13 / (g.tile + g.gap)));
  for (let l = 0; l < p.layers; l += everyL) {
    ctx.fillText(`L${l}`, g.left - 6, g.top + l * (g.tile + g.gap) + g.tile / 2);
  }
  for (let l = 0; l < p.layers; l++) {
    for (let h = 0; h < p.heads; h++) {
      const x = g.left + h * (g.tile + g.gap);
      const y = g.top + l * (g.tile + g.gap);
      ctx.drawImage(img, h * p.cells, l * p.cells, p.cells, p.cells, x, y, g.tile, g.tile);
      if (g.gap >= 2) {
        ctx.strokeStyle = "#e5e7eb";
        ctx.lineWidth = 1;
        ctx.strokeRect(x - 0.5, y - 0.5, g.tile + 1, g.tile + 1);
      }
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

