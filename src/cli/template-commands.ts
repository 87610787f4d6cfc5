import { existsSync, readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import type { ServiceConfig } from '../config/loader.js';
import { parseEndpoint, type ClickHouseExporterConfig } from '../exporters/clickhouse/config.js';
import { openClient } from '../exporters/clickhouse/exporter.js';
import { templatesByCountQuery } from '../exporters/clickhouse/template-queries.js';
import { TemplateEngine } from '../templates/engine.js';

/** `otelhouse mine FILE`: mines a plain log file (one message per line) and prints its templates. */
export async function mineFile(file: string, top: number, out: NodeJS.WritableStream): Promise<void> {
  const lines = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim().length > 0);
  const engine = new TemplateEngine({ miner: {}, parallelThreshold: Infinity, poolSize: 0, masking: [] });
  for (let i = 0; i < lines.length; i += 10_000) await engine.assign('', lines.slice(i, i + 10_000));
  const templates = engine
    .templates()
    .map((x) => x.template)
    .sort((a, b) => b.count - a.count);
  out.write(`${lines.length} lines, ${templates.length} templates\n`);
  out.write(`${'count'.padStart(9)}  ${'id'.padEnd(20)}  template\n`);
  for (const t of templates.slice(0, top))
    out.write(`${String(t.count).padStart(9)}  ${String(t.id).padEnd(20)}  ${t.text}\n`);
}

/** `otelhouse templates --config FILE`: the stored templates with their counts, most frequent first. */
export async function listTemplates(
  config: ServiceConfig,
  service: string | undefined,
  top: number,
  out: NodeJS.WritableStream,
): Promise<void> {
  const exporter = [...config.exporters.values()].find((e) => e.factory.type === 'clickhouse');
  if (!exporter)
    throw new ConfigError([
      { path: 'exporters', message: 'no clickhouse exporter in this config, so no stored templates to list' },
    ]);
  const ch = exporter.config as ClickHouseExporterConfig;
  const target = parseEndpoint(ch.endpoint)!;
  // A read-only command: opening an embedded store that is not there would create an empty one.
  if (target.kind === 'embedded' && !existsSync(target.path))
    throw new Error(`no templates stored yet: ${target.path} does not exist (the daemon creates it when it starts)`);
  const client = await openClient(ch);
  try {
    const table = `${ch.database}.${ch.templates_table_name}`;
    const result = await client
      .query({
        query: templatesByCountQuery(table, service !== undefined),
        query_params: { service: service ?? '', top },
        format: 'JSONEachRow',
      })
      .catch((err: Error) => {
        throw /UNKNOWN_(DATABASE|TABLE)|does not exist/i.test(err.message)
          ? new Error(`no templates stored yet: ${table} does not exist (the daemon creates it when it starts)`)
          : err;
      });
    const rows = await result.json<{ id: string; text: string; count: string; services: string[] }>();
    out.write(`${'count'.padStart(12)}  ${'id'.padEnd(20)}  ${'services'.padEnd(24)}  template\n`);
    for (const r of rows)
      out.write(
        `${r.count.padStart(12)}  ${r.id.padEnd(20)}  ${r.services.join(',').slice(0, 24).padEnd(24)}  ${r.text}\n`,
      );
  } finally {
    await client.close();
  }
}
