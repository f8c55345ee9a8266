// The developer portal's script: plain DOM, no framework, no other origin.
// The key lives in this tab only (sessionStorage), is sent only in the Authorization header of
// requests to this origin, and is never written into a URL or the page's HTML.
"use strict";

(function () {
  var STORAGE = "aiproxy.portal.key";
  var key = sessionStorage.getItem(STORAGE) || "";

  function $(id) { return document.getElementById(id); }

  function setKey(value) {
    key = value;
    if (value) { sessionStorage.setItem(STORAGE, value); } else { sessionStorage.removeItem(STORAGE); }
    var tryKey = $("try-key");
    if (tryKey) { tryKey.value = value; }
  }

  async function api(path, options) {
    options = options || {};
    var headers = { "Accept": "application/json" };
    if (options.signedIn) { headers["Authorization"] = "Bearer " + key; }
    if (options.body !== undefined) { headers["Content-Type"] = "application/json"; }
    var response = await fetch(path, {
      method: options.method || "GET",
      headers: headers,
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
      credentials: "omit",
      cache: "no-store"
    });
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      var message = data && data.error ? data.error.message + " (" + data.error.code + ")" : "HTTP " + response.status;
      throw new Error(message);
    }
    return data;
  }

  // Any JSON as readable HTML, built with text nodes only (nothing from the server becomes markup).
  function render(value) {
    if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 1 && Array.isArray(value.data)) {
      value = value.data; // a list answer, {"data": [...]}: the list is the content
    }
    if (Array.isArray(value)) {
      if (value.length === 0) { return text("p", "None yet."); }
      if (value.every(function (v) { return v && typeof v === "object" && !Array.isArray(v); })) { return table(value); }
      var list = document.createElement("ul");
      value.forEach(function (v) { var li = document.createElement("li"); li.appendChild(render(v)); list.appendChild(li); });
      return list;
    }
    if (value && typeof value === "object") {
      var dl = document.createElement("dl");
      Object.keys(value).forEach(function (name) {
        dl.appendChild(text("dt", label(name)));
        var dd = document.createElement("dd");
        dd.appendChild(render(value[name]));
        dl.appendChild(dd);
      });
      return dl;
    }
    return text("span", value === null || value === undefined ? "–" : String(value));
  }

  function table(rows) {
    var wrap = document.createElement("div");
    wrap.className = "scroll";
    var t = document.createElement("table");
    var columns = [];
    rows.forEach(function (row) { Object.keys(row).forEach(function (c) { if (columns.indexOf(c) < 0) { columns.push(c); } }); });
    var head = t.createTHead().insertRow();
    columns.forEach(function (c) { var th = text("th", label(c)); th.scope = "col"; head.appendChild(th); });
    var body = t.createTBody();
    rows.forEach(function (row) {
      var tr = body.insertRow();
      columns.forEach(function (c) {
        var cell = tr.insertCell();
        var v = row[c];
        cell.appendChild(v && typeof v === "object" ? render(v) : document.createTextNode(v === null || v === undefined ? "–" : String(v)));
      });
    });
    wrap.appendChild(t);
    return wrap;
  }

  function label(name) { return String(name).replace(/_/g, " "); }

  function text(tag, content) { var el = document.createElement(tag); el.textContent = content; return el; }

  function show(container, node) { container.replaceChildren(node); }

  function shownOnce(container, newKey, note) {
    var p = text("p", note);
    var code = text("code", newKey);
    code.className = "secret";
    code.tabIndex = 0;
    var box = document.createElement("div");
    box.appendChild(p);
    box.appendChild(code);
    show(container, box);
  }

  async function loadSection(section) {
    var body = section.querySelector(".section-body");
    var signedIn = section.dataset.signedIn === "true";
    if (signedIn && !key) { return; }
    try {
      show(body, render(await api(section.dataset.path, { signedIn: signedIn })));
    } catch (error) {
      show(body, text("p", "Could not load: " + error.message));
    }
  }

  function loadSections(signedIn) {
    document.querySelectorAll(".plugin-section").forEach(function (section) {
      if ((section.dataset.signedIn === "true") === signedIn) { loadSection(section); }
    });
  }

  async function signIn(candidate) {
    var status = $("sign-in-status");
    setKey(candidate);
    try {
      var me = await api("/-/portal/api/me", { signedIn: true });
      show($("me"), render({ consumer: me.consumer.name, consumer_id: me.consumer.id, plan: me.consumer.plan_id, key: me.key.prefix + "…" }));
      $("signed-in").hidden = false;
      $("sign-in-form").hidden = true;
      status.textContent = "Signed in as " + me.consumer.name + ".";
      loadSections(true);
    } catch (error) {
      setKey("");
      $("signed-in").hidden = true;
      $("sign-in-form").hidden = false;
      status.textContent = "Sign-in failed: " + error.message;
    }
  }

  function signOut() {
    setKey("");
    $("signed-in").hidden = true;
    $("sign-in-form").hidden = false;
    $("sign-in-status").textContent = "Signed out.";
    $("rotate-result").replaceChildren();
  }

  async function rotate() {
    var result = $("rotate-result");
    try {
      var answer = await api("/-/portal/api/key/rotate", { method: "POST", body: {}, signedIn: true });
      setKey(answer.key);
      shownOnce(result, answer.key, "Your new key (shown once; copy it now). The old one no longer works:");
    } catch (error) {
      show(result, text("p", "Rotation failed: " + error.message));
    }
  }

  async function signUp(event) {
    event.preventDefault();
    var result = $("signup-result");
    try {
      var answer = await api("/-/portal/api/signup", { method: "POST", body: { name: $("signup-name").value } });
      shownOnce(result, answer.key, "Welcome, " + answer.consumer.name + ". Your key (shown once; copy it now):");
      await signIn(answer.key);
    } catch (error) {
      show(result, text("p", "Signup failed: " + error.message));
    }
  }

  function answerText(format, data) {
    if (format === "anthropic") {
      return (data.content || []).map(function (part) { return part.text || ""; }).join("");
    }
    var choice = data.choices && data.choices[0];
    return choice && choice.message ? String(choice.message.content) : JSON.stringify(data, null, 2);
  }

  async function tryIt(event) {
    event.preventDefault();
    var select = $("try-path");
    var format = select.options[select.selectedIndex].dataset.format;
    var model = $("try-model").value;
    var prompt = $("try-prompt").value;
    var body = { model: model, messages: [{ role: "user", content: prompt }] };
    if (format === "anthropic") { body.max_tokens = 256; }
    var out = $("try-answer");
    out.textContent = "Sending…";
    var tryKey = $("try-key").value;
    try {
      var response = await fetch(select.value, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + tryKey },
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store"
      });
      var data = await response.json();
      if (!response.ok) {
        out.textContent = "Error " + response.status + ": " + (data.error ? data.error.message : JSON.stringify(data));
        return;
      }
      out.textContent = answerText(format, data);
    } catch (error) {
      out.textContent = "The request failed: " + error.message;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("sign-in-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = $("sign-in-key");
      var candidate = input.value.trim();
      input.value = "";
      signIn(candidate);
    });
    $("sign-out").addEventListener("click", signOut);
    $("rotate").addEventListener("click", rotate);
    $("try-form").addEventListener("submit", tryIt);
    var signup = $("signup-form");
    if (signup) { signup.addEventListener("submit", signUp); }
    loadSections(false);
    if (key) { signIn(key); }
  });
})();
