/** Steps that can be taken back, taken back newest first when a later step fails. */
export class UndoStack {
  private readonly steps: Array<{ what: string; undo: () => Promise<void> }> = [];

  push(what: string, undo: () => Promise<void>): void {
    this.steps.push({ what, undo });
  }

  /** Runs every undo even when one fails; returns what could not be undone. */
  async unwind(): Promise<string[]> {
    const failed: string[] = [];
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      try {
        await step.undo();
      } catch (error) {
        failed.push(`${step.what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return failed;
  }
}
