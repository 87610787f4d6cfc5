import t from 'tap';
import { ExponentialBackoff } from '../../src/internal/backoff.js';

t.test('exponential back-off: grows by the multiplier up to the bound, resets to the initial interval', async (t) => {
  const backoff = new ExponentialBackoff({ initialMs: 100, maxMs: 1000, multiplier: 2, randomizationFactor: 0 });
  t.same(
    Array.from({ length: 6 }, () => backoff.next()),
    [100, 200, 400, 800, 1000, 1000],
  );
  backoff.reset();
  t.equal(backoff.next(), 100, 'after reset');
});

t.test('exponential back-off: each wait stays within the randomization factor of its interval', async (t) => {
  const backoff = new ExponentialBackoff({ initialMs: 1000, maxMs: Infinity, multiplier: 1.5, randomizationFactor: 0.5 });
  const waits = Array.from({ length: 200 }, () => {
    backoff.reset();
    return backoff.next();
  });
  t.ok(
    waits.every((w) => w >= 500 && w <= 1500),
    'between 500 and 1500 ms',
  );
  t.ok(new Set(waits).size > 1, 'and not all the same: jittered');
  backoff.reset();
  backoff.next();
  const second = backoff.next();
  t.ok(second >= 750 && second <= 2250, `the second interval is 1500 ± 50 % (${Math.round(second)})`);
});
