import { useEffect, useRef, useState } from 'preact/hooks';

export const DEFAULT_FROM = '-1h';

const PRESETS = [
  { label: '15m', from: '-15m' },
  { label: '1h', from: '-1h' },
  { label: '6h', from: '-6h' },
  { label: '24h', from: '-24h' },
  { label: '7d', from: '-7d' },
];

/**
 * What someone may type for a custom bound: RFC 3339, a relative time (`-15m`, `now`), or `YYYY-MM-DD HH:MM[:SS]` read
 * as UTC.
 */
export function normalizeTime(text: string): string {
  const trimmed = text.trim();
  const plain = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d(?::\d\d(?:\.\d+)?)?)$/.exec(trimmed);
  if (plain) return `${plain[1]}T${plain[2]!.length === 5 ? `${plain[2]}:00` : plain[2]}Z`;
  return trimmed;
}

/** The range picker: presets relative to now, or a custom range of two bounds; both go to the URL as `from`/`to`. */
export function TimeRange(props: {
  from?: string;
  to?: string;
  onChange: (from?: string, to?: string) => void;
  onRefresh: () => void;
}) {
  const from = props.from || DEFAULT_FROM;
  const to = props.to || 'now';
  const preset = to === 'now' ? PRESETS.find((p) => p.from === from) : undefined;
  const [editing, setEditing] = useState(false);
  const [fromText, setFromText] = useState(from);
  const [toText, setToText] = useState(to);
  const fromInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    setFromText(from);
    setToText(to);
  }, [from, to]);
  useEffect(() => {
    if (editing) fromInput.current?.focus();
  }, [editing]);

  return (
    <div class="time-range" role="group" aria-label="Time range">
      {PRESETS.map((p) => (
        <button
          type="button"
          class={preset === p ? 'preset active' : 'preset'}
          aria-pressed={preset === p}
          title={`Last ${p.label}`}
          onClick={() => {
            setEditing(false);
            props.onChange(p.from === DEFAULT_FROM ? undefined : p.from, undefined);
          }}
        >
          {p.label}
        </button>
      ))}
      <button
        type="button"
        class={preset ? 'preset' : 'preset active'}
        aria-expanded={editing}
        onClick={() => setEditing(!editing)}
      >
        {preset ? 'Custom' : `${from} → ${to}`}
      </button>
      <button
        type="button"
        class="refresh"
        title="Load again (a relative range moves with the clock)"
        aria-label="Refresh"
        onClick={props.onRefresh}
      >
        ↻
      </button>
      {editing && (
        <form
          class="custom-range"
          onSubmit={(event) => {
            event.preventDefault();
            setEditing(false);
            props.onChange(
              normalizeTime(fromText),
              normalizeTime(toText) === 'now' ? undefined : normalizeTime(toText),
            );
          }}
          onKeyDown={(event) => {
            if (event.key === 'Escape') {
              event.stopPropagation();
              setEditing(false);
            }
          }}
        >
          <label>
            From{' '}
            <input
              ref={fromInput}
              name="from"
              value={fromText}
              onInput={(e) => setFromText(e.currentTarget.value)}
              placeholder="-1h or 2026-12-02 05:00"
            />
          </label>
          <label>
            To <input name="to" value={toText} onInput={(e) => setToText(e.currentTarget.value)} placeholder="now" />
          </label>
          <button type="submit">Apply</button>
          <span class="hint">UTC; RFC 3339, “YYYY-MM-DD HH:MM” or relative (-15m, -7d, now)</span>
        </form>
      )}
    </div>
  );
}
