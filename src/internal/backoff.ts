/** How a back-off grows: the OTel Collector's `retry_on_failure` settings, in ms. */
export interface BackoffSettings {
  initialMs: number;
  /** The interval grows up to this; Infinity: no bound. */
  maxMs: number;
  multiplier: number;
  /**
   * Each wait is the interval ± this share of it, so clients that failed together do not retry
   * together; 0: no jitter.
   */
  randomizationFactor: number;
}

/** Exponential back-off with jitter, the formula of the OTel Collector's exporterhelper and of gRPC. */
export class ExponentialBackoff {
  private interval: number;

  constructor(private readonly settings: BackoffSettings) {
    this.interval = settings.initialMs;
  }

  /** The wait before the next attempt; the interval then grows by the multiplier. */
  next(): number {
    const jitter = this.interval * this.settings.randomizationFactor;
    const wait = this.interval - jitter + Math.random() * 2 * jitter;
    this.interval = Math.min(this.interval * this.settings.multiplier, this.settings.maxMs);
    return wait;
  }

  /** Back to the initial interval, after a success. */
  reset(): void {
    this.interval = this.settings.initialMs;
  }
}
