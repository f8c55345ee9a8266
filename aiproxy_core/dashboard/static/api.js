// The only way the dashboard talks to the gateway: the Admin API, same origin, with the
// signed-in token as a Bearer header. No cookies are sent (credentials: "omit"), so nothing the
// browser holds on its own can make a call for the user.

/** An Admin API refusal, as its JSON error envelope says it. */
export class ApiProblem extends Error {
  constructor(status, error, retryAfter) {
    super(error.message || `the Admin API answered ${status}`);
    this.status = status;
    this.code = error.code || "http_" + status;
    this.requestId = error.request_id || null;
    this.details = Array.isArray(error.details) ? error.details : [];
    this.retryAfter = retryAfter;
  }
}

/**
 * One call: call(token, "POST", "/api/v1/tenants", {body, query}). Answers the parsed JSON (or
 * the text of a non-JSON answer such as /metrics, or null for 204); throws an ApiProblem.
 */
export async function call(token, method, path, {body, query, accept = "application/json"} = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = {Accept: accept};
  if (token) headers.Authorization = "Bearer " + token;
  const init = {method, headers, credentials: "omit", cache: "no-store", redirect: "error"};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (failure) {
    throw new ApiProblem(0, {code: "network", message: "the gateway could not be reached: " + failure.message});
  }
  if (response.status === 204) return null;
  const text = await response.text();
  const isJson = (response.headers.get("content-type") || "").startsWith("application/json");
  let data = text;
  if (isJson) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!response.ok) {
    const error = data && typeof data === "object" && data.error ? data.error : {message: `the Admin API answered ${response.status}`};
    throw new ApiProblem(response.status, error, response.headers.get("retry-after"));
  }
  return data;
}
