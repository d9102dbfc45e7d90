/**
 * The image vocabulary shared by the HTTP schemas and the services.
 * It imports nothing, so db/, schemas/ and services/ can all depend on it without a cycle.
 */

export const recipes = ['debian-bookworm', 'busybox'] as const;
export type Recipe = (typeof recipes)[number];
