import type { ImageService, Recipe } from '../../../domain/image.js';
import type { RecheckedFile } from '../preflight.js';

export type BuildSource = { kind: 'recipe'; recipe: Recipe } | { kind: 'baseRootfs'; path: string };

/** A kernel the caller supplied; without one, the build fetches the default kernel. */
export interface SuppliedKernel {
  kernelPath: string;
  initrdPath?: string;
  modulesDir?: string;
  /** The release the modules are for (the modules dir's name). */
  version?: string;
}

/** A build request after validation: everything the builder needs, nothing it must check again. */
export interface BuildPlan {
  id: string;
  name: string;
  source: BuildSource;
  /** Normalised: trimmed, sorted, deduplicated. */
  packages: string[];
  kernel: SuppliedKernel | null;
  sizeBytes: number;
  sizeText: string;
  docker: boolean;
  /** Checked: unique names and ports, no blank command. */
  services: ImageService[];
  /** The import roots the request's paths were held to (null: anywhere); they are checked again as they are read. */
  importRoots: readonly string[] | null;
}

/** A file the build request named, to be checked again as the job reads it (withRecheckedFile). */
export function suppliedFile(plan: BuildPlan, field: string, path: string, kind: RecheckedFile['kind']): RecheckedFile {
  return { field, path, kind, roots: plan.importRoots, summary: `Cannot build image ${plan.name}`, hint: 'pass a file that stays put until the build has read it' };
}
