import t from 'tap';
import { ByteWriter } from '../../../src/exporters/clickhouse/byte-writer.js';

// What a JSON string literal inside ClickHouse's $$…$$ literal must be: JSON.stringify of the
// well-formed text, with `$` escaped. Short strings take a copy loop and long ones Buffer#write:
// both must give these bytes, at every length around the switch and for every kind of character.
const expected = (s: string) => JSON.stringify(s.toWellFormed()).replaceAll('$', '\\u0024');
const ALPHABET = ['a', 'Z', '0', ' ', '"', '\\', '$', '\u0000', '\u001f', '\u007f', '\u0080', 'é', 'ж', '€', '\u2028', '\ud83d\ude00', '\ud800', '\udfff', '\n', '{'];

t.test('jsonString and raw write the bytes of the JSON text, short or long, ASCII or not', async (t) => {
  let seed = 7;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const writer = new ByteWriter();
  let text = '';
  for (let k = 0; k < 20_000; k++) {
    const length = k % 4 === 0 ? 62 + next(5) : next(20);
    let s = '';
    for (let i = 0; i < length; i++) s += next(3) ? String.fromCharCode(97 + next(26)) : ALPHABET[next(ALPHABET.length)]!;
    writer.jsonString(s);
    // raw() takes pre-escaped text such as an attribute key's `"key":`, which may hold any character.
    writer.raw(`${expected(s)}:`);
    writer.byte(0x2c);
    text += `${expected(s)}${expected(s)}:,`;
  }
  t.ok(Buffer.from(writer.toString(), 'utf8').equals(Buffer.from(text, 'utf8')), 'the same bytes as the JSON texts');
  t.equal(writer.toString(), text, 'the same text');
});
