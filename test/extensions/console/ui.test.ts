import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { consoleBrowserMissing, ingest, launchConsoleBrowser, startConsoleDaemon } from '../../support/console.js';
import { PROJECT_ROOT } from '../../support/cli.js';
import { waitFor } from '../../support/daemon.js';

// The web console in headless Debian Chromium against a real daemon (json_ingest → templates →
// embedded ClickHouse) whose console extension serves the API and the built console.
const SCREENSHOTS = join(PROJECT_ROOT, 'test-output/console');

// Only numbers vary within a kind of line, and the miner makes numbers parameters at first sight:
// each kind is one template from its first record on, never replaced. The kinds take turns, each
// recurring every LINES_PER_ROUND records.
const LINES_PER_ROUND = 4;
const LINES = [
  (i: number) => `Connection timeout after ${i % 40} seconds to db-${i % 3}.internal:5432`,
  (i: number) => `session opened for user bob by (uid=${1000 + i})`,
  (i: number) => `GET /api/orders/${i} returned 200 in ${i % 900} ms`,
  (i: number) => `cache miss for key user:${i % 97} on shard ${Math.floor(i / LINES_PER_ROUND) % 2}`,
];

/** The trace that every TRACED_EVERY-th record belongs to. */
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACED_EVERY = 100;

/** Records spread over the last `n` × 7 seconds, so the histogram and sparklines have a shape. */
function entries(n: number) {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    timestamp: new Date(now - (n - i) * 7000).toISOString(),
    ...(i % TRACED_EVERY === 0 ? { trace_id: TRACE_ID } : {}),
    message: LINES[i % LINES.length]!(i),
    service: i % 2 ? 'checkout' : 'payments',
    level: i % 9 === 0 ? 'error' : i % 5 === 0 ? 'warn' : 'info',
    metadata: { region: ['eu', 'us'][i % 2], attempt: String(i % 3) },
  }));
}

