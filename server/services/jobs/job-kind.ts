/** How long a stage of a kind may be named. */
const maxStageLength = 32;

/**
 * A kind of job with the stages its work goes through, declared once: the job service plans
 * the stages from it, the routes describe them from it, and the work can only name stages in it.
 */
export interface JobKind<Stage extends string = string> {
  /** The job's `kind` in the API, e.g. image.promote. */
  readonly name: string;
  readonly stages: readonly Stage[];
  /**
   * The stages repeat for each target of the job, recorded as `<stage> <target name>`: the work
   * names them through `context.forTarget(id)`.
   */
  readonly eachTarget: boolean;
}

export type StageOf<Kind> = Kind extends JobKind<infer Stage> ? Stage : never;

export function defineJobKind<const Stage extends string>(
  name: string,
  stages: readonly Stage[],
  options: { eachTarget?: boolean } = {},
): JobKind<Stage> {
  if (new Set(stages).size !== stages.length) throw new Error(`job kind ${name} lists a stage twice: ${stages.join(', ')}`);
  // The contract bounds a stage's name (domain/job.ts maxStageNameLength) with room for a target's name or id after it.
  const long = stages.find((stage) => stage.length > maxStageLength);
  if (long !== undefined) throw new Error(`job kind ${name}: stage ${long} is longer than ${maxStageLength} characters`);
  // A space ends the stage in `<stage> <target name>`, where metrics read the kind's stage back (job-observer.ts).
  const spaced = stages.find((stage) => /\s/.test(stage));
  if (spaced !== undefined) throw new Error(`job kind ${name}: stage "${spaced}" has a space`);
  return Object.freeze({ name, stages: Object.freeze([...stages]), eachTarget: options.eachTarget ?? false });
}

/** The stages as an API description states them. */
export function describeStages(kind: JobKind): string {
  const stages = kind.stages.map((stage) => `\`${stage}\``).join(' → ');
  return kind.eachTarget ? `Stages, for each target in turn, recorded as \`<stage> <target name>\`: ${stages}.` : `Stages: ${stages}.`;
}
