// Requests made from openapi.yaml for the fuzzing suite: every operation, with parameters and
// bodies that follow their schemas, and the same mutated (wrong types, unknown and missing fields,
// over-long and hostile strings, other content types, broken JSON). fast-check draws them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/daemon.js';

type Schema = Record<string, any>;

export interface FuzzRequest {
  operationId: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** Names and ids that exist in the daemon under test, so that requests reach past the 404s. */
export interface KnownResources {
  vms: string[];
  images: string[];
  jobs: string[];
  snapshots: string[];
  /** Host paths worth naming in bodies: hostile ones and real files. */
  hostPaths: string[];
}

interface Operation {
  id: string;
  method: string;
  path: string;
  parameters: Array<{ name: string; in: string; required: boolean; schema: Schema }>;
  bodyTypes: Array<{ type: string; schema: Schema }>;
}

const hostileText = [
  '',
  '.',
  '..',
  '../../etc/passwd',
  '%2e%2e%2f',
  'a'.repeat(300),
  'x'.repeat(5000),
  '\u0000',
  'name\nwith\nnewlines',
  '$(reboot)',
  "'; DROP TABLE vms; --",
  '🙂🙂',
  '0123456789abcdef',
  '-rf',
  '/',
  ' ',
];

export function loadOperations(): Operation[] {
  const document = parse(readFileSync(join(repoRoot, 'openapi.yaml'), 'utf8')) as Schema;
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths as Record<string, Schema>)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'delete'].includes(method)) continue;
      const content = (operation.requestBody?.content ?? {}) as Record<string, { schema: Schema }>;
      operations.push({
        id: operation.operationId,
        method: method.toUpperCase(),
        path,
        parameters: ((operation.parameters ?? []) as Operation['parameters']).map((parameter) => ({ ...parameter, schema: resolve(document, parameter.schema) })),
        bodyTypes: Object.entries(content).map(([type, media]) => ({ type, schema: resolve(document, media.schema) })),
      });
    }
  }
  return operations;
}

/** Inlines $refs (the contract has no recursive schemas). */
function resolve(document: Schema, schema: Schema | undefined): Schema {
  if (!schema || typeof schema !== 'object') return schema ?? {};
  if (Array.isArray(schema)) return schema.map((item) => resolve(document, item)) as unknown as Schema;
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref.replace('#/components/schemas/', '');
    return resolve(document, document.components.schemas[target]);
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) out[key] = typeof value === 'object' && value !== null ? resolve(document, value) : value;
  return out;
}

/** A value that follows the schema (mostly), with a bias to the known resources and hostile paths for strings. */
function valueOf(schema: Schema, known: KnownResources, field = '', depth = 0): fc.Arbitrary<unknown> {
  if (depth > 4) return fc.constant(null);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  const choices = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(choices)) return fc.oneof(...choices.map((choice: Schema) => valueOf(choice, known, field, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return stringFor(schema, known, field);
    case 'integer':
      return fc.integer({ min: Math.max(schema.minimum ?? -1000, -(2 ** 31)), max: Math.min(schema.maximum ?? 100_000, 2 ** 31) });
    case 'number':
      return fc.double({ noNaN: true, min: -1e6, max: 1e6 });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(valueOf(schema.items ?? {}, known, field, depth + 1), { maxLength: Math.min(schema.maxItems ?? 4, 4) });
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set<string>(schema.required ?? []);
      const entries = Object.entries(properties);
      if (entries.length === 0) return fc.dictionary(fc.constantFrom('a', 'k1', 'ci-run', 'x/y'), fc.string({ maxLength: 20 }), { maxKeys: 3 });
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, property] of entries) record[name] = valueOf(property, known, name, depth + 1);
      return fc.record(record, { requiredKeys: [...required].filter((name) => name in record) });
    }
    default:
      return fc.constant(null);
  }
}

function stringFor(schema: Schema, known: KnownResources, field: string): fc.Arbitrary<string> {
  const lower = field.toLowerCase();
  const pool: string[] = [];
  if (lower.includes('path') || lower === 'baserootfs' || lower === 'kernel' || lower === 'initrd' || lower === 'modulesdir' || lower === 'cwd') pool.push(...known.hostPaths);
  if (lower === 'image') pool.push(...known.images);
  if (lower === 'snapshot') pool.push(...known.snapshots);
  if (lower === 'name') pool.push('fuzz-a', 'fuzz-b', ...known.vms, ...known.images);
  if (lower === 'recipe') pool.push('busybox');
  if (lower.includes('size')) pool.push('64M', '1G', '2T', '0', '-1M', 'abc');
  const generic = fc.string({ maxLength: Math.min(schema.maxLength ?? 40, 40) });
  const shaped = schema.pattern ? fc.stringMatching(new RegExp(schema.pattern)).filter((text) => text.length <= (schema.maxLength ?? 255)) : generic;
  return pool.length > 0 ? fc.oneof(fc.constantFrom(...pool), shaped, fc.constantFrom(...hostileText)) : fc.oneof({ weight: 3, arbitrary: shaped }, { weight: 1, arbitrary: fc.constantFrom(...hostileText) });
}

