// swagger-ui-dist ships no types; this is the part of its API docs.ts uses.
declare module 'swagger-ui-dist/swagger-ui-bundle.js' {
  interface SwaggerUIOptions {
    url: string;
    dom_id: string;
    deepLinking?: boolean;
    tryItOutEnabled?: boolean;
    validatorUrl?: string | null;
  }
  const SwaggerUIBundle: (options: SwaggerUIOptions) => unknown;
  export default SwaggerUIBundle;
}
