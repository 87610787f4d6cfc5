import t from 'tap';
import type { Browser } from 'playwright-core';
import { consoleBrowserMissing, ingest, launchConsoleBrowser, startConsoleDaemon } from '../../support/console.js';
import { waitFor } from '../../support/daemon.js';

// The web console of a console extension with `auth`: it asks for the token, sends it with every
// request, the live tail (a streamed fetch, since EventSource sends no headers) included.
const TOKEN = 'console-s3cret';

t.test('web console with auth: the token form, a refused token, then the logs and the live tail', { skip: consoleBrowserMissing }, async (t) => {
  const daemon = await startConsoleDaemon(`bearertokenauth: { token: ${TOKEN} }\nconsole: { endpoint: 127.0.0.1:0, auth: { authenticator: bearertokenauth } }`, ['bearertokenauth', 'console']);
  t.teardown(() => daemon.stop());
  const base = `http://127.0.0.1:${daemon.consolePort()}`;
  await ingest(
    daemon,
    Array.from({ length: 30 }, (_, i) => ({ message: `secured record ${i} stored`, service: 'vault', level: 'info' })),
  );
  const stored = async () => {
    const res = await fetch(`${base}/api/v1/logs?limit=1000`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    return res.ok ? ((await res.json()) as { logs: unknown[] }).logs.length : -1;
  };
  t.ok(await waitFor(async () => (await stored()) === 30), 'the records are stored (the API takes the token)');
  t.equal((await fetch(`${base}/api/v1/logs`)).status, 401, 'and refuses a request without it');

  const browser: Browser = await launchConsoleBrowser();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await page.goto(`${base}/logs`);
  const form = page.locator('form.token-form');
  await form.waitFor();
  t.match(await form.textContent(), /needs a token/, 'a 401 asks for the token');
  t.equal(await page.locator('.log-row').count(), 0, 'and shows no records');

  await page.locator('#token').fill('wrong');
  await page.keyboard.press('Enter');
  t.ok(await waitFor(async () => /refused/.test((await form.textContent()) ?? '')), 'a wrong token is refused and asked again');

  await page.locator('#token').fill(TOKEN);
  await page.keyboard.press('Enter');
  await page.locator('.log-row').first().waitFor();
  t.equal(await page.locator('.log-row').count(), 30, 'the right token shows the records');
  t.equal(await form.count(), 0, 'and the form is gone');
  await page.locator('.histogram [data-total]').waitFor();
  t.equal(await page.locator('.histogram [data-total]').getAttribute('data-total'), '30', 'the histogram is read with the token too');

  await page.reload();
  await page.locator('.log-row').first().waitFor();
  t.equal(await form.count(), 0, 'the token lasts over a reload of the tab');

  await page.locator('input[name=live]').check();
  await page.locator('.live-status.live').waitFor();
  t.pass('the live tail connects with the token');
  const body = `tailed secured record ${process.pid}`;
  await ingest(daemon, [{ message: body, service: 'vault', level: 'warn' }]);
  await page.locator('.log.tailed', { hasText: body }).waitFor();
  t.equal(await page.locator('.log-row').first().locator('.log-body').textContent(), body, 'a record sent after the page opened arrives through the tail');

  const fresh = await browser.newPage();
  await fresh.goto(`${base}/logs`);
  await fresh.locator('form.token-form').waitFor();
  t.pass('another tab (its own sessionStorage) asks again');
  t.same(pageErrors, [], 'no script error in the page');
});
