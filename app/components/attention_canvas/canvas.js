// Attention canvas, part 5: mount the panels, lay them out, and wire hover, click and export.
// Follows panels.js, lines.js, scatter.js and table.js in the same module (joined by the Python
// wrapper).

const DRAW = {
  matrix: drawMatrix, grid: drawGrid, lines: drawLines, bars: drawBars, scatter: drawScatter,
};

function exportPng(panel) {
  // the panel drawn again at EXPORT_SCALE (or the screen's, if finer) on white, its title on
  // top: sharp on a slide, whatever the screen it was saved from
  const { p } = panel;
  const scale = Math.max(EXPORT_SCALE, window.devicePixelRatio || 1);
  const body = document.createElement("canvas");
  const g = DRAW[p.kind](body, p, panel.width, scale, "#fff");
  const band = p.title ? 26 : 0;
  const out = document.createElement("canvas");
  const ctx = setupCanvas(out, g.w, g.h + band, scale, "#fff");
  if (band) {
    ctx.font = `600 15px ${FONT}`;
    ctx.fillStyle = INK;
    ctx.textBaseline = "middle";
    ctx.fillText(p.title, 2, 12, g.w - 4);
  }
  ctx.drawImage(body, 0, band, g.w, g.h);
  return out;
}

// ---- mounting ---------------------------------------------------------------------------------

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(":scope > .axc");
  if (!root) {
    root = el("div", "axc");
    parentElement.appendChild(root);
  }
  root.textContent = "";
  const tip = el("div", "axc-tip");
  const row = el("div", "axc-row");
  root.append(row, tip);
  root.appendChild(el("p", "axc-sr", data.summary || ""));
  const pick = (hit) => setTriggerValue("pick", hit);
  const panels = data.panels.map((p) => {
    const fig = el("figure", "axc-panel");
    if (p.title) fig.appendChild(el("figcaption", "axc-title", p.title));
    if (p.kind === "table") {
      const panel = { p, fig, tools: el("div", "axc-tools"), g: null, width: 0 };
      fig.append(buildTable(panel, root, pick), panel.tools);
      row.appendChild(fig);
      return panel;
    }
    const canvas = el("canvas", "axc-canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", p.title || p.kind);
    fig.appendChild(canvas);
    if (p.note) fig.appendChild(el("div", "axc-note", p.note));
    const tools = el("div", "axc-tools");
    const png = el("button", "axc-btn", "PNG");
    png.title = `Download this picture as PNG (${EXPORT_SCALE}× its size on screen)`;
    const panel = { p, fig, canvas, tools, g: null, width: 0 };
    png.onclick = () => exportPng(panel).toBlob((b) => download(`${p.file || "attention"}.png`, b));
    tools.appendChild(png);
    fig.appendChild(tools);
    row.appendChild(fig);
    if (p.kind === "matrix") {
      const svg = el("button", "axc-btn", "SVG");
      svg.title = "Download this heatmap as SVG";
      svg.onclick = () => download(`${p.file || "attention"}.svg`,
        new Blob([matrixSvg(p, panel.g)], { type: "image/svg+xml" }));
      tools.appendChild(svg);
    }
    return panel;
  });

  let drawnWidth = -1;
  let serial = 0;
  const paint = () => {
    const width = root.clientWidth;
    if (!width || width === drawnWidth) return;
    drawnWidth = width;
    const n = panels.length;
    const fits = Math.max(1, Math.floor((width + GAP) / ((data.min_width || 420) + GAP)));
    const per = Math.min(n, fits);
    const each = Math.floor((width - (per - 1) * GAP) / per);
    for (const panel of panels) {
      const { p, canvas } = panel;
      if (!canvas) continue; // a table lays itself out
      panel.width = each;
      panel.g = DRAW[p.kind](canvas, p, each);
      // the figure holds its canvas whole; a small canvas (one head) still gets room for its
      // title, so it does not wrap word by word
      panel.fig.style.width = `${Math.max(panel.g.w, Math.min(each, 320))}px`;
      canvas.dataset.geometry = JSON.stringify(
        Object.fromEntries(Object.entries(panel.g).filter(([, v]) => typeof v === "number")));
      if (panel.g.pts) canvas.axcPoints = panel.g.pts; // a scatter's points in CSS px (tests)
    }
    root.setAttribute("data-drawn", String(++serial));
  };

  paint();

  for (const panel of panels) {
    const { p, canvas } = panel;
    if (!canvas) continue;
    const local = (e) => {
      // in the geometry's CSS px, even if the page squeezed the canvas
      const r = canvas.getBoundingClientRect();
      const kx = panel.g && r.width ? panel.g.w / r.width : 1;
      const ky = panel.g && r.height ? panel.g.h / r.height : 1;
      return [(e.clientX - r.left) * kx, (e.clientY - r.top) * ky];
    };
    canvas.addEventListener("mousemove", (e) => {
      if (!panel.g) return;
      const [x, y] = local(e);
      let text = null;
      let clickable = false;
      if (p.kind === "matrix") {
        text = matrixHover(panel.g, p, x, y);
        clickable = Boolean(text && p.pick);
        if (clickable) text += ": click to open";
      } else if (p.kind === "bars") text = barsHover(panel.g, p, x, y);
      else if (p.kind === "grid") {
        const hit = gridHit(panel.g, p, x, y);
        if (hit) { text = `L${hit.layer} H${hit.head}: click to open`; clickable = true; }
      } else if (p.kind === "lines") {
        const hit = linesHit(panel.g, x, y);
        if (hit) { text = linesHover(p, hit); clickable = hit.side === "query"; }
      } else if (p.kind === "scatter") {
        const i = scatterHit(panel.g, x, y);
        if (i !== null) { text = p.hover[i]; clickable = Boolean(p.pick); }
      }
      canvas.style.cursor = clickable ? "pointer" : "default";
      if (!text) { tip.style.display = "none"; return; }
      tip.textContent = text;
      tip.style.display = "block";
      const rr = root.getBoundingClientRect();
      const left = Math.min(e.clientX - rr.left + 14, rr.width - tip.offsetWidth - 4);
      tip.style.left = `${Math.max(0, left)}px`;
      tip.style.top = `${e.clientY - rr.top + 16}px`;
    });
    canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
    canvas.addEventListener("click", (e) => {
      if (!panel.g) return;
      const [x, y] = local(e);
      if (p.kind === "grid") {
        const hit = gridHit(panel.g, p, x, y);
        if (hit) setTriggerValue("pick", hit);
      } else if (p.kind === "matrix" && p.pick) {
        const hit = matrixCell(panel.g, x, y);
        if (hit) setTriggerValue("pick", { layer: hit.i, head: hit.j });
      } else if (p.kind === "lines") {
        const hit = linesHit(panel.g, x, y);
        if (hit && hit.side === "query") setTriggerValue("query", hit.i);
      } else if (p.kind === "scatter" && p.pick) {
        const i = scatterHit(panel.g, x, y);
        if (i !== null) setTriggerValue("pick", { layer: p.pick[i][0], head: p.pick[i][1] });
      }
    });
  }

  if (root.axcObserver) root.axcObserver.disconnect(); // a rerun redraws into the same root
  const observer = new ResizeObserver(() => paint());
  observer.observe(root);
  root.axcObserver = observer;
  return () => observer.disconnect();
}
