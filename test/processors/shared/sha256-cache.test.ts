import t from 'tap';
import { Sha256Cache } from '../../../src/processors/shared/sha256-cache.js';
import { sha256 } from '../../support/processors.js';

t.test('hash action: digests of values over 256 characters are not cached, so large values are not pinned', async (t) => {
  const cache = new Sha256Cache();
  const long = 'x'.repeat(Sha256Cache.MAX_CACHED_LENGTH + 1);
  t.equal(cache.digest(long), sha256(long));
  t.equal(cache.size, 0, 'a long value is hashed but not kept');
  const short = 'y'.repeat(Sha256Cache.MAX_CACHED_LENGTH);
  t.equal(cache.digest(short), sha256(short));
  t.equal(cache.digest(short), sha256(short), 'a cached digest is the same');
  t.equal(cache.size, 1, 'a short value is kept');
  for (let i = 0; i < Sha256Cache.GENERATION_SIZE * 2 + 10; i++) cache.digest(`user-${i}`);
  t.ok(cache.size <= Sha256Cache.GENERATION_SIZE * 2, 'at most two generations are kept');
  t.equal(cache.digest('user-5'), sha256('user-5'));
});
