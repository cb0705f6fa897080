import { createElement as h, useState } from "react";

// The attention view: pick a layer and a head, see which tokens each token attends to.
// The same file runs in two places, so they cannot drift apart:
//   - in the chat, as a Chainlit custom element (React, `props` injected as a global);
//   - in the standalone HTML page from tools/attention.py, which drops the import and the
//     `export` and supplies `props`, `h` and `useState` from a tiny React-free renderer.
// Hence plain `h(...)` calls instead of JSX syntax, and only the `useState` hook.
// Props: see view_props() in tools/attention.py.

// prettier-ignore
const HEAD_COLORS = [
  "#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#9c755f",
  "#17becf", "#d4a017", "#a463f2", "#e377c2", "#2f9e8f", "#6b6ecf",
];
const SEGMENT_COLORS = ["#9ca3af", "#f59e0b"];
const SHORT_LABELS = {
  "previous-token head": "prev",
  "next-token head": "next",
  "attends to itself": "self",
  "attends to [SEP]": "[SEP]",
  "attends to [CLS]": "[CLS]",
  broad: "broad",
  mixed: "·",
};
const ROW = 18;
const COLUMN = 110;
const GAP = 170;
const MIN_LINE_WEIGHT = 0.01;

const FG = "hsl(var(--foreground))";
const MUTED = "hsl(var(--muted-foreground))";
const BORDER = "hsl(var(--border))";
const ACCENT = "hsl(var(--accent))";
const PRIMARY = "hsl(var(--primary))";

function shortToken(token) {
  return token.length > 14 ? token.slice(0, 13) + "…" : token;
}

function parseHover(hover) {
  const [side, index] = hover.split(":");
  return { side, index: Number(index) };
}

function buttonStyle(active, color) {
  return {
    minWidth: "28px",
    padding: "2px 6px",
    margin: "0 4px 4px 0",
    borderRadius: "6px",
    border: `1px solid ${active ? color : BORDER}`,
    background: active ? color : "transparent",
    color: active ? "#fff" : FG,
    fontSize: "12px",
    cursor: "pointer",
  };
}

function Selector({ name, count, value, onSelect, colorOf }) {
  const buttons = [];
  for (let i = 0; i < count; i++) {
    buttons.push(
      h(
        "button",
        {
          key: i,
          type: "button",
          "data-testid": `${name}-${i}`,
          "aria-pressed": i === value ? "true" : "false",
          title: `${name} ${i}`,
          style: buttonStyle(i === value, colorOf(i)),
          onClick: () => onSelect(i),
        },
        String(i),
      ),
    );
  }
  return h(
    "div",
    { style: { display: "flex", alignItems: "center", flexWrap: "wrap" } },
    h("span", { style: { width: "48px", fontSize: "12px", color: MUTED } }, name),
    buttons,
  );
}

function TokenColumn({ tokens, segments, x, anchor, side, hover, setHover, highlight, color }) {
  const { side: hoverSide, index } = parseHover(hover);
  return tokens.map((token, i) => {
    const y = 4 + i * ROW;
    const focused = hoverSide === side && index === i;
    const barX = anchor === "end" ? x - COLUMN + 2 : x + COLUMN - 5;
    return h(
      "g",
      {
        key: `${side}-${i}`,
        "data-testid": `token-${side}-${i}`,
        style: { cursor: "default" },
        onMouseEnter: () => setHover(`${side}:${i}`),
        onMouseLeave: () => setHover(""),
      },
      h("rect", {
        x: x - COLUMN + 6 + (anchor === "end" ? 0 : COLUMN - 6),
        y,
        width: COLUMN - 6,
        height: ROW - 2,
        rx: 3,
        fill: color,
        fillOpacity: highlight ? highlight[i] : focused ? 0.25 : 0,
      }),
      h("rect", {
        x: barX,
        y: y + 2,
        width: 3,
        height: ROW - 6,
        fill: SEGMENT_COLORS[segments[i]],
      }),
      h(
        "text",
        {
          x: anchor === "end" ? x - 4 : x + 4,
          y: y + ROW / 2 + 3,
          textAnchor: anchor,
          fontSize: "12px",
          fontWeight: focused ? "bold" : "normal",
          fill: FG,
        },
        shortToken(token),
      ),
    );
  });
}

