/**
 * JSON with every object's keys sorted, so that two bodies that mean the same compare equal
 * whatever order a client wrote their fields in (RFC 8785 orders keys the same way for ASCII).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  // No prototype: a hostile "__proto__" key stays a plain key.
  const sorted: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  return sorted;
}
