// Line charts drawn as inline SVG by this file (no charting library: nothing to fetch, nothing to
// licence, and nothing but text reaches the page). Every chart carries its text alternative: an
// SVG <title> and <desc> summing it up, and the same figures as a table under it.

import {h, table} from "./dom.js";

const WIDTH = 720;
const HEIGHT = 260;
const PAD = {left: 56, right: 16, top: 12, bottom: 36};

/** The axis' top: four grid steps of a round size (1, 2, 2.5 or 5 times a power of ten). */
function niceMax(value) {
  if (!(value > 0)) return 4;
  const quarter = value / 4;
  const magnitude = 10 ** Math.floor(Math.log10(quarter));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * magnitude >= quarter);
  return 4 * step * magnitude;
}

function label(value, unit) {
  const rounded = Math.abs(value) >= 100 || Number.isInteger(value) ? Math.round(value) : Number(value.toFixed(1));
  return rounded.toLocaleString("en-US") + (unit ? " " + unit : "");
}

function timeLabel(iso, interval) {
  const text = iso.replace("T", " ").replace("Z", "");
  return interval === "day" ? text.slice(5, 10) : text.slice(11, 16);
}

/**
 * A chart of series over the same time points: lineChart({id, title, unit, interval, points,
 * series: [{name, values}]}). `points` are ISO times; a null value is a gap (no data there).
 */
export function lineChart({id, title, unit, interval, points, series}) {
  const width = WIDTH - PAD.left - PAD.right;
  const height = HEIGHT - PAD.top - PAD.bottom;
  const all = series.flatMap((s) => s.values).filter((v) => v !== null);
  const top = niceMax(all.length ? Math.max(...all) : 0);
  const x = (index) => PAD.left + (points.length > 1 ? (index / (points.length - 1)) * width : width / 2);
  const y = (value) => PAD.top + height - (value / top) * height;

  const grid = [0, 0.25, 0.5, 0.75, 1].map((share) => h("g", {},
    h("line", {class: "grid", x1: PAD.left, x2: PAD.left + width, y1: y(top * share), y2: y(top * share)}),
    h("text", {class: "tick", x: PAD.left - 6, y: y(top * share) + 4, "text-anchor": "end"}, label(top * share))));
  const every = Math.max(1, Math.ceil(points.length / 8));
  const ticks = points.map((point, index) => index % every ? null
    : h("text", {class: "tick", x: x(index), y: HEIGHT - 12, "text-anchor": "middle"}, timeLabel(point, interval)));
  const lines = series.map((s, index) => {
    const segments = [];
    let current = [];
    s.values.forEach((value, at) => {
      if (value === null) {
        if (current.length) segments.push(current);
        current = [];
      } else current.push(`${x(at).toFixed(1)},${y(value).toFixed(1)}`);
    });
    if (current.length) segments.push(current);
    return h("g", {class: `c${index % 6}`}, segments.map((segment) => segment.length === 1
      ? h("circle", {cx: segment[0].split(",")[0], cy: segment[0].split(",")[1], r: 3, class: `series c${index % 6}`})
      : h("polyline", {class: `series c${index % 6}`, points: segment.join(" ")})));
  });

  const titleId = id + "-title";
  const descId = id + "-desc";
  const svg = h("svg", {viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-labelledby": `${titleId} ${descId}`, id: id + "-svg"},
    h("title", {id: titleId}, title), h("desc", {id: descId}, summary(series, points, unit)),
    grid, ticks,
    h("line", {class: "axis", x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: PAD.top + height}),
    h("line", {class: "axis", x1: PAD.left, x2: PAD.left + width, y1: PAD.top + height, y2: PAD.top + height}),
    lines);
  const legend = h("ul", {class: "legend", "aria-hidden": "true"},
    series.map((s, index) => h("li", {}, h("span", {class: `swatch c${index % 6}`}), s.name)));
  const columns = [{label: "Time (UTC)", value: (row) => row.point.replace("T", " ").slice(0, 16)}]
    .concat(series.map((s) => ({label: s.name, numeric: true, value: (row) => (row.values[s.name] === null ? "–" : label(row.values[s.name]))})));
  const rows = points.map((point, at) => ({point, values: Object.fromEntries(series.map((s) => [s.name, s.values[at]]))}));
  return h("figure", {class: "chart", id},
    h("figcaption", {}, title), svg, legend,
    h("details", {}, h("summary", {}, `${title}: the figures as a table`),
      table(`${title}${unit ? " (" + unit + ")" : ""}`, columns, rows, {id: id + "-table"})));
}

/** One sentence per series: what a sighted reader takes from the lines. */
function summary(series, points, unit) {
  if (!points.length || !series.length) return "No data in this range.";
  const range = `from ${points[0].replace("T", " ").slice(0, 16)} to ${points[points.length - 1].replace("T", " ").slice(0, 16)} UTC`;
  return `${points.length} points ${range}. ` + series.map((s) => {
    const known = s.values.map((v, i) => [v, i]).filter(([v]) => v !== null);
    if (!known.length) return `${s.name}: no data.`;
    const [peak, at] = known.reduce((best, item) => (item[0] > best[0] ? item : best));
    const total = known.reduce((sum, [v]) => sum + v, 0);
    return `${s.name}: peak ${label(peak, unit)} at ${points[at].replace("T", " ").slice(0, 16)}, average ${label(total / known.length, unit)}.`;
  }).join(" ");
}
