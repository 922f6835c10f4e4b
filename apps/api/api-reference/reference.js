// Renders the service's own OpenAPI document. No validator badge (it would send the document to
// validator.swagger.io) and nothing else from another host: the page works offline, under `script-src 'self'`.
window.addEventListener('load', () => {
  SwaggerUIBundle({ url: '/api/v1/openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null });
});
