// Who is signed in. Kept in sessionStorage: it lives as long as this tab, is never sent by the
// browser on its own (unlike a cookie), and never appears in a URL.

import {call} from "./api.js";

const STORAGE_KEY = "aiproxy.dashboard.session";

/**
 * {token, tenantId, current, tenantKeys}: tenantId is set when signed in with a tenant key (the
 * session is scoped to it); current is the tenant an operator is looking at; tenantKeys holds
 * tenants' keys an operator typed in when the gateway has no admin token (the Admin API then
 * asks for the tenant's own key inside a tenant).
 */
export function loadSession() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    return stored && typeof stored === "object" ? {tenantKeys: {}, ...stored} : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function signOut() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** The tenant whose pages are shown: the key's tenant, or the one an operator picked. */
export function currentTenant(session) {
  return session.tenantId || session.current || null;
}

export function isOperator(session) {
  return !session.tenantId;
}

/** Calls the Admin API for the session: inside a tenant with that tenant's key when one was given. */
export function api(session, method, path, options) {
  const match = /^\/api\/v1\/tenants\/([^/]+)\//.exec(path);
  const token = (match && session.tenantKeys[decodeURIComponent(match[1])]) || session.token;
  return call(token, method, path, options);
}

/**
 * Signs in: a tenant key with its tenant id is checked against that tenant (the Admin API answers
 * 401 for a key of another tenant); anything else is checked as the admin token by listing
 * tenants. Throws the API's ApiProblem, which the sign-in form shows.
 */
export async function signIn(token, tenantId) {
  const session = {token, tenantId: tenantId || null, current: null, tenantKeys: {}};
  if (tenantId) {
    await call(token, "GET", `/api/v1/tenants/${encodeURIComponent(tenantId)}/consumers`);
  } else {
    const tenants = await call(token, "GET", "/api/v1/tenants");
    session.current = tenants.data.length ? tenants.data[0].id : null;
  }
  saveSession(session);
  return session;
}
