// Signing in: the admin token (every tenant), or a tenant key with its tenant id (that tenant only).

import {h, fill} from "./dom.js";
import {ApiProblem} from "./api.js";
import {problemBox} from "./problems.js";
import {signIn} from "./session.js";

export function renderSignIn(main, signedIn) {
  document.title = "Sign in · aiproxy dashboard";
  const outlet = h("div", {id: "signin-problem"});
  const token = h("input", {id: "signin-token", name: "token", type: "password", autocomplete: "off", "aria-describedby": "signin-token-hint"});
  const tenant = h("input", {id: "signin-tenant", name: "tenant", type: "text", autocomplete: "off", "aria-describedby": "signin-tenant-hint"});
  const button = h("button", {type: "submit"}, "Sign in");
  const form = h("form", {novalidate: true},
    h("div", {class: "field"}, h("label", {for: "signin-token"}, "Admin token or tenant key"), token,
      h("span", {class: "hint", id: "signin-token-hint"},
        "server.admin_token for every tenant, or a tenant key (aip_…). Leave it empty on a gateway without an admin token.")),
    h("div", {class: "field"}, h("label", {for: "signin-tenant"}, "Tenant id (with a tenant key)"), tenant,
      h("span", {class: "hint", id: "signin-tenant-hint"}, "tnt_…: the id the Admin API answered when the tenant was made.")),
    h("div", {class: "actions"}, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(outlet);
    const tokenValue = token.value.trim();
    const tenantValue = tenant.value.trim();
    if (tokenValue.startsWith("aip_") && !tenantValue) {
      // Asked before calling: a tenant key tried as the admin token would count as a failed sign-in.
      fill(outlet, problemBox(new ApiProblem(0, {code: "tenant_id_needed",
        message: "a tenant key (aip_…) signs in to its tenant: give the tenant id too",
        details: [{field: "tenant", message: "needed with a tenant key"}]})));
      tenant.focus();
      return;
    }
    button.disabled = true;
    try {
      await signIn(tokenValue, tenantValue);
      token.value = "";
      signedIn();
    } catch (problem) {
      if (!(problem instanceof ApiProblem)) throw problem;
      fill(outlet, problemBox(problem));
      outlet.firstChild.setAttribute("tabindex", "-1");
      outlet.firstChild.focus();
    } finally {
      button.disabled = false;
    }
  });
  fill(main, h("h1", {}, "Sign in"),
    h("section", {class: "panel signin", "aria-labelledby": "signin-lead"},
      h("p", {id: "signin-lead", class: "lead"},
        "The dashboard calls the Admin API from this tab with what you give here. It is kept in this tab's session storage only, until you sign out or close the tab."),
      outlet, form));
  token.focus();
}
