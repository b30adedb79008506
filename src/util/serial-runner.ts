/**
 * Runs an async task one at a time. A trigger while it runs is not lost and does not start a second run: the task
 * runs once more when the current run ends, however many triggers came (the worker's claim loop and the fan-out's
 * pump both need exactly that). The task handles its own errors.
 */
export class SerialRunner {
  private running = false;
  private again = false;

  constructor(private readonly task: () => Promise<void>) {}

  get busy(): boolean {
    return this.running;
  }

  trigger(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.task().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.trigger();
      }
    });
  }
}
