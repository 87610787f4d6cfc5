import type { LogBatch, ResourceLogs } from '../../pipeline/model.js';

/**
 * Records waiting to be sent, kept in their resource/scope groups. take(n) removes up to n records
 * from the front, splitting a group when it has to, so send_batch_max_size holds exactly.
 */
export class BatchBuffer {
  private groups: ResourceLogs[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(batch: LogBatch, records: number): void {
    for (const rl of batch.resourceLogs) this.groups.push(rl);
    this.count += records;
  }

  /** Puts a batch that could not be sent back in front, keeping the order. */
  unshift(batch: LogBatch, records: number): void {
    this.groups = batch.resourceLogs.concat(this.groups);
    this.count += records;
  }

  take(limit: number): { batch: LogBatch; records: number } {
    if (limit >= this.count) {
      const out = { batch: { resourceLogs: this.groups }, records: this.count };
      this.groups = [];
      this.count = 0;
      return out;
    }
    const taken: ResourceLogs[] = [];
    let remaining = limit;
    while (remaining > 0) {
      const rl = this.groups[0]!;
      const n = countResourceRecords(rl);
      if (n <= remaining) {
        taken.push(this.groups.shift()!);
        remaining -= n;
        continue;
      }
      taken.push(splitResource(rl, remaining));
      remaining = 0;
    }
    this.count -= limit;
    return { batch: { resourceLogs: taken }, records: limit };
  }
}

function countResourceRecords(rl: ResourceLogs): number {
  let n = 0;
  for (const sl of rl.scopeLogs) n += sl.logRecords.length;
  return n;
}

/** Moves the first n records of rl into a new ResourceLogs with the same resource and scopes. */
function splitResource(rl: ResourceLogs, n: number): ResourceLogs {
  const head: ResourceLogs = { resource: rl.resource, schemaUrl: rl.schemaUrl, scopeLogs: [] };
  let remaining = n;
  while (remaining > 0) {
    const sl = rl.scopeLogs[0]!;
    if (sl.logRecords.length <= remaining) {
      head.scopeLogs.push(rl.scopeLogs.shift()!);
      remaining -= sl.logRecords.length;
      continue;
    }
    head.scopeLogs.push({ scope: sl.scope, schemaUrl: sl.schemaUrl, logRecords: sl.logRecords.splice(0, remaining) });
    remaining = 0;
  }
  return head;
}
