// Counts the assertions in a TAP stream, at every depth, and prints each skipped or todo test with
// its reason, then "N passed, N failed, N skipped". The points that only close a subtest are left out,
// unless the subtest was skipped as a whole (a skipped file or `t.test(name, { skip })`): then its
// assertions never ran and the closing point is what stands for them. A todo is neither a pass nor
// a failure (it is not expected to work yet): it is listed, like the skips, but not counted.
import { Parser } from 'tap-parser';

let passed = 0;
let failed = 0;
const skipped = [];
const todo = [];

function watch(parser) {
  parser.on('child', watch);
  parser.on('assert', (res) => {
    if (res.todo) {
      todo.push(`${res.fullname || res.name}: ${res.todo === true ? 'no reason given' : res.todo}`);
      return;
    }
    if (res.skip) {
      skipped.push(`${res.fullname || res.name}: ${res.skip === true ? 'no reason given' : res.skip}`);
      return;
    }
    if (res.closingTestPoint) return;
    if (res.ok) passed++;
    else failed++;
  });
}

const parser = new Parser();
watch(parser);
parser.on('complete', (results) => {
  // A test file that crashed before any assertion has no failing leaf; count it.
  if (!results.ok && failed === 0) failed = 1;
  for (const s of skipped) console.log(`skipped: ${s}`);
  for (const s of todo) console.log(`todo: ${s}`);
  console.log(`${passed} passed, ${failed} failed, ${skipped.length} skipped`);
});
process.stdin.pipe(parser);
