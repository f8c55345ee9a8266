// Starts Swagger UI on the document named by the page (data-spec-url). A file of its own rather
// than an inline script, so the page's Content-Security-Policy can forbid inline scripts.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    // null: Swagger UI would otherwise send the document to validator.swagger.io for a badge.
    validatorUrl: null,
    deepLinking: true,
    displayRequestDuration: true,
    // The key typed in "Authorize" stays in this page only, never in the browser's storage.
    persistAuthorization: false,
    defaultModelsExpandDepth: 0,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
