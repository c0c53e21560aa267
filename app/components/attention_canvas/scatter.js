// Attention canvas, part 3: a scatter of points (the head map; queries and keys in one plane).
// Points coloured by group in a circle or a diamond, a legend on top, equal scales on both axes
// in a thin frame, lines between points (opacity by weight), labels placed clear of each other,
// the selected point ringed and named. Uses the helpers of panels.js.

function scatterLegend(ctx, p, w) {
  ctx.font = `12px ${FONT}`;
  const chips = [];
  let x = 0;
  let y = 0;
  for (const grp of p.groups) {
    const cw = ctx.measureText(grp.name).width + 22;
    if (x + cw > w && x > 0) { x = 0; y += 18; }
    chips.push({ x, y, grp });
    x += cw + 12;
  }
  return { chips, h: p.groups.length ? y + 24 : 0 };
}

function scatterGeometry(ctx, p, width) {
  const w = Math.max(200, Math.min(width, 900));
  const h = Math.max(300, Math.min(600, Math.round(w * 0.7)));
  const legend = scatterLegend(ctx, p, w);
  const left = p.ylabel ? 20 : 1;
  const bottom = p.xlabel ? 22 : 1;
  const frame = { x: left, y: legend.h, w: w - left - 1, h: h - legend.h - bottom };
  const pad = 22; // room for the markers, the ring and the labels inside the frame
  const n = p.x.length;
  const lo = [Math.min(...p.x), Math.min(...p.y)];
  const hi = [Math.max(...p.x), Math.max(...p.y)];
  const span = [hi[0] - lo[0] || 1, hi[1] - lo[1] || 1];
  const k = n ? Math.min((frame.w - 2 * pad) / span[0], (frame.h - 2 * pad) / span[1]) : 1;
  const ox = frame.x + pad + (frame.w - 2 * pad - span[0] * k) / 2 - lo[0] * k;
  const oy = frame.y + pad + (frame.h - 2 * pad - span[1] * k) / 2 + hi[1] * k;
  // where each point is drawn, in CSS px: px = ox + x k, py = oy - y k (y up)
  const pts = p.x.map((x, i) => [ox + x * k, oy - p.y[i] * k]);
  return { w, h, k, ox, oy, fx: frame.x, fy: frame.y, fw: frame.w, fh: frame.h,
    legend, pts, r: p.size };
}

function marker(ctx, shape, x, y, r) {
  ctx.beginPath();
  if (shape === "diamond") {
    const d = r * 1.3;
    ctx.moveTo(x, y - d);
    ctx.lineTo(x + d, y);
    ctx.lineTo(x, y + d);
    ctx.lineTo(x - d, y);
    ctx.closePath();
  } else ctx.arc(x, y, r, 0, 2 * Math.PI);
}

