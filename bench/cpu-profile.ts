import { readFile } from 'node:fs/promises';

/** The parts of a V8 .cpuprofile (node --cpu-prof) that a summary needs. */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code comes from: a package of node_modules, node itself, or the project. */
function originOf(url: string): string {
  const nodeModules = url.lastIndexOf('/node_modules/');
  if (nodeModules >= 0) {
    const [scopeOrName, name] = url.slice(nodeModules + '/node_modules/'.length).split('/');
    return scopeOrName?.startsWith('@') ? `${scopeOrName}/${name}` : (scopeOrName ?? url);
  }
  if (url.startsWith('node:')) return 'node';
  if (url === '') return '(native)';
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + '/dist/'.length).split('/').slice(0, 2).join('/') : url;
}

/**
 * The top frames of a profile by self time, and self time summed by origin (package or project
 * dir), as text: enough to see where a request's time goes without a profiler UI.
 */
export async function summarizeProfile(file: string, top = 25): Promise<string> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const total = [...selfUs.values()].reduce((sum, us) => sum + us, 0);
  const frames = new Map<string, number>();
  const origins = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const where = frame.url === '' ? '' : ` ${frame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    frames.set(key, (frames.get(key) ?? 0) + us);
    const origin = frame.url === '' ? frame.functionName : originOf(frame.url);
    origins.set(origin, (origins.get(origin) ?? 0) + us);
  }
  const percent = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
  const lines = [`${(total / 1e6).toFixed(1)} s sampled; self time by origin:`];
  for (const [origin, us] of [...origins].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`  ${percent(us)}  ${origin}`);
  lines.push(`top ${top} frames by self time:`);
  for (const [key, us] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${percent(us)}  ${key}`);
  return lines.join('\n');
}
