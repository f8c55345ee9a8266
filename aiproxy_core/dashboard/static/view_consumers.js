// A tenant's consumers (who it sells its API to): the list, a new one, and changes to one.

import {h, fill, table, field} from "./dom.js";
import {when} from "./format.js";
import {apiForm, text, json} from "./forms.js";

async function planOptions(ctx) {
  if (!ctx.plugins.has("billing")) return null;
  try {
    const plans = (await ctx.api("GET", ctx.tenantPath("/plans"))).data;
    return [["", "(no plan)"], ...plans.map((p) => [p.id, `${p.name} (${p.type})`])];
  } catch {
    return null;  // the plan stays a text field
  }
}

function consumerFields(consumer, plans) {
  return [
    field("Name", "name", {value: consumer.name || "", required: true}),
    plans ? field("Plan", "plan_id", {options: plans, value: consumer.plan_id || ""})
      : field("Plan id", "plan_id", {value: consumer.plan_id || "", hint: "The billing plugin's plan; empty for none."}),
    field("Metadata (JSON)", "metadata", {type: "textarea", wide: true, rows: 3, value: JSON.stringify(consumer.metadata || {})}),
  ];
}

function consumerBody(form) {
  return {name: text(form, "name") ?? "", plan_id: text(form, "plan_id") ?? null, metadata: json(form, "metadata", {})};
}

export async function renderConsumers(body, ctx) {
  const [consumers, plans] = await Promise.all([ctx.api("GET", ctx.tenantPath("/consumers")).then((a) => a.data), planOptions(ctx)]);
  const editor = h("div", {id: "consumer-editor"});
  const path = (c) => ctx.tenantPath(`/consumers/${encodeURIComponent(c.id)}`);
  const edit = (consumer) => {
    fill(editor, apiForm({
      id: "edit-consumer", title: `Change consumer ${consumer.name}`, submit: "Save consumer", fields: consumerFields(consumer, plans),
      collect: consumerBody,
      send: (patch) => ctx.api("PATCH", path(consumer), {body: patch}),
      done: () => ctx.rerender(),
    }));
    editor.querySelector("input").focus();
  };
  const remove = async (consumer) => {
    if (!window.confirm(`Delete consumer ${consumer.name}? Its keys stop working.`)) return;
    await ctx.api("DELETE", path(consumer));
    await ctx.rerender();
  };
  fill(body,
    h("p", {class: "lead"}, `${consumers.length} consumer(s).`),
    table("Consumers", [
      {label: "Name", value: (c) => c.name},
      {label: "Id", value: (c) => h("code", {}, c.id)},
      {label: "Plan", value: (c) => (c.plan_id ? h("code", {}, c.plan_id) : "none")},
      {label: "Metadata", value: (c) => (Object.keys(c.metadata).length ? h("code", {}, JSON.stringify(c.metadata)) : "–")},
      {label: "Created", value: (c) => when(c.created_at)},
      {label: "Actions", value: (c) => h("div", {class: "actions"},
        h("a", {href: `#/keys?owner=${encodeURIComponent(c.id)}`}, "Keys"),
        h("button", {type: "button", class: "secondary", onclick: () => edit(c), "aria-label": `Change ${c.name}`}, "Change"),
        h("button", {type: "button", class: "danger", onclick: () => remove(c), "aria-label": `Delete ${c.name}`}, "Delete"))},
    ], consumers, {id: "consumers-table", empty: "No consumers yet."}),
    editor,
    apiForm({
      id: "new-consumer", title: "New consumer", submit: "Create consumer", fields: consumerFields({}, plans),
      collect: consumerBody,
      send: (consumer) => ctx.api("POST", ctx.tenantPath("/consumers"), {body: consumer}),
      done: () => ctx.rerender(),
    }));
}