/** Records in the default range, as the histogram counts them. */
async function storedCount(base: string): Promise<number> {
  const res = await fetch(`${base}/api/v1/logs/histogram`);
  if (!res.ok) return -1;
  const histogram = (await res.json()) as { counts: Record<string, number[]> };
  return Object.values(histogram.counts).reduce((sum, counts) => sum + counts.reduce((a, b) => a + b, 0), 0);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

t.test('web console: logs, search, a template and its logs, live tail, pipeline', { skip: consoleBrowserMissing }, async (t) => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const daemon = await startConsoleDaemon();
  t.teardown(() => daemon.stop());
  const base = `http://127.0.0.1:${daemon.consolePort()}`;
  const sent = entries(400);
  await ingest(daemon, sent);
  t.ok(await waitFor(async () => (await storedCount(base)) === sent.length), 'every record is queryable through the API');

  const browser: Browser = await launchConsoleBrowser();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));

  await t.test('the logs page shows the newest records and the histogram of all of them', async (t) => {
    await page.goto(`${base}/`);
    await page.locator('.log-row').first().waitFor();
    t.equal(await page.locator('.log-row').count(), 100, 'one page of records, not the whole range');
    await page.locator('.histogram [data-total]').waitFor();
    t.equal(await page.locator('.histogram [data-total]').getAttribute('data-total'), String(sent.length), 'the histogram counts every record in range');
    await shot(page, 'logs');
    t.ok(await page.locator('.load-more').isVisible(), 'more records are behind "load more"');
    await page.locator('.load-more').click();
    await page.locator('.log-row').nth(199).waitFor();
    t.pass('"load more" appends the next page');
  });

  await t.test('search from the keyboard: / focuses the box, Enter submits, the URL holds the query', async (t) => {
    await page.locator('body').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('/');
    t.equal(await page.locator('#search:focus').count(), 1, '/ focuses the search box');
    await page.keyboard.type('timeout');
    await page.keyboard.press('Enter');
    await page.waitForURL(/q=timeout/);
    t.ok(
      await waitFor(async () => {
        const bodies = await page.locator('.log-row .log-body').allTextContents();
        return bodies.length > 0 && bodies.every((b) => b.includes('timeout'));
      }),
      'only matching records are listed',
    );
    const expected = sent.filter((e) => e.message.includes('timeout')).length;
    const histogramTotal = page.locator('.histogram [data-total]');
    t.ok(await waitFor(async () => (await histogramTotal.getAttribute('data-total')) === String(expected)), 'the histogram counts the matching records');
    t.equal(await page.locator('.log-row').count(), expected, 'all matching records fit one page');

    await page.locator('.log-row').first().focus();
    await page.keyboard.press('Enter');
    const detail = page.locator('.log-detail').first();
    await detail.waitFor();
    t.match(await detail.locator('.log-template').textContent(), /Connection timeout after <\*> to <\*>/, 'an expanded row shows its template');
    t.match(await detail.textContent(), /region/, 'and its attributes');
    await shot(page, 'logs-search-expanded');
    await page.keyboard.press('Escape');
    await page.locator('.log-detail').waitFor({ state: 'detached' });
    t.pass('Escape closes the row');

    await page.reload();
    await page.locator('.log-row').first().waitFor();
    t.equal(await page.locator('#search').inputValue(), 'timeout', 'the search is restored from the URL');
  });

  await t.test('dragging across the histogram selects that range', async (t) => {
    await page.goto(`${base}/logs`);
    const plot = page.locator('.histogram .u-over');
    await plot.waitFor();
    const box = (await plot.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.waitForURL(/from=\d{4}-.*&to=\d{4}-/);
    const url = new URL(page.url());
    const from = Date.parse(url.searchParams.get('from')!);
    const to = Date.parse(url.searchParams.get('to')!);
    t.ok(from < to && to - from < 3600_000 * 0.5, 'a range inside the last hour, about 40 % of it');
    const inRange = sent.filter((e) => Date.parse(e.timestamp) >= from && Date.parse(e.timestamp) < to).length;
    t.ok(await waitFor(async () => Number(await page.locator('.histogram [data-total]').getAttribute('data-total')) === inRange), `the histogram counts the ${inRange} records in it`);
    await page.goto(`${base}/logs`);
    await page.locator('.log-row').first().waitFor();
  });

  await t.test('filters: trace id and an attribute, from the form', async (t) => {
    await page.locator('#search').fill('');
    await page.locator('input[name=trace_id]').fill(TRACE_ID);
    await page.keyboard.press('Enter');
    await page.waitForURL(/trace_id=/);
    const traced = sent.filter((e) => e.trace_id === TRACE_ID);
    t.ok(await waitFor(async () => (await page.locator('.log-row').count()) === traced.length), 'only the records of the trace');
    await page.locator('input[name=attribute]').fill('attempt=0');
    await page.keyboard.press('Enter');
    await page.waitForURL(/attr\.attempt=0/);
    const expected = traced.filter((e) => e.metadata.attempt === '0');
    t.ok(expected.length > 0 && expected.length < traced.length, 'the attribute narrows the trace down');
    t.ok(await waitFor(async () => (await page.locator('.log-row').count()) === expected.length), 'and the attribute filter');
    t.equal(await page.locator('.chips li').count(), 1, 'shown as a removable filter');
    await page.locator('.chips li button').click();
    t.ok(await waitFor(async () => (await page.locator('.log-row').count()) === traced.length), 'removing it widens the list again');
  });

  let templateUrl = '';
  await t.test('templates: the list with sparklines, a template page with its parameters and its logs', async (t) => {
    await page.locator('header nav a', { hasText: 'Templates' }).click();
    await page.waitForURL(/\/templates/);
    await page.locator('.template-row').first().waitFor();
    t.equal(await page.locator('.template-row').count(), LINES.length, 'one template per kind of line');
    t.equal(await page.locator('.template-row .sparkline canvas').count(), LINES.length, 'each with a sparkline');
    t.equal(await page.locator('.template-row .badge.new').count(), LINES.length, 'all first seen in this range');
    await shot(page, 'templates');

    const row = page.locator('.template-row', { hasText: 'cache miss for key' });
    t.match(await row.locator('td.number').first().textContent(), String(sent.length / LINES.length), 'its count');
    await row.locator('.template-link').click();
    await page.waitForURL(/\/templates\/\d+/);
    templateUrl = page.url();
    await page.locator('.distribution').first().waitFor();
    t.match(await page.locator('.template-title').textContent(), /cache miss for key \S*<\*> on shard <\*>/, 'the template page shows its text');
    const shards = page.locator('.distribution', { hasText: '#2' });
    t.match(await shards.textContent(), /2 distinct/, 'the shard parameter has two values');
    t.match(await shards.textContent(), /50\.0%/, 'each half of the records');
    const histogramTotal = page.locator('.template-page .histogram [data-total]');
    t.ok(
      await waitFor(async () => (await histogramTotal.getAttribute('data-total')) === String(sent.length / LINES.length)),
      "its records over time: a histogram on a time axis counting all of the template's",
    );
    t.equal(await page.locator('.template-page .histogram .u-axis').count(), 2, 'with its time and count axes');
    await page.locator('.template-logs .log-row').first().waitFor();
    const bodies = await page.locator('.template-logs .log-row .log-body').allTextContents();
    t.equal(bodies.length, 50, "the template's logs, one page");
    t.ok(
      bodies.every((b) => /^cache miss for key user:\d+ on shard [01]$/.test(b)),
      'all of this template',
    );
    await shot(page, 'template');
  });

  await t.test('live tail shows a record sent after the page opened', async (t) => {
    await page.goto(`${base}/logs`);
    await page.locator('.log-row').first().waitFor();
    await page.locator('input[name=live]').check();
    await page.locator('.live-status.live').waitFor();
    t.match(page.url(), /live=1/, 'the toggle is in the URL');
    const body = `tailed record ${process.pid} arrived`;
    await ingest(daemon, [{ message: body, service: 'tailer', level: 'warn' }]);
    const tailed = page.locator('.log.tailed', { hasText: body });
    await tailed.waitFor();
    t.equal(await page.locator('.log-row').first().locator('.log-body').textContent(), body, 'at the top of the list');
    t.match(await tailed.locator('.severity').textContent(), 'WARN', 'with its severity');
    await shot(page, 'live-tail');
  });

  await t.test('pipeline: components and their counts from /stats, refreshed', async (t) => {
    await page.locator('header nav a', { hasText: 'Pipeline' }).click();
    const accepted = page.locator('table[data-kind=receivers] tr[data-component=json_ingest] td[data-count=accepted]');
    await accepted.waitFor();
    t.equal(await accepted.textContent(), String(sent.length + 1), 'every record the receiver accepted');
    await ingest(daemon, entries(5));
    t.ok(await waitFor(async () => (await accepted.textContent()) === String(sent.length + 6)), 'the counts follow the daemon');
    t.ok(await page.locator('table[data-kind=exporters] tr[data-component=clickhouse] td[data-count=exported]').isVisible(), 'the exporter and its exported count');
    await shot(page, 'pipeline');
  });

  await t.test('a linked template page opens as it was', async (t) => {
    await page.goto(templateUrl);
    await page.locator('.template-title').waitFor();
    t.match(await page.locator('.template-title').textContent(), /cache miss/, 'the template of the link');
  });

  t.same(pageErrors, [], 'no script error in the page');
  t.same(
    requests.filter((url) => !url.startsWith(base)),
    [],
    'no request leaves the daemon',
  );
});
