// Starts the vendored Swagger UI on the server's own OpenAPI document.
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#explorer",
    // Off: its links to each operation sit inside the operation's toggle button, nested
    // controls that screen readers and keyboards cannot tell apart.
    deepLinking: false,
    tryItOutEnabled: true,
  });
});
