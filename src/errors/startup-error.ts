// A condition found at start-up that the process cannot run with (unusable storage, say): the
// CLI prints the message and exits 1, as distribution does, instead of serving errors.
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}
