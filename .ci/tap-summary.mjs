// Counts the assertions in a TAP stream, at every depth, leaving out the points that only close a
// subtest, and prints "N passed, N failed".
import { Parser } from 'tap-parser';

let passed = 0;
let failed = 0;

function watch(parser) {
  const subtests = new Set();
  parser.on('child', (child) => {
    subtests.add(child.name);
    watch(child);
  });
  parser.on('assert', (res) => {
    if (subtests.has(res.name)) return;
    if (res.skip || res.todo) return;
    if (res.ok) passed++;
    else failed++;
  });
}

const parser = new Parser();
watch(parser);
parser.on('complete', (results) => {
  // A test file that crashed before any assertion has no failing leaf; count it.
  if (!results.ok && failed === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed`);
});
process.stdin.pipe(parser);
