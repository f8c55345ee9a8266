// Keys of the tenant or of one consumer: prefixes only (the gateway keeps no more), a new key and
// a rotated key shown once, and revocation.

import {h, fill, table, field} from "./dom.js";
import {when} from "./format.js";
import {apiForm, text, list, shownOnce} from "./forms.js";

function state(key) {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) return "expired";
  if (key.replaced_by) return "replaced";
  return "live";
}

/** A datetime-local value ("2026-12-31T23:59") read as UTC, as the hint says. */
function expiry(form) {
  const value = text(form, "expires_at");
  return value === undefined ? null : (value.length === 16 ? value + ":00Z" : value);
}

export async function renderKeys(body, ctx) {
  const consumers = (await ctx.api("GET", ctx.tenantPath("/consumers"))).data;
  const owner = ctx.params.get("owner") || "";
  const base = owner ? ctx.tenantPath(`/consumers/${encodeURIComponent(owner)}/keys`) : ctx.tenantPath("/keys");
  const keys = (await ctx.api("GET", base)).data;
  const once = h("div", {id: "key-once"});
  const rotate = async (key) => {
    const grace = window.prompt(`Rotate key ${key.prefix}…: seconds the old key keeps working (0 ends it now)`, "0");
    if (grace === null) return;
    const made = await ctx.api("POST", `${base}/${encodeURIComponent(key.id)}/rotate`, {body: {grace_seconds: Number(grace)}});
    await ctx.rerender();
    shownOnce(document.getElementById("key-once"), `The new key replacing ${key.prefix}…`, made.key);
  };
  const revoke = async (key) => {
    if (!window.confirm(`Revoke key ${key.prefix}…? Every gateway process refuses it within a second.`)) return;
    await ctx.api("DELETE", `${base}/${encodeURIComponent(key.id)}`);
    await ctx.rerender();
  };
  const ownerPicker = h("form", {class: "toolbar", onsubmit: (event) => event.preventDefault()},
    h("div", {class: "field"}, h("label", {for: "key-owner"}, "Keys of"),
      h("select", {id: "key-owner", onchange: (event) => {
        window.location.hash = event.target.value ? `#/keys?owner=${encodeURIComponent(event.target.value)}` : "#/keys";
      }}, h("option", {value: ""}, "the tenant itself"),
      consumers.map((c) => h("option", {value: c.id, selected: c.id === owner}, `consumer ${c.name}`)))));
  fill(body, ownerPicker,
    h("p", {class: "lead"}, "Only each key's first characters are shown: the gateway keeps a hash, never the key."),
    once,
    table("Keys", [
      {label: "Prefix", value: (k) => h("code", {}, k.prefix + "…")},
      {label: "Name", value: (k) => k.name || "–"},
      {label: "State", value: (k) => h("span", {class: `state-${state(k)}`}, state(k))},
      {label: "Created", value: (k) => when(k.created_at)},
      {label: "Expires", value: (k) => when(k.expires_at)},
      {label: "Scopes", value: (k) => (k.scopes ? k.scopes.join(", ") : "every rule")},
      {label: "Id", value: (k) => h("code", {}, k.id)},
      {label: "Actions", value: (k) => (state(k) === "revoked" ? "–" : h("div", {class: "actions"},
        h("button", {type: "button", class: "secondary", onclick: () => rotate(k), "aria-label": `Rotate key ${k.prefix}`}, "Rotate"),
        h("button", {type: "button", class: "danger", onclick: () => revoke(k), "aria-label": `Revoke key ${k.prefix}`}, "Revoke")))},
    ], keys, {id: "keys-table", empty: "No keys yet."}),
    apiForm({
      id: "new-key", title: "New key", submit: "Create key",
      fields: [
        field("Name", "name"),
        field("Expires (UTC)", "expires_at", {type: "datetime-local", hint: "Empty: never."}),
        field("Scopes", "scopes", {hint: "Rule ids, comma-separated; empty for every rule."}),
      ],
      collect: (form) => ({name: text(form, "name") ?? null, expires_at: expiry(form), scopes: list(form, "scopes")}),
      send: (key) => ctx.api("POST", base, {body: key}),
      done: async (made) => {
        await ctx.rerender();
        shownOnce(document.getElementById("key-once"), `The new key ${made.prefix}…`, made.key);
      },
    }));
}