function LinesView({ tokens, segments, weights, color, hover, setHover, layer, head }) {
  const n = tokens.length;
  const left = COLUMN;
  const right = COLUMN + GAP;
  const { side, index } = parseHover(hover);
  const y = (i) => 4 + i * ROW + ROW / 2 - 1;
  const lines = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const w = weights[i][j];
      if (w < MIN_LINE_WEIGHT) continue;
      if ((side === "from" && i !== index) || (side === "to" && j !== index)) continue;
      lines.push(
        h("line", {
          key: `${i}-${j}`,
          x1: left + 2,
          y1: y(i),
          x2: right - 2,
          y2: y(j),
          stroke: color,
          strokeWidth: 2,
          strokeOpacity: w,
        }),
      );
    }
  }
  const toWeights = side === "from" ? weights[index] : null;
  const fromWeights = side === "to" ? weights.map((row) => row[index]) : null;
  const common = { tokens, segments, hover, setHover, color };
  return h(
    "svg",
    {
      "data-testid": "attention-lines",
      "data-layer": layer,
      "data-head": head,
      "data-lines": lines.length,
      width: 2 * COLUMN + GAP,
      height: n * ROW + 8,
      viewBox: `0 0 ${2 * COLUMN + GAP} ${n * ROW + 8}`,
      style: { display: "block", maxWidth: "100%" },
    },
    h("g", null, lines),
    TokenColumn({ ...common, x: left, anchor: "end", side: "from", highlight: fromWeights }),
    TokenColumn({ ...common, x: right, anchor: "start", side: "to", highlight: toWeights }),
  );
}

function Heatmap({ tokens, weights, color, layer, head }) {
  const n = tokens.length;
  const cell = Math.max(5, Math.min(22, Math.floor(440 / n)));
  const labels = cell >= 10;
  const margin = labels ? 100 : 4;
  const width = margin + n * cell + 40; // room for the last rotated column label
  const height = margin + n * cell + 4;
  const cells = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const w = weights[i][j];
      if (w < 0.005) continue;
      cells.push(
        h(
          "rect",
          {
            key: `${i}-${j}`,
            x: margin + j * cell,
            y: margin + i * cell,
            width: cell,
            height: cell,
            fill: color,
            fillOpacity: w,
          },
          h("title", null, `${tokens[i]} → ${tokens[j]}: ${w.toFixed(3)}`),
        ),
      );
    }
  }
  const names = labels
    ? tokens.flatMap((token, i) => [
        h(
          "text",
          {
            key: `r${i}`,
            x: margin - 4,
            y: margin + i * cell + cell / 2 + 4,
            textAnchor: "end",
            fontSize: "11px",
            fill: FG,
          },
          shortToken(token),
        ),
        h(
          "text",
          {
            key: `c${i}`,
            x: margin + i * cell + cell / 2 + 4,
            y: margin - 4,
            transform: `rotate(-60 ${margin + i * cell + cell / 2 + 4} ${margin - 4})`,
            fontSize: "11px",
            fill: FG,
          },
          shortToken(token),
        ),
      ])
    : [];
  return h(
    "svg",
    {
      "data-testid": "attention-heatmap",
      "data-layer": layer,
      "data-head": head,
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      style: { display: "block", maxWidth: "100%" },
    },
    h("rect", {
      x: margin,
      y: margin,
      width: n * cell,
      height: n * cell,
      fill: "none",
      stroke: BORDER,
    }),
    cells,
    names,
  );
}

function Overview({ summaries, layer, head, onSelect }) {
  const rows = summaries.map((row, l) =>
    h(
      "tr",
      { key: l },
      h("td", { style: { fontSize: "11px", color: MUTED, paddingRight: "6px" } }, `layer ${l}`),
      row.map((s, hd) => {
        const active = l === layer && hd === head;
        return h(
          "td",
          { key: hd, style: { padding: "1px" } },
          h(
            "button",
            {
              type: "button",
              "data-testid": `cell-${l}-${hd}`,
              title: `layer ${l} head ${hd}: ${s.label}`,
              onClick: () => onSelect(l, hd),
              style: {
                width: "40px",
                padding: "2px 0",
                fontSize: "10px",
                borderRadius: "4px",
                cursor: "pointer",
                color: FG,
                background: s.label === "mixed" ? "transparent" : ACCENT,
                border: `2px solid ${active ? PRIMARY : BORDER}`,
                borderLeft: `4px solid ${HEAD_COLORS[hd % HEAD_COLORS.length]}`,
              },
            },
            SHORT_LABELS[s.label] || s.label,
          ),
        );
      }),
    ),
  );
  return h(
    "div",
    { style: { marginTop: "10px", overflowX: "auto" } },
    h(
      "div",
      { style: { fontSize: "12px", color: MUTED, margin: "4px 0" } },
      "All heads (click one):",
    ),
    h("table", { style: { borderCollapse: "collapse" } }, h("tbody", null, rows)),
  );
}

