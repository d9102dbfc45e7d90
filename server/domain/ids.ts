/**
 * What an id looks like (server/services/ids.ts newId: 16 lowercase hex digits). A name of this
 * shape is refused wherever a name is chosen, so that a path's id-or-name always means the
 * resource with that id.
 */
export const idPattern = '^[0-9a-f]{16}$';

const idShape = new RegExp(idPattern);

export function looksLikeId(text: string): boolean {
  return idShape.test(text);
}

/** The hint of a refused id-shaped name. */
export const idShapedNameHint = 'a name of 16 hex digits would look like an id; add a letter outside a-f or a dash';
