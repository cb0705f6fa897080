import { useState } from "react";

// Named entities highlighted by label, linked ones clickable, with a legend; under the text,
// one row per distinct entity with the linking decision and why, and a button that opens
// the candidates the linker weighed. In LLM mode, the zero-shot and one-shot runs side by
// side: the entities each found, the prompt and the JSON returned (both collapsible), and
// what the worked example changed.
// Props (from tools/entities.py view_props): text, mode, threshold,
//   entities: [{start, end, text, label, url, title, description, confidence, reason, link}]
//     (spans in text order, non-overlapping; `link` indexes `links`),
//   links: [{text, label, found_by, linked, title, url, confidence, reason, source,
//     candidates: [{title, matched_by, prior, kinds, label_fit, context, confidence}],
//     more_candidates}],
//   icl: null | {"zero-shot": run, "one-shot": run, changes: [{entity, change}]},
//     run = {prompt: [{role, content}], json, entities: [{text, label}], notes}.

const COLORS = {
  person: "#fde68a",
  fac: "#fed7aa",
  org: "#bfdbfe",
  gpe: "#bbf7d0",
  loc: "#a7f3d0",
  product: "#e9d5ff",
  event: "#fecaca",
  work_of_art: "#fbcfe8",
  law: "#ddd6fe",
  language: "#c7d2fe",
  date: "#e5e7eb",
  time: "#e5e7eb",
  percent: "#f5f5f4",
  money: "#d9f99d",
  quantity: "#f5f5f4",
};

const MUTED = "hsl(var(--muted-foreground))";
const BORDER = "hsl(var(--border))";
const ACCENT = "hsl(var(--accent))";

const CANDIDATE_COLUMNS = [
  "article",
  "matched by",
  "prior",
  "article kinds",
  "label fit",
  "context",
  "confidence",
  "decision",
];

const cellStyle = {
  borderBottom: `1px solid ${BORDER}`,
  padding: "2px 6px",
  textAlign: "left",
  verticalAlign: "top",
};
const headStyle = { ...cellStyle, fontWeight: 600, color: MUTED, whiteSpace: "nowrap" };
const preStyle = {
  whiteSpace: "pre-wrap",
  wordBreak: "break-word",
  fontSize: "11px",
  background: ACCENT,
  borderRadius: "4px",
  padding: "4px 6px",
  margin: "2px 0 6px",
  maxHeight: "260px",
  overflowY: "auto",
};

function Chip({ label, children, strike }) {
  return (
    <span
      style={{
        background: COLORS[label] || "#e5e7eb",
        color: "#111827",
        borderRadius: "4px",
        padding: "0 4px",
        textDecoration: strike ? "line-through" : "none",
      }}
    >
      {children}
    </span>
  );
}

function Mark({ entity, onPick }) {
  const style = {
    background: COLORS[entity.label] || "#e5e7eb",
    color: "#111827",
    borderRadius: "4px",
    padding: "0 3px",
  };
  const tip = entity.title
    ? `${entity.title}: ${entity.description} (confidence ${entity.confidence})`
    : `${entity.label}, not linked: ${entity.reason || "no reason given"}`;
  const body = (
    <span>
      {entity.text}
      <span
        role="button"
        title="Why this link? Show the candidates"
        onClick={(event) => {
          event.preventDefault();
          onPick(entity.link);
        }}
        style={{ fontSize: "0.65em", fontWeight: 600, marginLeft: "3px", opacity: 0.7, cursor: "pointer" }}
      >
        {entity.label.toUpperCase()}
      </span>
    </span>
  );
  return (
    <mark style={style} title={tip}>
      {entity.url ? (
        <a href={entity.url} target="_blank" rel="noreferrer" style={{ color: "inherit" }}>
          {body}
        </a>
      ) : (
        body
      )}
    </mark>
  );
}

function fixed(value, digits) {
  return typeof value === "number" ? value.toFixed(digits) : "";
}

