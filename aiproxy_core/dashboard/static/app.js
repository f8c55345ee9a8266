// The dashboard's shell: sign-in, the header (who is signed in, which tenant), the section
// links, and which view the address's #fragment names. Views live in view_*.js.

import {h, fill, announce} from "./dom.js";
import {ApiProblem} from "./api.js";
import {problemBox} from "./problems.js";
import {loadSession, saveSession, signOut, currentTenant, isOperator, api} from "./session.js";
import {renderSignIn} from "./view_signin.js";
import {renderOverview} from "./view_overview.js";
import {renderTenants} from "./view_tenants.js";
import {renderRules} from "./view_rules.js";
import {renderConsumers} from "./view_consumers.js";
import {renderKeys} from "./view_keys.js";
import {renderPlans, renderUsage} from "./view_billing.js";
import {renderAnalytics} from "./view_analytics.js";
import {renderHealth} from "./view_health.js";

/** The sections: [hash, link text, renderer, shown when]. */
const VIEWS = [
  ["#/", "Overview", renderOverview, () => true],
  ["#/tenants", "Tenants", renderTenants, (ctx) => isOperator(ctx.session)],
  ["#/rules", "Rules", renderRules, (ctx) => ctx.tenantId],
  ["#/health", "Targets' health", renderHealth, (ctx) => ctx.tenantId],
  ["#/consumers", "Consumers", renderConsumers, (ctx) => ctx.tenantId],
  ["#/keys", "Keys", renderKeys, (ctx) => ctx.tenantId],
  ["#/plans", "Plans", renderPlans, (ctx) => ctx.tenantId && ctx.plugins.has("billing")],
  ["#/usage", "Usage and invoices", renderUsage, (ctx) => ctx.tenantId && ctx.plugins.has("billing")],
  ["#/analytics", "Analytics", renderAnalytics, (ctx) => ctx.tenantId && ctx.plugins.has("analytics")],
];

const main = document.getElementById("main");
let plugins = null;

async function installedPlugins(session) {
  if (plugins === null) {
    try {
      const answer = await api(session, "GET", "/api/v1/plugins");
      plugins = new Set(answer.data.filter((p) => !p.error).map((p) => p.name));
    } catch {
      plugins = new Set();
    }
  }
  return plugins;
}

function context(session) {
  const [path, query = ""] = (window.location.hash || "#/").split("?");
  return {
    session,
    path,
    params: new URLSearchParams(query),
    tenantId: currentTenant(session),
    plugins,
    api: (method, apiPath, options) => api(session, method, apiPath, options),
    tenantPath: (suffix = "") => `/api/v1/tenants/${encodeURIComponent(currentTenant(session))}${suffix}`,
    rerender: route,
  };
}

async function header(ctx) {
  const who = document.getElementById("who");
  const out = h("button", {type: "button", class: "secondary", onclick: () => {
    signOut();
    window.location.hash = "#/";
    route();
  }}, "Sign out");
  let picker = null;
  if (isOperator(ctx.session)) {
    let tenants = [];
    try {
      tenants = (await ctx.api("GET", "/api/v1/tenants")).data;
    } catch { /* the view shows the refusal */ }
    picker = h("span", {},
      h("label", {for: "tenant-picker"}, "Tenant "),
      h("select", {id: "tenant-picker", onchange: (event) => {
        ctx.session.current = event.target.value || null;
        saveSession(ctx.session);
        route();
      }}, h("option", {value: ""}, "(none)"),
      tenants.map((t) => h("option", {value: t.id, selected: t.id === ctx.tenantId}, `${t.name} (${t.subdomain})`))));
  }
  fill(who, h("span", {id: "signed-in-as"}, isOperator(ctx.session) ? "Operator" : `Tenant ${ctx.session.tenantId}`), picker, out);
  who.hidden = false;
}

function navigation(ctx) {
  const nav = document.getElementById("nav");
  fill(nav, h("ul", {}, VIEWS.filter(([, , , shown]) => shown(ctx)).map(([hash, text]) =>
    h("li", {}, h("a", {href: hash, "aria-current": hash === ctx.path ? "page" : undefined}, text)))));
  nav.hidden = false;
}

/** A refusal while loading a view; without an admin token, an operator may give the tenant's key here. */
function viewProblem(ctx, problem) {
  let extra = null;
  if (problem.code === "missing_api_key" && isOperator(ctx.session) && ctx.tenantId) {
    const input = h("input", {id: "tenant-key-input", type: "password", autocomplete: "off"});
    extra = h("form", {class: "toolbar", onsubmit: (event) => {
      event.preventDefault();
      ctx.session.tenantKeys[ctx.tenantId] = input.value.trim();
      saveSession(ctx.session);
      route();
    }}, h("div", {class: "field"}, h("label", {for: "tenant-key-input"}, `A key of tenant ${ctx.tenantId}`), input),
    h("button", {type: "submit"}, "Use this key"));
  }
  return problemBox(problem, extra);
}

let generation = 0;

async function route() {
  // A newer navigation (a click while a view loads) wins: an older one stops at its next step.
  const mine = ++generation;
  const session = loadSession();
  if (!session) {
    document.getElementById("who").hidden = true;
    document.getElementById("nav").hidden = true;
    renderSignIn(main, () => route());
    return;
  }
  await installedPlugins(session);
  if (mine !== generation) return;
  const ctx = context(session);
  const view = VIEWS.find(([hash, , , shown]) => hash === ctx.path && shown(ctx)) || VIEWS[0];
  ctx.path = view[0];
  await header(ctx);
  if (mine !== generation) return;
  navigation(ctx);
  document.title = `${view[1]} · aiproxy dashboard`;
  const heading = h("h1", {tabindex: "-1"}, view[1]);
  const body = h("div", {class: "view", "aria-busy": "true"}, h("p", {}, "Loading…"));
  fill(main, heading, body);
  try {
    await view[2](body, ctx);
  } catch (problem) {
    if (!(problem instanceof ApiProblem)) throw problem;
    fill(body, viewProblem(ctx, problem));
  }
  body.removeAttribute("aria-busy");
  if (mine !== generation) return;
  heading.focus();
  announce(`${view[1]} loaded`);
}

// A button's call refused by the API (revoke, rotate, delete): shown at the top of the view.
window.addEventListener("unhandledrejection", (event) => {
  if (!(event.reason instanceof ApiProblem)) return;
  event.preventDefault();
  const box = problemBox(event.reason);
  box.setAttribute("tabindex", "-1");
  const view = main.querySelector(".view") || main;
  view.prepend(box);
  box.focus();
});

window.addEventListener("hashchange", route);
route();