/** Breaks a valid JSON body one way or another. */
function mutated(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const junk = fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.constant({ nested: { deep: [1, 'x'] } }));
  return fc.oneof(
    valid.chain((value) =>
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? fc.oneof(
            // A field of another type.
            fc.tuple(fc.constantFrom(...Object.keys(value as object), 'name'), junk).map(([key, wrong]) => ({ ...(value as object), [key]: wrong })),
            // An unknown field.
            fc.tuple(fc.constantFrom('extra', '__proto__', 'constructor', 'id'), junk).map(([key, wrong]) => ({ ...(value as object), [key]: wrong })),
            // A missing field.
            fc.constantFrom(...Object.keys(value as object), 'none').map((key) => Object.fromEntries(Object.entries(value as object).filter(([name]) => name !== key))),
          )
        : fc.constant(value),
    ),
    junk,
  );
}

function pathValue(parameter: Operation['parameters'][number], known: KnownResources, path: string): fc.Arbitrary<string> {
  const pool = path.startsWith('/vms')
    ? known.vms
    : path.startsWith('/images')
      ? known.images
      : path.startsWith('/jobs')
        ? known.jobs
        : path.startsWith('/snapshots')
          ? known.snapshots
          : [];
  const own = parameter.name === 'idOrName' || parameter.name === 'id' ? pool : [];
  const raw = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom(...hostileText)).map((text) => encodeURIComponent(text) || 'x');
  return own.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...own) }, { weight: 1, arbitrary: raw }) : raw;
}

/** One request of the operation, valid or broken. */
function requestOf(operation: Operation, known: KnownResources): fc.Arbitrary<FuzzRequest> {
  const pathParameters = operation.parameters.filter((parameter) => parameter.in === 'path');
  const queryParameters = operation.parameters.filter((parameter) => parameter.in === 'query');
  const headerParameters = operation.parameters.filter((parameter) => parameter.in === 'header');
  const pathArb = fc.tuple(...pathParameters.map((parameter) => pathValue(parameter, known, operation.path))).map((values) => {
    let path = operation.path;
    pathParameters.forEach((parameter, index) => (path = path.replace(`{${parameter.name}}`, values[index] as string)));
    return path;
  });
  const queryArb = fc
    .tuple(
      ...queryParameters.map((parameter) =>
        fc.option(
          fc.oneof(
            { weight: 3, arbitrary: valueOf(parameter.name === 'wait' ? { type: 'integer', minimum: 0, maximum: 1 } : parameter.schema, known, parameter.name) },
            { weight: 1, arbitrary: fc.constantFrom(...hostileText) },
          ),
          { freq: 2 },
        ),
      ),
    )
    .map((values) => {
      const search = new URLSearchParams();
      queryParameters.forEach((parameter, index) => {
        const value = values[index];
        if (value === null || value === undefined) return;
        // ?wait beyond a second would make a long-poll look like a hang.
        if (parameter.name === 'wait' && !(typeof value === 'number' && value <= 1)) return;
        for (const item of Array.isArray(value) ? value : [value]) search.append(parameter.name, typeof item === 'object' ? JSON.stringify(item) : String(item));
      });
      const text = search.toString();
      return text === '' ? '' : `?${text}`;
    });
  const headerArb = fc.tuple(...headerParameters.map((parameter) => fc.option(valueOf(parameter.schema, known, parameter.name), { freq: 3 }))).map((values) => {
    const headers: Record<string, string> = {};
    headerParameters.forEach((parameter, index) => {
      const value = values[index];
      if (value !== null && value !== undefined && parameter.name.toLowerCase() !== 'authorization') headers[parameter.name] = String(value).replace(/[^\x20-\x7e]/g, '');
    });
    return headers;
  });
  const json = operation.bodyTypes.find((body) => body.type === 'application/json');
  const bodyArb: fc.Arbitrary<{ type?: string; body?: string | Buffer }> = json
    ? fc.oneof(
        { weight: 4, arbitrary: valueOf(json.schema, known).map((value) => ({ type: 'application/json', body: JSON.stringify(value) })) },
        { weight: 3, arbitrary: mutated(valueOf(json.schema, known)).map((value) => ({ type: 'application/json', body: JSON.stringify(value) ?? 'null' })) },
        { weight: 1, arbitrary: fc.constantFrom('{"name": ', '', 'null', '[]', '"x"', '{"a":1}'.repeat(3)).map((body) => ({ type: 'application/json', body })) },
        { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-tar', 'application/octet-stream', 'multipart/form-data; boundary=x').map((type) => ({ type, body: 'name=x' })) },
      )
    : operation.bodyTypes.length > 0
      ? fc.oneof(
          fc.uint8Array({ maxLength: 2048 }).map((bytes) => ({ type: operation.bodyTypes[0]?.type, body: Buffer.from(bytes) })),
          fc.constantFrom('application/json', 'text/plain').map((type) => ({ type, body: '{}' })),
        )
      : fc.oneof({ weight: 5, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.constant({ type: 'application/json', body: '{"unexpected":true}' }) });
  return fc.tuple(pathArb, queryArb, headerArb, bodyArb).map(([path, query, headers, body]) => ({
    operationId: operation.id,
    method: operation.method,
    path: path + query,
    headers: { ...headers, ...(body.type ? { 'content-type': body.type } : {}) },
    ...(body.body !== undefined ? { body: body.body } : {}),
  }));
}

/** count requests, drawn evenly over the operations, reproducible from the seed. */
export function sampleRequests(known: KnownResources, count: number, seed: number): FuzzRequest[] {
  const operations = loadOperations();
  const arbitrary = fc.oneof(...operations.map((operation) => requestOf(operation, known)));
  return fc.sample(arbitrary, { numRuns: count, seed });
}
