// Attention canvas, part 2: mount the panels, lay them out, and wire hover, click and export.
// Follows panels.js in the same module (joined by the Python wrapper).

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
  const panels = data.panels.map((p) => {
    const fig = el("figure", "axc-panel");
    if (p.title) fig.appendChild(el("figcaption", "axc-title", p.title));
    const canvas = el("canvas", "axc-canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", p.title || p.kind);
    fig.appendChild(canvas);
    if (p.kind === "lines") {
      const legend = el("div", "axc-legend");
      for (const h of p.heads) {
        const chip = el("span", "axc-chip", `H${h.head}`);
        chip.style.borderColor = h.color;
        chip.style.color = h.color;
        legend.appendChild(chip);
      }
      fig.appendChild(legend);
    }
    if (p.note) fig.appendChild(el("div", "axc-note", p.note));
    const tools = el("div", "axc-tools");
    const png = el("button", "axc-btn", "PNG");
    png.title = "Download this picture as PNG";
    png.onclick = () => canvas.toBlob((b) => download(`${p.file || "attention"}.png`, b));
    tools.appendChild(png);
    fig.appendChild(tools);
    row.appendChild(fig);
    const panel = { p, fig, canvas, tools, g: null, img: null };
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
      if (p.kind === "matrix") panel.g = drawMatrix(canvas, p, each);
      else if (p.kind === "grid") panel.g = drawGrid(canvas, p, each, panel.img);
      else if (p.kind === "lines") panel.g = drawLines(canvas, p, each);
      panel.fig.style.width = `${Math.min(each, panel.g.w)}px`;
    }
    root.setAttribute("data-drawn", String(++serial));
  };

  for (const panel of panels) if (panel.p.kind === "grid") panel.img = gridImage(panel.p);
  paint();

  for (const panel of panels) {
    const { p, canvas } = panel;
    const local = (e) => {
      const r = canvas.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    };
    canvas.addEventListener("mousemove", (e) => {
      if (!panel.g) return;
      const [x, y] = local(e);
      let text = null;
      let clickable = false;
      if (p.kind === "matrix") text = matrixHover(panel.g, p, x, y);
      else if (p.kind === "grid") {
        const hit = gridHit(panel.g, p, x, y);
        if (hit) { text = `L${hit.layer} H${hit.head}: click to open`; clickable = true; }
      } else if (p.kind === "lines") {
        const hit = linesHit(panel.g, x, y);
        if (hit) { text = linesHover(p, hit); clickable = hit.side === "query"; }
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
      } else if (p.kind === "lines") {
        const hit = linesHit(panel.g, x, y);
        if (hit && hit.side === "query") setTriggerValue("query", hit.i);
      }
    });
  }

  if (root.axcObserver) root.axcObserver.disconnect(); // a rerun redraws into the same root
  const observer = new ResizeObserver(() => paint());
  observer.observe(root);
  root.axcObserver = observer;
  return () => observer.disconnect();
}
