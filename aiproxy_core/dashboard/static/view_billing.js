// The billing plugin's pages: plans, each consumer's usage over a range, and a month's invoice.
// Money is what the API answers (decimal strings), never recomputed here.

import {h, fill, table, field} from "./dom.js";
import {count, money, addDecimals, monthToDate} from "./format.js";
import {apiForm, text} from "./forms.js";

function planTerms(plan) {
  const skip = new Set(["id", "tenant_id", "name", "type", "currency", "created_at", "updated_at"]);
  const terms = Object.entries(plan).filter(([name, value]) => !skip.has(name) && value !== null && value !== undefined);
  return terms.length ? h("code", {}, JSON.stringify(Object.fromEntries(terms))) : "–";
}

export async function renderPlans(body, ctx) {
  const plans = (await ctx.api("GET", ctx.tenantPath("/plans"))).data;
  fill(body,
    h("p", {class: "lead"}, `${plans.length} plan(s). Consumers are put on a plan under Consumers.`),
    table("Plans", [
      {label: "Name", value: (p) => p.name},
      {label: "Type", value: (p) => p.type},
      {label: "Currency", value: (p) => p.currency || "–"},
      {label: "Terms", value: planTerms},
      {label: "Id", value: (p) => h("code", {}, p.id)},
    ], plans, {id: "plans-table", empty: "No plans yet."}));
}

function invoiceView(invoice) {
  return h("section", {class: "panel", "aria-labelledby": "invoice-title", id: "invoice"},
    h("h2", {id: "invoice-title"}, `Invoice ${invoice.period} of ${invoice.consumer_id} (${invoice.status})`),
    table(`Invoice lines, ${invoice.period}`, [
      {label: "Description", value: (l) => l.description},
      {label: "Quantity", numeric: true, value: (l) => String(l.quantity)},
      {label: "Unit price", numeric: true, value: (l) => l.unit_price ?? "–"},
      {label: "Amount", numeric: true, value: (l) => money(l.amount, invoice.currency)},
    ], invoice.lines, {id: "invoice-lines", empty: "No lines: nothing billed this month."}),
    h("p", {}, `Requests ${count(invoice.requests)}; subtotal ${money(invoice.subtotal, invoice.currency)}; `,
      h("strong", {}, `total ${money(invoice.total, invoice.currency)}`)));
}

export async function renderUsage(body, ctx) {
  const consumers = (await ctx.api("GET", ctx.tenantPath("/consumers"))).data;
  const range = monthToDate();
  const from = ctx.params.get("from") || range.from;
  const to = ctx.params.get("to") || range.to;
  const reports = await Promise.all(consumers.map(async (c) => ({consumer: c,
    report: await ctx.api("GET", ctx.tenantPath(`/consumers/${encodeURIComponent(c.id)}/usage`), {query: {from, to}})})));
  const invoiceOutlet = h("div", {id: "invoice-outlet"});
  const rangeForm = h("form", {class: "toolbar", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    window.location.hash = `#/usage?from=${data.get("from")}&to=${data.get("to")}`;
  }}, field("From", "from", {type: "date", value: from}), field("To", "to", {type: "date", value: to}),
  h("button", {type: "submit"}, "Show usage"));
  fill(body, rangeForm,
    table(`Usage from ${from} to ${to} (UTC, inclusive)`, [
      {label: "Consumer", value: (r) => r.consumer.name},
      {label: "Plan", value: (r) => (r.report.plan_id ? h("code", {}, r.report.plan_id) : "none")},
      {label: "Requests", numeric: true, value: (r) => count(r.report.requests)},
      {label: "Input tokens", numeric: true, value: (r) => count(r.report.input_tokens)},
      {label: "Output tokens", numeric: true, value: (r) => count(r.report.output_tokens)},
      {label: "Cost", numeric: true, value: (r) => money(r.report.cost, r.report.currency || "")},
    ], reports, {id: "usage-table", empty: "No consumers yet."}),
    reports.length ? h("p", {id: "usage-total"}, `All consumers: ${count(reports.reduce((s, r) => s + r.report.requests, 0))} requests, `,
      `${addDecimals(reports.map((r) => r.report.cost_exact))} before rounding.`) : null,
    consumers.length ? apiForm({
      id: "invoice-form", title: "Invoice of a month", submit: "Show invoice",
      fields: [
        field("Consumer", "consumer", {options: consumers.map((c) => [c.id, c.name])}),
        field("Month", "period", {type: "month", value: range.month, hint: "YYYY-MM, UTC."}),
      ],
      collect: (form) => ({consumer: text(form, "consumer"), period: text(form, "period") ?? ""}),
      send: ({consumer, period}) => ctx.api("GET", ctx.tenantPath(`/consumers/${encodeURIComponent(consumer)}/invoices/${encodeURIComponent(period)}`)),
      done: (invoice) => fill(invoiceOutlet, invoiceView(invoice)),
    }) : null,
    invoiceOutlet);
}