function hoverText(tokens, weights, hover, mode) {
  if (mode === "heatmap") return "Rows attend to columns; hover a cell for its weight.";
  if (!hover) return "Hover a token to see only its lines.";
  const { side, index } = parseHover(hover);
  if (side === "from") {
    const row = weights[index];
    const j = row.indexOf(Math.max(...row));
    return `“${tokens[index]}” attends most to “${tokens[j]}” (${row[j].toFixed(2)}).`;
  }
  const column = weights.map((row) => row[index]);
  const i = column.indexOf(Math.max(...column));
  const weight = column[i].toFixed(2);
  return `“${tokens[index]}” gets the most attention from “${tokens[i]}” (${weight}).`;
}

export default function AttentionView() {
  const [layer, setLayer] = useState(props.layer || 0);
  const [head, setHead] = useState(props.head || 0);
  const [mode, setMode] = useState("lines");
  const [hover, setHover] = useState("");
  const tokens = props.tokens;
  const segments = props.segment_ids;
  const weights = props.attention[layer][head];
  const summary = props.summaries[layer][head];
  const color = HEAD_COLORS[head % HEAD_COLORS.length];
  const pair = segments.some((s) => s === 1);
  const stats = [
    ["prev", summary.previous],
    ["next", summary.next],
    ["[SEP]", summary.sep],
    ["[CLS]", summary.cls],
    ["self", summary.itself],
    ["spread", summary.entropy],
  ];
  const select = (l, hd) => {
    setLayer(l);
    setHead(hd);
  };
  return h(
    "div",
    { "data-testid": "attention-view", style: { color: FG, fontSize: "13px", padding: "4px 0" } },
    h(
      "div",
      {
        style: {
          display: "flex",
          justifyContent: "space-between",
          alignItems: "center",
          marginBottom: "6px",
        },
      },
      h(
        "strong",
        { title: `The view takes at most ${props.max_tokens} tokens.` },
        `Attention · ${props.model_name} · ${tokens.length} tokens`,
      ),
      h(
        "div",
        null,
        ["lines", "heatmap"].map((m) =>
          h(
            "button",
            {
              key: m,
              type: "button",
              "data-testid": `mode-${m}`,
              "aria-pressed": m === mode ? "true" : "false",
              style: buttonStyle(m === mode, PRIMARY),
              onClick: () => setMode(m),
            },
            m,
          ),
        ),
      ),
    ),
    h(Selector, {
      name: "layer",
      count: props.attention.length,
      value: layer,
      onSelect: setLayer,
      colorOf: () => PRIMARY,
    }),
    h(Selector, {
      name: "head",
      count: props.attention[0].length,
      value: head,
      onSelect: setHead,
      colorOf: (i) => HEAD_COLORS[i % HEAD_COLORS.length],
    }),
    h(
      "div",
      { style: { margin: "6px 0 2px" } },
      h("span", { "data-testid": "head-title" }, `Layer ${layer}, head ${head}: `),
      h("strong", { "data-testid": "head-label", style: { color } }, summary.label),
    ),
    h(
      "div",
      { "data-testid": "head-stats", style: { fontSize: "12px", color: MUTED } },
      stats.map(([name, value]) => `${name} ${value.toFixed(2)}`).join(" · "),
    ),
    h(
      "div",
      {
        "data-testid": "hover-text",
        style: { fontSize: "12px", color: MUTED, margin: "2px 0 6px" },
      },
      hoverText(tokens, weights, hover, mode),
    ),
    pair
      ? h(
          "div",
          { style: { fontSize: "12px", color: MUTED, marginBottom: "4px" } },
          h("span", { style: { color: SEGMENT_COLORS[0] } }, "▌"),
          " sentence A  ",
          h("span", { style: { color: SEGMENT_COLORS[1] } }, "▌"),
          " sentence B",
        )
      : null,
    mode === "lines"
      ? h(LinesView, { tokens, segments, weights, color, hover, setHover, layer, head })
      : h(Heatmap, { tokens, weights, color, layer, head }),
    h(Overview, { summaries: props.summaries, layer, head, onSelect: select }),
  );
}