function Candidates({ link, threshold }) {
  return (
    <div style={{ padding: "2px 0 8px 18px", overflowX: "auto" }}>
      <table data-testid="entity-candidates" style={{ borderCollapse: "collapse", fontSize: "12px" }}>
        <thead>
          <tr>
            {CANDIDATE_COLUMNS.map((c) => (
              <th key={c} style={headStyle}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {link.candidates.map((c, i) => {
            const decision =
              i > 0 ? "lost" : link.linked ? "chosen" : `best guess, below ${threshold}: not linked`;
            return (
              <tr key={c.title} style={{ fontWeight: i === 0 && link.linked ? 600 : 400 }}>
                <td style={cellStyle}>{c.title}</td>
                <td style={cellStyle}>{c.matched_by}</td>
                <td style={cellStyle}>{fixed(c.prior, 2)}</td>
                <td style={cellStyle}>{c.kinds}</td>
                <td style={cellStyle}>{fixed(c.label_fit, 1)}</td>
                <td style={cellStyle}>{c.context === null ? "not needed" : fixed(c.context, 2)}</td>
                <td style={cellStyle}>{fixed(c.confidence, 3)}</td>
                <td style={cellStyle}>{decision}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {link.more_candidates > 0 ? (
        <div style={{ color: MUTED }}>…and {link.more_candidates} weaker candidates not shown.</div>
      ) : null}
    </div>
  );
}

function Decision({ link, index, threshold, open, toggle }) {
  const weighed = link.candidates.length + link.more_candidates;
  const shown = weighed > 0 && open;
  return (
    <div data-testid="entity-decision" style={{ borderBottom: `1px solid ${BORDER}`, padding: "2px 0" }}>
      <button
        type="button"
        data-testid={`entity-toggle-${index}`}
        aria-expanded={shown ? "true" : "false"}
        disabled={weighed === 0}
        title={weighed ? "Show the candidates" : "No article was looked up for this one"}
        onClick={() => toggle(index)}
        style={{
          width: "100%",
          textAlign: "left",
          color: "inherit",
          cursor: weighed ? "pointer" : "default",
          background: "transparent",
        }}
      >
        <span style={{ display: "inline-block", width: "14px", color: MUTED }}>
          {weighed === 0 ? "·" : shown ? "▾" : "▸"}
        </span>
        <Chip label={link.label}>{link.text}</Chip>{" "}
        <span style={{ color: MUTED, fontSize: "11px" }}>{link.label}</span>{" "}
        {link.linked ? (
          <span>
            → <strong>{link.title}</strong> ({fixed(link.confidence, 2)})
          </span>
        ) : (
          <span style={{ color: MUTED }}>not linked</span>
        )}
        <span style={{ color: MUTED, fontSize: "11px" }}>
          {weighed ? ` · ${weighed} candidate${weighed === 1 ? "" : "s"}` : ""}
        </span>
        <span
          data-testid="entity-reason"
          style={{ display: "block", fontSize: "12px", color: MUTED, paddingLeft: "14px" }}
        >
          {link.linked ? "Why: " : "Why not: "}
          {link.reason}
          {link.found_by ? ` · found by ${link.found_by}` : ""}
          {link.source === "online" ? " · live Wikipedia" : ""}
        </span>
      </button>
      {shown ? <Candidates link={link} threshold={threshold} /> : null}
    </div>
  );
}

function Decisions({ links, threshold, open, toggle }) {
  if (links.length === 0) return null;
  return (
    <div data-testid="entity-decisions" className="mt-3">
      <div style={{ fontWeight: 600 }}>How each entity was linked</div>
      <div style={{ color: MUTED, fontSize: "12px", marginBottom: "2px" }}>
        confidence = prior (how the name matched) × label fit (entity label vs article kind) × context
        similarity, shared among the candidates; a link needs {threshold}. Click ▸ (or a label in the
        text) to see the candidates.
      </div>
      {links.map((link, i) => (
        <Decision key={i} link={link} index={i} threshold={threshold} open={!!open[i]} toggle={toggle} />
      ))}
    </div>
  );
}

function Run({ name, title, run, changed, testid }) {
  const demo = name === "one-shot" ? run.prompt.slice(1, -1) : [];
  return (
    <div
      data-testid={testid}
      style={{
        flex: "1 1 260px",
        minWidth: 0,
        border: `1px solid ${BORDER}`,
        borderRadius: "6px",
        padding: "6px",
      }}
    >
      <div style={{ fontWeight: 600 }}>{title}</div>
      <div style={{ color: MUTED, fontSize: "12px", marginBottom: "4px" }}>
        {run.entities.length} entit{run.entities.length === 1 ? "y" : "ies"} found
        {name === "one-shot" ? " · these are the ones linked" : ""}
      </div>
      <div className="flex flex-wrap gap-1" style={{ marginBottom: "4px" }}>
        {run.entities.length === 0 ? <span style={{ color: MUTED }}>none</span> : null}
        {run.entities.map((e, i) => (
          <span
            key={i}
            data-testid="icl-entity"
            title={changed.has(e.text) ? "the worked example changed this one" : ""}
            style={{ outline: changed.has(e.text) ? "2px solid #f59e0b" : "none", borderRadius: "4px" }}
          >
            <Chip label={e.label}>
              {e.text} <span style={{ fontSize: "0.7em", opacity: 0.7 }}>{e.label}</span>
            </Chip>
          </span>
        ))}
      </div>
      {run.notes.map((note, i) => (
        <div key={i} style={{ color: MUTED, fontSize: "12px" }}>
          {note}
        </div>
      ))}
      <details data-testid={`${testid}-prompt`}>
        <summary style={{ cursor: "pointer", fontSize: "12px" }}>
          Prompt ({run.prompt.length} messages{demo.length ? ", incl. the worked example" : ""})
        </summary>
        {run.prompt.map((m, i) => {
          const example = name === "one-shot" && i > 0 && i < run.prompt.length - 1;
          return (
            <div key={i}>
              <div style={{ fontSize: "11px", color: example ? "#b45309" : MUTED, fontWeight: 600 }}>
                {m.role}
                {example ? " · worked example" : ""}
              </div>
              <pre style={{ ...preStyle, borderLeft: example ? "3px solid #f59e0b" : "none" }}>
                {m.content}
              </pre>
            </div>
          );
        })}
      </details>
      <details data-testid={`${testid}-json`}>
        <summary style={{ cursor: "pointer", fontSize: "12px" }}>JSON returned</summary>
        <pre style={preStyle}>{run.json}</pre>
      </details>
    </div>
  );
}

function Comparison({ icl }) {
  const changes = icl.changes || [];
  const changed = new Set(changes.map((c) => c.entity));
  return (
    <div data-testid="icl-comparison" className="mt-3">
      <div style={{ fontWeight: 600 }}>In-context learning: the same text, zero-shot and one-shot</div>
      <div style={{ color: MUTED, fontSize: "12px", marginBottom: "4px" }}>
        Both prompts give the instructions and the text; the one-shot prompt adds one worked example
        in between. Entities the example changed are outlined.
      </div>
      <div className="flex flex-wrap gap-2">
        <Run
          name="zero-shot"
          title="Zero-shot (no example)"
          run={icl["zero-shot"]}
          changed={changed}
          testid="icl-zero"
        />
        <Run
          name="one-shot"
          title="One-shot (one worked example)"
          run={icl["one-shot"]}
          changed={changed}
          testid="icl-one"
        />
      </div>
      <div data-testid="icl-changes" style={{ marginTop: "4px" }}>
        <span style={{ fontWeight: 600 }}>What the worked example changed: </span>
        {changes.length === 0 ? (
          <span style={{ color: MUTED }}>nothing on this text.</span>
        ) : (
          <ul style={{ margin: "2px 0 0 18px", listStyle: "disc" }}>
            {changes.map((c, i) => (
              <li key={i} data-testid="icl-change">
                <strong>{c.entity}</strong>: {c.change}
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

export default function EntityView() {
  const text = props.text || "";
  const entities = props.entities || [];
  const links = props.links || [];
  const threshold = props.threshold;
  const [open, setOpen] = useState({});
  const toggle = (i) => setOpen((was) => ({ ...was, [i]: !was[i] }));
  const pick = (i) => setOpen((was) => ({ ...was, [i]: true }));
  const pieces = [];
  let cursor = 0;
  entities.forEach((entity, i) => {
    if (entity.start < cursor) return;
    pieces.push(text.slice(cursor, entity.start));
    pieces.push(<Mark key={i} entity={entity} onPick={pick} />);
    cursor = entity.end;
  });
  pieces.push(text.slice(cursor));
  const labels = [...new Set(entities.map((e) => e.label))];
  return (
    <div className="text-sm" data-testid="entity-view">
      <div style={{ lineHeight: 2, whiteSpace: "pre-wrap" }}>{pieces}</div>
      <div className="flex flex-wrap gap-2 mt-2 text-xs">
        {labels.map((label) => (
          <span
            key={label}
            style={{ background: COLORS[label] || "#e5e7eb", color: "#111827", borderRadius: "4px", padding: "0 6px" }}
          >
            {label}
          </span>
        ))}
        <span className="text-muted-foreground">
          {entities.length === 0
            ? "No entities found."
            : `Recognizer: ${props.mode === "llm" ? "the LLM, one-shot" : "spaCy"}. ` +
              "Underlined entities link to Wikipedia; click a label for its candidates."}
        </span>
      </div>
      <Decisions links={links} threshold={threshold} open={open} toggle={toggle} />
      {props.icl ? <Comparison icl={props.icl} /> : null}
    </div>
  );
}
