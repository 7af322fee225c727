// Swagger UI's start-up, as a file of its own: the docs page's Content Security Policy admits no inline script.
// The OpenAPI document's URL comes from the page (data-openapi-url), so nothing here depends on the service.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    // A bearer token typed into "Authorize" is kept for the page's life only, never in the browser's storage.
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
