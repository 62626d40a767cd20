// The API reference at /api/docs: Swagger UI (bundled from npm, no CDN) rendering
// the spec the server serves, so the page always matches the running server.

import SwaggerUIBundle from 'swagger-ui-dist/swagger-ui-bundle.js';
import 'swagger-ui-dist/swagger-ui.css';
import './docs.css';

SwaggerUIBundle({
  url: '/api/openapi.yaml',
  dom_id: '#swagger',
  deepLinking: true,
  tryItOutEnabled: false,
  // No calls to the public validator service: the page works offline and behind a strict CSP.
  validatorUrl: null,
});