function drawScatter(canvas, p, width, scale, background) {
  const g = scatterGeometry(canvas.getContext("2d"), p, width);
  const ctx = setupCanvas(canvas, g.w, g.h, scale, background);
  ctx.font = `12px ${FONT}`;
  ctx.textBaseline = "middle";
  for (const c of g.legend.chips) {
    ctx.fillStyle = c.grp.color;
    marker(ctx, c.grp.shape, c.x + 7, c.y + 9, 5);
    ctx.fill();
    ctx.fillStyle = INK;
    ctx.textAlign = "left";
    ctx.fillText(c.grp.name, c.x + 17, c.y + 9);
  }
  ctx.strokeStyle = "#d1d5db";
  ctx.lineWidth = 1;
  ctx.strokeRect(g.fx + 0.5, g.fy + 0.5, g.fw - 1, g.fh - 1);
  ctx.fillStyle = MUTED;
  if (p.xlabel) {
    ctx.textAlign = "center";
    ctx.fillText(p.xlabel, g.fx + g.fw / 2, g.h - 9, g.w - 4);
  }
  if (p.ylabel) {
    ctx.save();
    ctx.translate(9, g.fy + g.fh / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText(p.ylabel, 0, 0, g.fh);
    ctx.restore();
  }
  ctx.save();
  ctx.beginPath();
  ctx.rect(g.fx, g.fy, g.fw, g.fh);
  ctx.clip();
  // lines, weakest first: the strong ones end up on top
  const lines = [...p.lines].sort((a, b) => a[2] - b[2]);
  ctx.strokeStyle = "#475569";
  for (const [i, j, w] of lines) {
    ctx.globalAlpha = Math.min(0.9, 0.12 + 0.8 * w);
    ctx.lineWidth = 0.8 + 1.8 * w;
    ctx.beginPath();
    ctx.moveTo(...g.pts[i]);
    ctx.lineTo(...g.pts[j]);
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 1;
  g.pts.forEach(([x, y], i) => {
    const grp = p.groups[p.group[i]];
    ctx.fillStyle = grp.color;
    marker(ctx, grp.shape, x, y, g.r);
    ctx.fill();
    ctx.stroke();
  });
  scatterLabels(ctx, p, g);
  ctx.restore();
  return g;
}

function scatterLabels(ctx, p, g) {
  // each label at the first of eight places around its point that overlaps no label placed
  // before it and no other marker; else one clear of labels only; if none is, the least
  // crowded when every label must show (few tokens), else left out (the hover names it)
  const boxes = [];
  const r = g.r + 1;
  const marks = g.pts.map(([x, y]) => [x - r, y - r, x + r, y + r]);
  const hit = (b, o) => b[0] < o[2] && b[2] > o[0] && b[1] < o[3] && b[3] > o[1];
  const inside = (b) => b[0] >= g.fx && b[2] <= g.fx + g.fw && b[1] >= g.fy && b[3] <= g.fy + g.fh;
  const place = (i, text, font, colour, force, gap) => {
    ctx.font = font;
    const tw = ctx.measureText(text).width;
    const [x, y] = g.pts[i];
    const th = 14;
    const d = gap * 0.7;
    const spots = [
      [x - tw / 2, y - gap - th], [x + gap, y - th / 2], [x - tw / 2, y + gap],
      [x - gap - tw, y - th / 2], [x + d, y - d - th], [x + d, y + d], [x - d - tw, y + d],
      [x - d - tw, y - d - th],
    ].map(([bx, by]) => [bx, by, bx + tw, by + th]);
    const labels = (b) => boxes.filter((o) => hit(b, o)).length;
    const others = (b) => marks.filter((o, j) => j !== i && hit(b, o)).length;
    let box = spots.find((b) => inside(b) && !labels(b) && !others(b))
      || spots.find((b) => inside(b) && !labels(b));
    if (!box && force) {
      const cost = (b) => 4 * labels(b) + others(b) + (inside(b) ? 0 : 2);
      box = spots.reduce((a, b) => (cost(b) < cost(a) ? b : a));
    }
    if (!box) return;
    boxes.push(box);
    ctx.fillStyle = "rgba(255,255,255,0.7)";
    ctx.fillRect(box[0] - 1, box[1] + 1, tw + 2, th - 2);
    ctx.fillStyle = colour;
    ctx.textAlign = "left";
    ctx.fillText(text, box[0], box[1] + th / 2);
  };
  if (p.selected !== null && p.selected !== undefined) {
    const [x, y] = g.pts[p.selected];
    ctx.strokeStyle = "#111827";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, g.r + 5, 0, 2 * Math.PI);
    ctx.stroke();
    place(p.selected, p.selected_label, `600 13px ${FONT}`, "#111827", true, g.r + 7);
  }
  p.labels.forEach((text, i) => {
    if (text) place(i, text, `12px ${FONT}`, p.groups[p.group[i]].color, p.force_labels, g.r + 2);
  });
}

function scatterHit(g, x, y) {
  // the nearest point within reach of the pointer (its marker and a few px around it)
  let best = -1;
  let near = (g.r + 5) ** 2;
  g.pts.forEach(([px, py], i) => {
    const d = (px - x) ** 2 + (py - y) ** 2;
    if (d <= near) { near = d; best = i; }
  });
  return best < 0 ? null : best;
}
