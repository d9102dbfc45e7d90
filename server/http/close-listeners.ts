import type { FastifyInstance } from 'fastify';

/**
 * Closes the listeners: no new connections, idle ones closed, requests under way given `graceMs`
 * to finish; then their connections are cut. Resolves with how many were cut.
 */
export async function closeListeners(apps: FastifyInstance[], graceMs: number): Promise<number> {
  const closed = Promise.all(apps.map((app) => app.close()));
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'grace-over'>((resolve) => (timer = setTimeout(() => resolve('grace-over'), graceMs)));
  const first = await Promise.race([closed, graceOver]);
  clearTimeout(timer);
  if (first !== 'grace-over') return 0;
  const counts = await Promise.all(apps.map((app) => openConnections(app)));
  for (const app of apps) app.server.closeAllConnections();
  await closed;
  return counts.reduce((sum, count) => sum + count, 0);
}

function openConnections(app: FastifyInstance): Promise<number> {
  return new Promise((resolve) => app.server.getConnections((error, count) => resolve(error ? 0 : count)));
}
