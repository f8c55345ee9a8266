// The analytics plugin's figures (GET .../analytics): requests and latency percentiles over time,
// by consumer, model, rule, status or country, as charts with their tables.

import {h, fill, table, field} from "./dom.js";
import {count, ms} from "./format.js";
import {lineChart} from "./charts.js";

const RANGES = [["minute", "Last hour, per minute"], ["hour", "Last 24 hours, per hour"], ["day", "Last 30 days, per day"]];
const GROUPS = [["", "nothing (all requests)"], ["consumer", "consumer"], ["model", "model"], ["rule", "rule"], ["status", "status class"], ["country", "country"]];
const STEP = {minute: 60_000, hour: 3_600_000, day: 86_400_000};
/** Lines per chart: more than this many groups is unreadable; the table lists them all. */
const MOST_LINES = 5;

function iso(milliseconds) {
  return new Date(milliseconds).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Every bucket start of the answer's range, so empty buckets show as 0 (or a gap), not nothing. */
function bucketStarts(answer) {
  const points = [];
  for (let at = Date.parse(answer.from); at < Date.parse(answer.to); at += STEP[answer.interval]) points.push(iso(at));
  return points;
}

/** A group's name on the page: consumers by their name (the API groups by id). */
function groupName(group, groupBy, names) {
  if (!groupBy) return "All requests";
  const value = group.key[groupBy];
  if (value === null) return `(no ${groupBy})`;
  return names.has(value) ? `${names.get(value)} (${value})` : String(value);
}

function valuesAt(points, group, read) {
  const byStart = new Map(group.series.map((bucket) => [bucket.start, bucket]));
  return points.map((point) => (byStart.has(point) ? read(byStart.get(point)) : null));
}

export async function renderAnalytics(body, ctx) {
  const interval = ctx.params.get("interval") || "hour";
  const groupBy = ctx.params.get("group_by") || "";
  const [answer, names] = await Promise.all([
    ctx.api("GET", ctx.tenantPath("/analytics"), {query: {interval, group_by: groupBy}}),
    groupBy === "consumer" ? ctx.api("GET", ctx.tenantPath("/consumers")).then((a) => new Map(a.data.map((c) => [c.id, c.name]))) : new Map(),
  ]);
  const points = bucketStarts(answer);
  const groups = answer.groups;
  const drawn = groups.slice(0, MOST_LINES);
  const per = interval;
  const requests = lineChart({
    id: "chart-requests", title: `Requests per ${per}`, unit: "requests", interval, points,
    series: drawn.map((g) => ({name: groupName(g, groupBy, names), values: valuesAt(points, g, (b) => b.requests).map((v) => v ?? 0)})),
  });
  const latency = groupBy
    ? lineChart({id: "chart-latency", title: `p95 latency per ${per}, by ${groupBy}`, unit: "ms", interval, points,
      series: drawn.map((g) => ({name: groupName(g, groupBy, names), values: valuesAt(points, g, (b) => b.latency_ms.p95)}))})
    : lineChart({id: "chart-latency", title: `Latency percentiles per ${per}`, unit: "ms", interval, points,
      series: ["p50", "p95", "p99"].map((q) => ({name: q, values: groups.length ? valuesAt(points, groups[0], (b) => b.latency_ms[q]) : points.map(() => null)}))});
  const total = groups.reduce((sum, g) => sum + g.requests, 0);
  const controls = h("form", {class: "toolbar", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    window.location.hash = `#/analytics?interval=${data.get("interval")}&group_by=${data.get("group_by")}`;
  }}, field("Range", "interval", {options: RANGES, value: interval}), field("Group by", "group_by", {options: GROUPS, value: groupBy}),
  h("button", {type: "submit"}, "Show"));
  fill(body, controls,
    h("p", {class: "lead"}, "From ", answer.from.replace("T", " "), " to ", answer.to.replace("T", " "), ": ",
      h("strong", {"data-figure": "analytics-requests"}, count(total)), " requests",
      groups.length > MOST_LINES ? ` (charts show the ${MOST_LINES} busiest of ${groups.length} groups)` : "", "."),
    requests, latency,
    table(`Totals by ${groupBy || "range"}`, [
      {label: groupBy || "Group", value: (g) => groupName(g, groupBy, names)},
      {label: "Requests", numeric: true, value: (g) => count(g.requests)},
      {label: "Errors", numeric: true, value: (g) => count(g.errors)},
      {label: "Input tokens", numeric: true, value: (g) => count(g.input_tokens)},
      {label: "Output tokens", numeric: true, value: (g) => count(g.output_tokens)},
      {label: "Cost (USD)", numeric: true, value: (g) => g.cost.toFixed(6)},
      {label: "p50", numeric: true, value: (g) => ms(g.latency_ms.p50)},
      {label: "p95", numeric: true, value: (g) => ms(g.latency_ms.p95)},
      {label: "p99", numeric: true, value: (g) => ms(g.latency_ms.p99)},
      {label: "TTFT p50", numeric: true, value: (g) => ms(g.ttft_ms.p50)},
    ], groups, {id: "analytics-table", empty: "No requests in this range."}));
}
