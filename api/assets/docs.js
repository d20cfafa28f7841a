// Starts Swagger UI on the docs page. A file of its own, not an inline script, so the page's
// Content-Security-Policy can say `script-src 'self'`.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    // No call to validator.swagger.io: the page must work with no network.
    validatorUrl: null,
    // Operation ids are the stable names client generators use; show them.
    displayOperationId: true,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
