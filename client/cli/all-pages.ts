/** How many items the CLI asks for per page when it lists everything. */
const PAGE_SIZE = 200;

/** Every item of a cursor-paged list, fetched page after page. */
export async function allPages<T>(fetchPage: (page: { limit: number; cursor: string | undefined }) => Promise<{ items: T[]; nextCursor?: string | null }>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchPage({ limit: PAGE_SIZE, cursor });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return items;
}
