import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import AjvCompiler from '@fastify/ajv-compiler';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { IdempotencyRepository } from './db/repositories/idempotency.js';
import { docsPrefix, publicContractPath, requireBearerToken } from './http/auth.js';
import { bearerSchemeDescription, bearerSecurity, withContractDefaults } from './http/contract-defaults.js';
import { enableIdempotencyKeys } from './http/idempotency.js';
import { limitRequestRate, type RateLimit } from './http/rate-limit.js';
import { registerProblemHandlers, sendProblem, writeRawProblem } from './http/problems.js';
import { countRequests } from './http/request-metrics.js';
import { imageRoutes } from './routes/images.js';
import { jobRoutes } from './routes/jobs.js';
import { snapshotRoutes } from './routes/snapshots.js';
import { vmRoutes } from './routes/vms.js';
import { execRoutes } from './routes/exec.js';
import { fileRoutes } from './routes/files.js';
import { systemRoutes, version } from './routes/system.js';
import { metricsRoutes } from './routes/metrics.js';
import { sharedSchemas } from './schemas/common.js';
import { imageSchemas } from './schemas/image.js';
import { imageBuildSchemas } from './schemas/image-build.js';
import { jobSchemas } from './schemas/job.js';
import { snapshotSchemas } from './schemas/snapshot.js';
import { execSchemas } from './schemas/exec.js';
import { fileSchemas } from './schemas/files.js';
import { vmSchemas } from './schemas/vm.js';
import { problemFor } from './services/errors.js';
import type { ImageService } from './services/images/image-service.js';
import type { JobService } from './services/jobs/job-service.js';
import type { SnapshotService } from './services/snapshots/snapshot-service.js';
import type { VmService } from './services/vms/vm-service.js';
import type { ExecService } from './services/exec/exec-service.js';
import type { FileService } from './services/files/file-service.js';
import type { StorageGuard } from './services/storage/storage-guard.js';
import type { DaemonMetrics } from './services/metrics/daemon-metrics.js';

export interface Services {
  images: ImageService;
  jobs: JobService;
  vms: VmService;
  snapshots: SnapshotService;
  execs: ExecService;
  files: FileService;
  storage: StorageGuard;
  idempotencyKeys: IdempotencyRepository;
  /** One registry for the daemon: the unix socket's and the TCP listener's apps count into it together. */
  metrics: DaemonMetrics;
}

export interface AppOptions {
  services: Services;
  logger: Logger;
  bodyLimit: number;
  /** When set, every request must carry it as a bearer token (the TCP listener). */
  token?: string | null;
  /** Requests per minute and client address (the TCP listener); none when absent. */
  rateLimit?: RateLimit;
  /** Answers true once the daemon is shutting down: new requests then get 503. */
  isDraining?: () => boolean;
}

/** Where the API answers; marked internal, as it is meant for this host (OWASP API9 asks every server to say). */
const documentedServers = [
  {
    url: 'http://localhost',
    description: 'Local: the unix socket, STATE_DIR/banger.sock unless --socket says otherwise (curl --unix-socket PATH http://localhost/…)',
    'x-internal': true,
  },
  {
    url: 'http://127.0.0.1:7070',
    description: `Local: the TCP listener, when started with --listen (any address and port); every request but GET ${publicContractPath} and the Swagger UI at ${docsPrefix} needs the bearer token`,
    'x-internal': true,
  },
];

/** Relative, so Swagger UI resolves it against the page's own address. */
const thisListener = { url: '/', description: 'The listener that served this page' };

