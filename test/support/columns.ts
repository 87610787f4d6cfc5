import type { ClickHouseClient } from '@clickhouse/client';
import type { Test } from 'tap';

/** The columns of a table, in order: materialised ones too. */
export async function columnsOf(client: ClickHouseClient, database: string, table: string): Promise<string[]> {
  const rows = await (
    await client.query({
      query: `SELECT name FROM system.columns WHERE database = '${database}' AND table = '${table}' ORDER BY position`,
      format: 'JSONCompactEachRow',
    })
  ).json<[string]>();
  return rows.map(([name]) => name);
}

/** Every row of `table`, as the values of `columns`, in time order. */
export async function readColumns(client: ClickHouseClient, columns: string[], table: string): Promise<unknown[][]> {
  return (
    await client.query({
      query: `SELECT ${columns.map((c) => `\`${c}\``).join(', ')} FROM ${table} ORDER BY Timestamp, ObservedTimestamp`,
      format: 'JSONCompactEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
    })
  ).json<unknown[]>();
}

/** `rows` equal `expected` column by column, one assertion a column. */
export function sameColumns(t: Test, columns: string[], rows: unknown[][], expected: unknown[][], label: string): void {
  columns.forEach((column, c) => {
    t.same(
      rows.map((row) => row[c]),
      expected.map((row) => row[c]),
      `${label}: ${column}`,
    );
  });
}
