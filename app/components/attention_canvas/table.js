// Attention canvas, part 4: a table panel (kind "table"), plain DOM rather than a canvas: a
// light sortable table. Streamlit's data grid repaints its cells ~170 ms after each run; this
// one is built once per run by the browser's own table layout. A click on a header sorts (on
// the page, no rerun; the order is kept through reruns), a click on a row, or Enter on its
// first cell, sends the row's ``pick`` ({"layer", "head"}) back. Cell text is textContent only.
//
// panel: {kind: "table", columns: [{label, help, format}], rows: [[...]], pick: [[l, h]] | null,
//         chosen: row index or -1, height: px or 0, file: CSV name, sort: [column, dir] | null,
//         styles: per cell "special" | "pad" | "" , or null}
// format: "text" (as is, one line), "prose" (wrapped), "num" (a number as is), "int", "f2"
// (2 decimals), "pct" ("23.3%"). csv: false leaves out the CSV button.

const TEXTUAL = new Set(["text", "prose"]);

function cellText(v, format) {
  if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) return "–";
  if (typeof v === "boolean") return v ? "True" : "False"; // as Python writes them
  if (format === "f2") return v.toFixed(2);
  if (format === "pct") return `${(100 * v).toFixed(1)}%`;
  if (format === "int") return String(Math.round(v));
  return String(v);
}

function tableOrder(p, sort) {
  const order = p.rows.map((_, i) => i);
  if (!sort) return order;
  const [c, dir] = sort;
  const text = TEXTUAL.has(p.columns[c].format);
  const key = (i) => p.rows[i][c];
  order.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    const d = text ? String(x).localeCompare(String(y)) : (x ?? -Infinity) - (y ?? -Infinity);
    return d * dir || a - b; // ties keep the table's own order
  });
  return order;
}

function tableCsv(p, order) {
  const q = (s) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [p.columns.map((c) => q(c.label)).join(",")];
  for (const i of order) lines.push(p.rows[i].map((v) => q(String(v ?? ""))).join(","));
  return `${lines.join("\n")}\n`;
}

function buildTable(panel, root, send) {
  const { p } = panel;
  const sorts = (root.axcSorts = root.axcSorts || {});
  const name = p.file || p.title || "table";
  if (!(name in sorts)) sorts[name] = p.sort || null;
  const wrap = el("div", p.pick ? "axc-table axc-pickable" : "axc-table");
  if (p.height) wrap.style.maxHeight = `${p.height}px`;
  const table = el("table");
  const head = el("tr");
  const body = el("tbody");
  table.append(el("thead"), body);
  table.tHead.appendChild(head);
  wrap.appendChild(table);

  const fill = () => {
    const sort = sorts[name];
    body.textContent = "";
    for (const i of tableOrder(p, sort)) {
      const tr = el("tr");
      if (i === p.chosen) tr.className = "axc-chosen";
      p.rows[i].forEach((v, c) => {
        const format = p.columns[c].format;
        const td = el("td", TEXTUAL.has(format) ? format : "axc-num");
        const look = p.styles && p.styles[i][c];
        if (look) td.classList.add(`axc-${look}`);
        if (c === 0 && p.pick) {
          const go = el("button", "axc-link", cellText(v, format));
          go.title = "Open this head";
          td.appendChild(go);
        } else td.textContent = cellText(v, format);
        tr.appendChild(td);
      });
      if (p.pick) tr.onclick = () => send({ layer: p.pick[i][0], head: p.pick[i][1] });
      body.appendChild(tr);
    }
    [...head.children].forEach((th, c) => {
      const on = sort && sort[0] === c;
      th.setAttribute("aria-sort", on ? (sort[1] > 0 ? "ascending" : "descending") : "none");
      th.firstChild.textContent = p.columns[c].label + (on ? (sort[1] > 0 ? " ▲" : " ▼") : "");
    });
  };

  p.columns.forEach((col, c) => {
    const th = el("th", TEXTUAL.has(col.format) ? "" : "axc-num");
    const b = el("button", "axc-sort", col.label);
    b.title = `${col.help ? `${col.help}. ` : ""}Click to sort`;
    b.onclick = () => {
      const now = sorts[name];
      // numbers largest first, text A to Z; a second click turns the order round
      const first = TEXTUAL.has(col.format) ? 1 : -1;
      sorts[name] = now && now[0] === c ? [c, -now[1]] : [c, first];
      fill();
    };
    th.appendChild(b);
    head.appendChild(th);
  });
  fill();
  // the chosen head's row in sight, scrolled within the table (the page stays where it is)
  const chosen = body.querySelector(".axc-chosen");
  if (chosen && p.height) {
    requestAnimationFrame(() => {
      const top = chosen.offsetTop - table.tHead.offsetHeight;
      const below = top + chosen.offsetHeight > wrap.clientHeight;
      if (below) wrap.scrollTop = top - 2 * chosen.offsetHeight; // two rows of context above
    });
  }
  if (p.csv !== false) {
    const csv = el("button", "axc-btn", "CSV");
    csv.title = "Download this table as CSV, in the order shown";
    csv.onclick = () => download(`${name}.csv`,
      new Blob([tableCsv(p, tableOrder(p, sorts[name]))], { type: "text/csv" }));
    panel.tools.appendChild(csv);
  }
  return wrap;
}
