import { createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { clickhouseConfigSchema } from '../../src/exporters/clickhouse/config.js';
import { schemaStatements } from '../../src/exporters/clickhouse/schema.js';

/**
 * Run as a child process: creates the schema create_schema would make in an embedded store, then
 * runs the extra statements given (a CONSTRAINT, say), and exits, so the store's lock is free for
 * a daemon started next. Usage: node prepare-store.js PATH [SQL …]
 */
const [path, ...extra] = process.argv.slice(2);
const client = createClient({ connection: createChdbConnection({ path: path! }) } as Parameters<typeof createClient>[0]);
for (const query of [...schemaStatements(clickhouseConfigSchema.parse({ endpoint: `embedded://${path}` })), ...extra]) await client.command({ query });
await client.close();
