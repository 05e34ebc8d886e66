// Swagger UI over the vendored bundle, reading this server's schema (no CDN).
window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
