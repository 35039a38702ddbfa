// Starts the vendored Swagger UI on the server's own OpenAPI document.
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#explorer",
    deepLinking: true,
    tryItOutEnabled: true,
  });
});
