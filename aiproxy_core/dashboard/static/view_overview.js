// The overview: a handful of counts, each read from the Admin API endpoint that owns it. A count
// the API refuses shows "–" and the API's reason, and the others still show.

import {h, fill} from "./dom.js";
import {count, ms, addDecimals, monthToDate} from "./format.js";
import {isOperator} from "./session.js";

function card(name, label, value, note) {
  return h("section", {class: "card", "aria-labelledby": `card-${name}`},
    h("h3", {id: `card-${name}`}, label),
    h("p", {class: "figure", "data-figure": name}, value),
    note ? h("p", {class: "note"}, note) : null);
}

/** A card whose figure comes from a call that may be refused. */
async function figureCard(name, label, read, note) {
  try {
    const [value, extra] = [].concat(await read());
    return card(name, label, value, extra || note);
  } catch (problem) {
    return card(name, label, "–", problem.message);
  }
}

/** The billing queue's backlog: billing's own reading in the Prometheus text of GET /metrics. */
export function eventsWaiting(metricsText) {
  let total = null;
  for (const line of String(metricsText).split("\n")) {
    const match = /^aiproxy_billing_events_waiting(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match) total = (total || 0) + Number(match[1]);
  }
  return total;
}

export async function renderOverview(body, ctx) {
  const sections = [];
  if (isOperator(ctx.session)) {
    const cards = [figureCard("tenants", "Tenants", async () => count((await ctx.api("GET", "/api/v1/tenants")).data.length))];
    if (ctx.plugins.has("billing")) {
      cards.push(figureCard("billing-waiting", "Billing events waiting", async () => {
        const waiting = eventsWaiting(await ctx.api("GET", "/metrics", {accept: "text/plain"}));
        return waiting === null ? ["–", "billing reported no backlog in /metrics"] : [count(waiting), "queued for the ledger worker; near 0 while it keeps up"];
      }));
    }
    sections.push(h("h2", {}, "Gateway"), h("div", {class: "cards"}, await Promise.all(cards)),
      h("p", {class: "note"}, "Plugins installed: ", ctx.plugins.size ? [...ctx.plugins].sort().join(", ") : "none"));
  }
  if (ctx.tenantId) {
    const cards = [
      figureCard("rules", "Rules", async () => count((await ctx.api("GET", ctx.tenantPath("/rules"))).data.length)),
      figureCard("consumers", "Consumers", async () => count((await ctx.api("GET", ctx.tenantPath("/consumers"))).data.length)),
      figureCard("tenant-keys", "Live tenant keys", async () => {
        const keys = (await ctx.api("GET", ctx.tenantPath("/keys"))).data;
        const now = Date.now();
        return count(keys.filter((k) => !k.revoked_at && !(k.expires_at && Date.parse(k.expires_at) <= now)).length);
      }),
    ];
    if (ctx.plugins.has("analytics")) {
      cards.push(figureCard("requests-24h", "Requests, last 24 h", async () => {
        const groups = (await ctx.api("GET", ctx.tenantPath("/analytics"), {query: {interval: "hour"}})).groups;
        const all = groups[0];
        return [count(all ? all.requests : 0), all ? `${count(all.errors)} errors, p95 ${ms(all.latency_ms.p95)}` : "no requests"];
      }));
    }
    if (ctx.plugins.has("billing")) {
      cards.push(figureCard("plans", "Plans", async () => count((await ctx.api("GET", ctx.tenantPath("/plans"))).data.length)));
      cards.push(figureCard("billed-month", "Billed requests, this month", async () => {
        const consumers = (await ctx.api("GET", ctx.tenantPath("/consumers"))).data;
        const range = monthToDate();
        const reports = await Promise.all(consumers.map((c) =>
          ctx.api("GET", ctx.tenantPath(`/consumers/${encodeURIComponent(c.id)}/usage`), {query: {from: range.from, to: range.to}})));
        const requests = reports.reduce((sum, r) => sum + r.requests, 0);
        return [count(requests), `${addDecimals(reports.map((r) => r.cost_exact))} ${(reports.find((r) => r.currency) || {currency: "USD"}).currency} over ${count(consumers.length)} consumers`];
      }));
    }
    sections.push(h("h2", {}, `Tenant ${ctx.tenantId}`), h("div", {class: "cards"}, await Promise.all(cards)));
  } else if (isOperator(ctx.session)) {
    sections.push(h("p", {}, "No tenant yet: create one under ", h("a", {href: "#/tenants"}, "Tenants"), "."));
  }
  fill(body, sections);
}
