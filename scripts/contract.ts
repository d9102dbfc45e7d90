import openapiTS, { astToString } from 'openapi-typescript';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { buildApp, type Services } from '../server/app.js';

export const contractFiles = { openapi: 'openapi.yaml', clientTypes: 'client/generated/api.ts' };

/** The OpenAPI document as the server's schemas describe it, and the client types made from it. */
export async function renderContract(): Promise<{ openapi: string; clientTypes: string }> {
  // Registering routes never calls a service, so describing the API needs none.
  const app = await buildApp({ services: {} as Services, logger: pino({ level: 'silent' }), bodyLimit: 1 });
  await app.ready();
  const document = app.swagger() as Record<string, unknown>;
  await app.close();
  const openapi = `# Generated from the server's schemas by \`npm run gen\`; do not edit.\n${stringify(document, { lineWidth: 0, aliasDuplicateObjects: false })}`;
  // openapi-typescript's default options, as any integrator would run it.
  const ast = await openapiTS(document as unknown as Parameters<typeof openapiTS>[0]);
  const clientTypes = `// Generated from openapi.yaml by \`npm run gen\` (openapi-typescript); do not edit.\n${astToString(ast)}`;
  return { openapi, clientTypes };
}
