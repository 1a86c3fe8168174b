// Renders the API reference from the spec URL on #swagger-ui (same origin: /openapi.json).
// A file, not an inline script, so the page runs under a CSP without 'unsafe-inline' scripts.
(() => {
  const root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // ~250 operations: tags start collapsed (fast to render), with the filter box to find one.
    docExpansion: "none",
    filter: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // No validator badge: it would call validator.swagger.io.
    validatorUrl: null,
  });
})();
