// Forms that send what the user typed to the Admin API as it is: the API's validation decides,
// and its refusal is shown field by field. The page checks only what it must to build the JSON.

import {h, fill, announce} from "./dom.js";
import {ApiProblem} from "./api.js";
import {showProblem, clearProblems} from "./problems.js";

/** A refusal the page makes itself (text that is not JSON), shown like the API's own. */
function inputProblem(field, message) {
  return new ApiProblem(0, {code: "invalid_input", message: `${field}: ${message}`, details: [{field, message}]});
}

/** The trimmed text of a field, or undefined when it is empty. */
export function text(form, name) {
  const value = form.elements.namedItem(name).value.trim();
  return value === "" ? undefined : value;
}

/** A comma-separated list (["a", "b"]), or null when empty. */
export function list(form, name) {
  const value = text(form, name);
  return value === undefined ? null : value.split(",").map((item) => item.trim()).filter(Boolean);
}

/** A JSON field parsed, or `fallback` when empty; text that is not JSON is refused naming the field. */
export function json(form, name, fallback) {
  const value = text(form, name);
  if (value === undefined) return fallback;
  try {
    return JSON.parse(value);
  } catch (failure) {
    throw inputProblem(name, "not valid JSON (" + failure.message + ")");
  }
}

export function checked(form, name) {
  return form.elements.namedItem(name).checked;
}

/**
 * A section with a heading and a form; on submit: body = collect(form), result = await send(body),
 * then done(result). A refusal (the API's or the page's) is shown above the form.
 */
export function apiForm({title, fields, submit, collect, send, done, id}) {
  const outlet = h("div", {class: "form-problems", id: id ? id + "-problems" : undefined});
  const button = h("button", {type: "submit"}, submit);
  const form = h("form", {class: "grid", novalidate: true, id}, fields, h("div", {class: "actions field wide"}, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      clearProblems(form, outlet);
      const result = await send(collect(form));
      announce(title + ": done");
      await done(result, form);
    } catch (problem) {
      if (!(problem instanceof ApiProblem)) throw problem;
      showProblem(form, outlet, problem);
      announce(title + ": refused: " + problem.message);
    } finally {
      button.disabled = false;
    }
  });
  const headingId = (id || "form") + "-title";
  return h("section", {class: "panel", "aria-labelledby": headingId}, h("h2", {id: headingId}, title), outlet, form);
}

/** The one time a key is shown: with a warning that it will not be shown again. */
export function shownOnce(outlet, what, key) {
  const code = h("code", {class: "once-key"}, key);
  const copy = h("button", {type: "button", class: "secondary", onclick: async () => {
    try {
      await navigator.clipboard.writeText(key);
      announce("Copied");
    } catch {
      announce("Copying is not allowed here: select the key and copy it");
    }
  }}, "Copy");
  const box = h("div", {class: "once", role: "alert", tabindex: "-1"},
    h("p", {}, h("strong", {}, what), ": copy it now; the gateway keeps only its hash and will never show it again."),
    code, copy);
  fill(outlet, box);
  box.focus();
}
