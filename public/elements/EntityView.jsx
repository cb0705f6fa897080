// Named entities highlighted by label, linked ones clickable, with a legend.
// Props (from tools/entities.py view_props): text, mode, entities: [{start, end, text, label,
// url, title, description, confidence}], spans in text order, non-overlapping.

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

function Mark({ entity }) {
  const style = {
    background: COLORS[entity.label] || "#e5e7eb",
    color: "#111827",
    borderRadius: "4px",
    padding: "0 3px",
  };
  const tip = entity.title
    ? `${entity.title}: ${entity.description} (confidence ${entity.confidence})`
    : `${entity.label}, not linked`;
  const body = (
    <span>
      {entity.text}
      <span style={{ fontSize: "0.65em", fontWeight: 600, marginLeft: "3px", opacity: 0.7 }}>
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

export default function EntityView() {
  const text = props.text || "";
  const entities = props.entities || [];
  const pieces = [];
  let cursor = 0;
  entities.forEach((entity, i) => {
    if (entity.start < cursor) return;
    pieces.push(text.slice(cursor, entity.start));
    pieces.push(<Mark key={i} entity={entity} />);
    cursor = entity.end;
  });
  pieces.push(text.slice(cursor));
  const labels = [...new Set(entities.map((e) => e.label))];
  return (
    <div className="text-sm">
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
          {entities.length === 0 ? "No entities found." : `Recognizer: ${props.mode}. Underlined entities link to Wikipedia.`}
        </span>
      </div>
    </div>
  );
}
