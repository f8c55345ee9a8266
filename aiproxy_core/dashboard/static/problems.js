// Showing what the Admin API refused, in its own words: the message, each field it names with
// what is wrong there, and the request id to find it in the gateway's log.

import {h, fill} from "./dom.js";

/** The box shown for a refusal (role="alert", so screen readers hear it at once). */
export function problemBox(problem, extra) {
  const details = (problem.details || []).filter((d) => d && (d.field || d.message));
  return h("div", {class: "problem-box", role: "alert", "data-code": problem.code},
    h("p", {class: "message"}, h("strong", {}, problem.status ? `${problem.status}: ` : ""), problem.message),
    details.length ? h("ul", {}, details.map((d) => h("li", {"data-field": d.field || ""},
      d.field ? h("code", {}, d.field) : null, d.field ? ": " : "", d.message || ""))) : null,
    problem.retryAfter ? h("p", {class: "meta"}, `Try again in ${problem.retryAfter} s.`) : null,
    h("p", {class: "meta"}, `code ${problem.code}`, problem.requestId ? `, request id ${problem.requestId}` : ""),
    extra || null);
}

/** The form control a field path points at: the longest prefix of "a.b.c" that names a control. */
function controlFor(form, fieldPath) {
  const parts = String(fieldPath || "").split(".");
  for (let length = parts.length; length > 0; length--) {
    const control = form.elements.namedItem(parts.slice(0, length).join("."));
    if (control instanceof HTMLElement) return control;
  }
  return null;
}

/** Forgets the marks of an earlier refusal. */
export function clearProblems(form, outlet) {
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    const note = document.getElementById(control.id + "-problem");
    if (note) note.remove();
    control.setAttribute("aria-describedby", (control.getAttribute("aria-describedby") || "").replace(control.id + "-problem", "").trim());
  }
  fill(outlet);
}

/** Shows a refusal above a form and marks the fields it names (aria-invalid, message beside it). */
export function showProblem(form, outlet, problem) {
  clearProblems(form, outlet);
  fill(outlet, problemBox(problem));
  let first = null;
  for (const detail of problem.details || []) {
    const control = controlFor(form, detail.field);
    if (!control || control.getAttribute("aria-invalid") === "true") continue;
    const noteId = control.id + "-problem";
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", ((control.getAttribute("aria-describedby") || "") + " " + noteId).trim());
    control.closest(".field").append(h("span", {class: "problem", id: noteId}, detail.message || "refused"));
    first = first || control;
  }
  if (first) {
    first.focus();
    return;
  }
  const box = outlet.querySelector(".problem-box");
  box.setAttribute("tabindex", "-1");
  box.focus();
}
