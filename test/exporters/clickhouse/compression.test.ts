import { createClient } from '@clickhouse/client';
import t from 'tap';
import { ConfigError } from '../../../src/config/errors.js';
import { loadConfig } from '../../../src/daemon.js';
import { ClickHouseHttpFront } from '../../support/clickhouse-http-front.js';
import { pipelineYaml, queryRows, startTestDaemon, tempDir, waitFor } from '../../support/daemon.js';
import { emitWithSdk } from '../../support/sdk.js';

// Insert bodies to a server are compressed with the codec `compress` names (zstd by default: the
// rows as queued, after a frame of the query); the HTTP front decodes them by their
// Content-Encoding as ClickHouse does, so the rows arriving whole shows the body was what its
// header says.
for (const [compress, encoding] of [[undefined, 'zstd'], ['zstd', 'zstd'], ['true', 'zstd'], ['br', 'br'], ['gzip', 'gzip'], ['none', ''], ['false', '']] as const) {
  t.test(`compress: ${compress ?? '(default)'} sends ${encoding || 'plain'} insert bodies and the rows arrive`, async (t) => {
    const front = await ClickHouseHttpFront.start({ path: tempDir(`front-compress-${compress ?? 'default'}`) });
    t.teardown(() => front.close());
    const daemon = await startTestDaemon(pipelineYaml({ endpoint: front.url, exporterExtra: compress === undefined ? '' : `    compress: ${compress}` }));
    t.teardown(() => daemon.stop());
    const sent = await emitWithSdk('http/protobuf', daemon, 30);
    const client = createClient({ url: front.url });
    t.teardown(() => client.close());
    const stored = async () => Number((await queryRows<{ n: string }>(client, 'SELECT toString(count()) AS n FROM otel.otel_logs'))[0]!.n);
    t.ok(await waitFor(async () => (await stored()) === sent.length), `${sent.length} rows stored`);
    const bodies = await queryRows<{ Body: string }>(client, 'SELECT Body FROM otel.otel_logs ORDER BY Body');
    t.same(bodies.map((r) => r.Body).sort(), sent.map((r) => r.Body).sort(), 'every body as sent');
    const inserts = [...front.encodings].filter(([e]) => e !== '').map(([e]) => e);
    t.same(inserts, encoding === '' ? [] : [encoding], `the bodies were ${encoding || 'not'} compressed`);
  });
}

t.test('compress names its key and the codecs it takes', async (t) => {
  const config = (compress: string) => `
receivers:
  otlp: { protocols: { http: {} } }
exporters:
  clickhouse: { endpoint: "http://127.0.0.1:8123", compress: ${compress} }
service:
  pipelines:
    logs: { receivers: [otlp], exporters: [clickhouse] }
`;
  const issues = (text: string) => {
    try {
      loadConfig({ text });
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
      throw err;
    }
  };
  t.match(issues(config('lz4')), [/exporters\.clickhouse\.compress: expected zstd, br, gzip, none, true or false/]);
  t.same(issues(config('zstd')), [], 'zstd on any Node.js: the exporter compresses the rows itself');
});
