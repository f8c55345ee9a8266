// A tenant's forwarding rules and their plugin chains: the list, a new rule, and a rule changed
// as JSON (what GET answers, masked secrets included: sent back as shown, the API keeps them).

import {h, fill, table, field} from "./dom.js";
import {apiForm, text, list, json, checked} from "./forms.js";

/** The fields a PUT takes: the rule as GET showed it, without what the gateway sets itself. */
const EDITABLE = ["path", "target", "targets", "routing", "client_format", "methods", "strip_path", "plugin_chain", "upstream_headers", "timeout"];

function chain(entries) {
  if (!entries.length) return "none";
  return h("ol", {class: "chain"}, entries.map((e) => h("li", {},
    h("code", {}, e.name), ` priority ${e.priority}`,
    e.stage ? `, ${[].concat(e.stage).join(" + ")}` : ", every stage",
    e.enabled ? "" : " (off)", e.on_error === "open" ? ", skipped on error" : "")));
}

function targets(rule) {
  if (rule.target) return h("code", {}, rule.target);
  return h("ul", {}, (rule.targets || []).map((t, i) => h("li", {}, h("code", {}, t.url), t.name ? ` (${t.name})` : ` (#${i})`)));
}

export async function renderRules(body, ctx) {
  const rules = (await ctx.api("GET", ctx.tenantPath("/rules"))).data;
  const editor = h("div", {id: "rule-editor"});
  const edit = (rule) => {
    const editable = Object.fromEntries(EDITABLE.filter((name) => rule[name] !== undefined).map((name) => [name, rule[name]]));
    fill(editor, apiForm({
      id: "edit-rule", title: `Change rule ${rule.path}`, submit: "Save rule",
      fields: [field("The rule (JSON)", "rule", {type: "textarea", wide: true, rows: 16, value: JSON.stringify(editable, null, 2),
        hint: "Replaced whole (PUT). Secrets show masked; leave a mask as it is to keep that secret."})],
      collect: (form) => json(form, "rule", {}),
      send: (rule_) => ctx.api("PUT", ctx.tenantPath(`/rules/${encodeURIComponent(rule.id)}`), {body: rule_}),
      done: () => ctx.rerender(),
    }));
    editor.querySelector("textarea").focus();
  };
  const remove = async (rule) => {
    if (!window.confirm(`Delete rule ${rule.path}? Its requests will get 404 at once.`)) return;
    await ctx.api("DELETE", ctx.tenantPath(`/rules/${encodeURIComponent(rule.id)}`));
    await ctx.rerender();
  };
  fill(body,
    table("Rules", [
      {label: "Path", value: (r) => h("code", {}, r.path)},
      {label: "Methods", value: (r) => (r.methods ? r.methods.join(", ") : "all")},
      {label: "Upstream", value: targets},
      {label: "Strip path", value: (r) => (r.strip_path ? "yes" : "no")},
      {label: "Plugin chain", value: (r) => chain(r.plugin_chain)},
      {label: "Id", value: (r) => h("code", {}, r.id)},
      {label: "Actions", value: (r) => h("div", {class: "actions"},
        h("button", {type: "button", class: "secondary", onclick: () => edit(r), "aria-label": `Change rule ${r.path}`}, "Change"),
        h("a", {href: `#/health?rule=${encodeURIComponent(r.id)}`}, "Targets' health"),
        h("button", {type: "button", class: "danger", onclick: () => remove(r), "aria-label": `Delete rule ${r.path}`}, "Delete"))},
    ], rules, {id: "rules-table", empty: "No rules yet: nothing is forwarded."}),
    editor,
    apiForm({
      id: "new-rule", title: "New rule", submit: "Create rule",
      fields: [
        field("Path", "path", {required: true, placeholder: "/v1", hint: "Requests under this path (longest prefix wins)."}),
        field("Target URL", "target", {required: true, hint: "The upstream's http or https URL. Several targets with routing: change the rule as JSON after creating it."}),
        field("Methods", "methods", {placeholder: "POST, GET", hint: "Comma-separated; empty for every method."}),
        field("Strip the path", "strip_path", {type: "checkbox", hint: "Cut the matched path before appending the rest to the target's."}),
        field("Plugin chain (JSON)", "plugin_chain", {type: "textarea", wide: true, value: "[]",
          hint: "[{\"name\": \"rate_limiter\", \"settings\": {\"limit\": 100, \"window\": \"1m\"}}]"}),
      ],
      collect: (form) => ({
        path: text(form, "path") ?? "", target: text(form, "target") ?? null, methods: list(form, "methods"),
        strip_path: checked(form, "strip_path"), plugin_chain: json(form, "plugin_chain", []),
      }),
      send: (rule) => ctx.api("POST", ctx.tenantPath("/rules"), {body: rule}),
      done: () => ctx.rerender(),
    }));
}