/** Builds the HTTP API around the services. It never listens: main.ts (or a test) decides where. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // One line per request comes from our onResponse hook, not Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    return503OnClosing: false,
    routerOptions: {
      // Longer than any schema allows, so an over-long id reaches validation and gets a 422 problem.
      maxParamLength: 1024,
      onMaxParamLength: (_path, _req, res) => {
        writeRawProblem(res, problemFor('validation-failed', 'A path parameter is longer than 1024 characters', { hint: 'ids and names are at most 255 characters' }));
      },
    },
    frameworkErrors: (error, _request, reply) => {
      void sendProblem(reply, problemFor('validation-failed', `The request URL is not valid: ${error.message}`, { hint: 'percent-encode path segments correctly' }));
    },
    schemaController: { compilersFactory: { buildValidator: buildPartValidator } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  for (const schema of [...sharedSchemas, ...imageSchemas, ...imageBuildSchemas, ...jobSchemas, ...vmSchemas, ...snapshotSchemas, ...execSchemas, ...fileSchemas]) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'banger',
        version,
        description:
          'A microVM manager for one Linux host. Slow operations return 202 with a Location: /jobs/{id} to poll. Errors are application/problem+json with a stable code.',
      },
      tags: [
        { name: 'images', description: 'The guest image catalogue' },
        { name: 'vms', description: 'VMs: create, boot, stop, delete, console' },
        { name: 'snapshots', description: 'Memory snapshots of VMs, and VMs restored from them' },
        { name: 'jobs', description: 'Slow operations, their stages and results' },
        { name: 'system', description: 'Health and versions' },
      ],
      servers: documentedServers,
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: bearerSchemeDescription } } },
      security: bearerSecurity,
    },
    transformObject: withContractDefaults,
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `schema${i}`) },
  });
  // Its routes are hidden from the contract, and the TCP listener serves them without a token (http/auth.ts).
  await app.register(swaggerUi, {
    routePrefix: docsPrefix,
    theme: { title: 'banger API' },
    // The page's own listener comes first, so "Try it out" calls the daemon that served it whatever address it listens on.
    transformSpecification: (document) => ({ ...document, servers: [thisListener, ...(document.servers ?? [])] }),
    transformSpecificationClone: false,
  });

  registerProblemHandlers(app, (error) => options.services.storage.fullDiskError(error));
  // Without a text parser, a text/plain body is a 415 rather than a confusing schema error.
  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', async (_request, reply) => {
    if (options.isDraining?.()) {
      reply.header('connection', 'close');
      return sendProblem(reply, problemFor('shutting-down', 'The daemon is shutting down', { hint: 'retry once it is back' }));
    }
  });
  if (options.rateLimit) await limitRequestRate(app, options.rateLimit);
  if (options.token) requireBearerToken(app, options.token);
  enableIdempotencyKeys(app, options.services.idempotencyKeys);
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });
  countRequests(app, options.services.metrics);

  await app.register(systemRoutes(options.services.storage));
  await app.register(metricsRoutes(options.services.metrics));
  // Only the TCP listener's app has a token: its requests are bound to the import roots (services/images/import-roots.ts).
  await app.register(imageRoutes(options.services.images, options.token ? 'tcp' : 'unix-socket'));
  await app.register(vmRoutes(options.services.vms));
  await app.register(execRoutes(options.services.execs));
  await app.register(fileRoutes(options.services.files));
  await app.register(snapshotRoutes(options.services.snapshots, options.services.vms));
  await app.register(jobRoutes(options.services.jobs));
  return app;
}

const ajvOptions = { removeAdditional: false, allErrors: true, useDefaults: true } as const;
const strictValidators = AjvCompiler();
const coercingValidators = AjvCompiler();

/**
 * JSON bodies are validated as sent: "2" is not a number and 123 is not a name. Query strings,
 * path parameters and headers are text on the wire, so there numbers and booleans are read from
 * it ('array': a single ?label=a=1 is a list of one).
 */
const buildPartValidator: AjvCompiler.BuildCompilerFromPool = (externalSchemas, options) => {
  // Fastify's own plugins (ajv-formats) come in options; JTD mode is not used here.
  const plugins = options?.mode === 'JTD' ? undefined : options?.plugins;
  const strict = strictValidators(externalSchemas, { plugins, customOptions: { ...ajvOptions, coerceTypes: false } });
  const coercing = coercingValidators(externalSchemas, { plugins, customOptions: { ...ajvOptions, coerceTypes: 'array' } });
  return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route));
};
