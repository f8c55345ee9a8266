// Building the page from data, always as text: nothing here ever parses a string as HTML
// (the page's Content-Security-Policy enforces that with Trusted Types).

/** An element: h("a", {href: "#/", class: "x", onclick: fn}, "text", child, ...). */
export function h(tag, attributes = {}, ...children) {
  const svg = ["svg", "path", "line", "text", "title", "desc", "g", "circle", "rect", "polyline"].includes(tag);
  const element = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Empties an element and puts the children in. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/**
 * A table: columns are {label, value(row) -> text or node, numeric?}. Headers are real <th
 * scope="col"> cells and the caption names the table, for screen readers.
 */
export function table(caption, columns, rows, {empty = "Nothing yet.", id} = {}) {
  if (!rows.length) return h("p", {class: "empty", id}, empty);
  return h("div", {class: "table-wrap"},
    h("table", {id},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", {scope: "col", class: c.numeric ? "num" : undefined}, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c, index) => {
        const cell = c.value(row);
        return index === 0 && c.rowHeader !== false
          ? h("th", {scope: "row", class: c.numeric ? "num" : undefined}, cell)
          : h("td", {class: c.numeric ? "num" : undefined}, cell);
      }))))));
}

let fieldCount = 0;

/** A labelled form field; `name` is the Admin API's field name, so its 422 can point here. */
export function field(label, name, {type = "text", value = "", hint, options, wide, rows, placeholder, required} = {}) {
  const id = `f${++fieldCount}-${name}`;
  const hintId = hint ? id + "-hint" : undefined;
  let control;
  if (options) {
    control = h("select", {id, name, "aria-describedby": hintId},
      options.map(([optionValue, text]) => h("option", {value: optionValue, selected: String(optionValue) === String(value)}, text)));
  } else if (type === "textarea") {
    control = h("textarea", {id, name, rows: rows || 4, "aria-describedby": hintId, spellcheck: "false"});
    control.value = value;
  } else if (type === "checkbox") {
    control = h("input", {id, name, type, checked: Boolean(value), "aria-describedby": hintId});
    return h("div", {class: "field check" + (wide ? " wide" : "")}, control, h("label", {for: id}, label),
      hint ? h("span", {class: "hint", id: hintId}, hint) : null);
  } else {
    control = h("input", {id, name, type, placeholder, "aria-describedby": hintId, autocomplete: "off", "aria-required": required ? "true" : undefined});
    control.value = value;
  }
  return h("div", {class: "field" + (wide ? " wide" : "")},
    h("label", {for: id}, label, required ? " (required)" : ""), control,
    hint ? h("span", {class: "hint", id: hintId}, hint) : null);
}

/** Announces a short message to screen readers (the page's polite live region). */
export function announce(text) {
  const status = document.getElementById("status");
  if (status) status.textContent = text;
}
