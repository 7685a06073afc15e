/**
 * The API reference at /docs: Swagger UI (swagger-ui-dist from npm, copied into the build; nothing is
 * fetched from elsewhere) over this server's own /openapi.json. "Authorize" takes an access token for
 * "Try it out"; it stays in this page's memory only.
 */
window.ui = window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#reference",
  // Deep links put a link inside each operation's toggle button (nested controls, an axe violation).
  deepLinking: false,
  // The public validator badge would send the document to a third party: off.
  validatorUrl: null,
  persistAuthorization: false,
  displayRequestDuration: true,
  filter: true,
  tryItOutEnabled: false,
  defaultModelsExpandDepth: 0,
});
