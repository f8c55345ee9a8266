// Each rule's targets with their health as every gateway process shares it (circuit, requests and
// failures in the current window, error rate, average latency): GET .../rules/{id}/targets.

import {h, fill, table} from "./dom.js";
import {count, ms, percent} from "./format.js";

export async function renderHealth(body, ctx) {
  const rules = (await ctx.api("GET", ctx.tenantPath("/rules"))).data;
  const only = ctx.params.get("rule");
  const shown = only ? rules.filter((r) => r.id === only) : rules;
  if (!shown.length) {
    fill(body, h("p", {}, "No rules yet."));
    return;
  }
  const sections = await Promise.all(shown.map(async (rule) => {
    const health = await ctx.api("GET", ctx.tenantPath(`/rules/${encodeURIComponent(rule.id)}/targets`));
    return h("section", {"aria-labelledby": `health-${rule.id}`},
      h("h2", {id: `health-${rule.id}`}, "Rule ", h("code", {}, rule.path)),
      h("p", {class: "lead"}, `Strategy: ${health.strategy}`),
      table(`Targets of ${rule.path}`, [
        {label: "Target", value: (t) => t.name || `#${t.index}`},
        {label: "URL", value: (t) => h("code", {}, t.url)},
        {label: "Circuit", value: (t) => h("span", {class: `state-${t.circuit}`}, t.circuit.replace("_", " "))},
        {label: "Requests", numeric: true, value: (t) => count(t.requests)},
        {label: "Failures", numeric: true, value: (t) => count(t.failures)},
        {label: "Error rate", numeric: true, value: (t) => percent(t.error_rate)},
        {label: "Average latency", numeric: true, value: (t) => ms(t.latency_ms)},
      ], health.data, {id: `health-table-${rule.id}`}));
  }));
  fill(body, only ? h("p", {}, h("a", {href: "#/health"}, "All rules")) : null, sections);
}
