// Tenants (operator only): the list, a new tenant (its first key shown once), and changes to one.

import {h, fill, table, field} from "./dom.js";
import {when} from "./format.js";
import {apiForm, text, list, json, shownOnce} from "./forms.js";
import {saveSession} from "./session.js";

function tenantFields(tenant = {}) {
  return [
    field("Name", "name", {value: tenant.name || "", required: true}),
    field("Subdomain", "subdomain", {value: tenant.subdomain || "", required: true, hint: "Lower-case letters, digits and '-': the tenant answers at <subdomain>.<base_domain>."}),
    field("Tier", "tier", {value: tenant.tier || "free"}),
    field("Enabled plugins", "enabled_plugins", {value: (tenant.enabled_plugins || []).join(", "), hint: "Comma-separated; empty lets rules use every installed plugin."}),
    field("Required plugins (JSON)", "required_plugins", {type: "textarea", wide: true, value: JSON.stringify(tenant.required_plugins || {}, null, 2),
      hint: "Chain entries run on every rule, by name: {\"analytics\": {\"name\": \"analytics\"}}. Masked secrets sent back as shown are kept."}),
  ];
}

function tenantBody(form) {
  return {
    name: text(form, "name") ?? "",
    subdomain: text(form, "subdomain") ?? "",
    tier: text(form, "tier") ?? "free",
    enabled_plugins: list(form, "enabled_plugins"),
    required_plugins: json(form, "required_plugins", {}),
  };
}

/** Only what changed: a PATCH that leaves required_plugins alone does not re-check them. */
function changed(before, after) {
  return Object.fromEntries(Object.entries(after).filter(([name, value]) =>
    JSON.stringify(value) !== JSON.stringify(before[name] ?? (name === "enabled_plugins" ? null : undefined))));
}

export async function renderTenants(body, ctx) {
  const tenants = (await ctx.api("GET", "/api/v1/tenants")).data;
  const once = h("div", {id: "tenant-once"});
  const editor = h("div", {id: "tenant-editor"});
  const open = (tenant) => {
    ctx.session.current = tenant.id;
    saveSession(ctx.session);
    window.location.hash = "#/rules";
  };
  const edit = (tenant) => {
    fill(editor, apiForm({
      id: "edit-tenant", title: `Change tenant ${tenant.name}`, submit: "Save changes", fields: tenantFields(tenant),
      collect: (form) => changed(tenant, tenantBody(form)),
      send: (patch) => ctx.api("PATCH", `/api/v1/tenants/${encodeURIComponent(tenant.id)}`, {body: patch}),
      done: () => ctx.rerender(),
    }));
    editor.querySelector("input").focus();
  };
  fill(body,
    h("p", {class: "lead"}, `${tenants.length} tenant(s), as GET /api/v1/tenants lists them.`),
    table("Tenants", [
      {label: "Name", value: (t) => t.name},
      {label: "Id", value: (t) => h("code", {}, t.id)},
      {label: "Subdomain", value: (t) => t.subdomain},
      {label: "Tier", value: (t) => t.tier},
      {label: "Enabled plugins", value: (t) => (t.enabled_plugins === null ? "any" : t.enabled_plugins.join(", ") || "none")},
      {label: "Required plugins", value: (t) => Object.keys(t.required_plugins).join(", ") || "none"},
      {label: "Created", value: (t) => when(t.created_at)},
      {label: "Actions", value: (t) => h("div", {class: "actions"},
        h("button", {type: "button", class: "secondary", onclick: () => open(t), "aria-label": `Open ${t.name}`}, "Open"),
        h("button", {type: "button", class: "secondary", onclick: () => edit(t), "aria-label": `Change ${t.name}`}, "Change"))},
    ], tenants, {id: "tenants-table", empty: "No tenants yet."}),
    editor, once,
    apiForm({
      id: "new-tenant", title: "New tenant", submit: "Create tenant", fields: tenantFields(),
      collect: tenantBody,
      send: (tenant) => ctx.api("POST", "/api/v1/tenants", {body: tenant}),
      done: async (made) => {
        ctx.session.current = made.id;
        saveSession(ctx.session);
        await ctx.rerender();
        shownOnce(document.getElementById("tenant-once"), `The first key of tenant ${made.name} (${made.id})`, made.api_key);
      },
    }));
}
