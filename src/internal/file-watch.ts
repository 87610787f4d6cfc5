import { stat } from 'node:fs/promises';

/**
 * Notices when files change by polling their status (inode, size, modification time) — which
 * also sees Kubernetes swapping a mounted Secret's symlink, where inotify watches go stale.
 */
export class FileChangeWatcher {
  private timer: NodeJS.Timeout | undefined;
  private signature = '';
  private checking = false;

  constructor(
    private readonly paths: string[],
    private readonly intervalMs: number,
    private readonly onChange: () => void,
  ) {}

  /** Records the files' current state, then checks every interval; a 0 interval never checks. */
  async start(): Promise<void> {
    this.signature = await this.read();
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const now = await this.read();
      if (now !== this.signature) {
        this.signature = now;
        this.onChange();
      }
    } finally {
      this.checking = false;
    }
  }

  private async read(): Promise<string> {
    const parts = await Promise.all(
      this.paths.map((p) =>
        stat(p).then(
          (s) => `${s.ino}:${s.size}:${s.mtimeMs}`,
          (err: NodeJS.ErrnoException) => `missing:${err.code ?? ''}`,
        ),
      ),
    );
    return parts.join('|');
  }
}
