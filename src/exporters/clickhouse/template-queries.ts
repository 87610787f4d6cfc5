/**
 * The reads of the stored templates, in one place for the exporter (loading them at start) and
 * the `otelhouse templates` command (listing them). A template's rows are summed per TemplateId:
 * each insert of counts adds a row, which the table's engine merges later.
 */

/**
 * The current templates, most recently seen first; a template a generalisation replaced is left
 * out. Parameter: limit.
 */
export function currentTemplatesQuery(table: string): string {
  return (
    `SELECT toString(TemplateId) AS id, anyLast(Text) AS text, groupUniqArrayArray(Services) AS services, ` +
    `toString(sum(Count)) AS count, max(LastSeen) AS last, anyLast(Source) AS source ` +
    `FROM ${table} WHERE TemplateId NOT IN (SELECT arrayJoin(ReplacedIds) ` +
    `FROM ${table}) GROUP BY TemplateId ORDER BY last DESC LIMIT {limit:UInt32}`
  );
}

/**
 * Every template by its count, most frequent first, optionally only one service's. Parameters: top,
 * and service when byService.
 */
export function templatesByCountQuery(table: string, byService: boolean): string {
  return (
    `SELECT toString(TemplateId) AS id, anyLast(Text) AS text, ` +
    `toString(sum(Count)) AS count, groupUniqArrayArray(Services) AS services ` +
    `FROM ${table} GROUP BY TemplateId ${byService ? 'HAVING has(services, {service:String})' : ''} ` +
    `ORDER BY sum(Count) DESC LIMIT {top:UInt32}`
  );
}
