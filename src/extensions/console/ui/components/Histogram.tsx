import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { Histogram as HistogramData } from '../api.js';
import { count, SEVERITY_COLORS } from '../format.js';

/** Bottom to top: the levels that need attention sit on the axis, where they are seen first. */
const STACK_ORDER = ['FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE', 'UNSPECIFIED'] as const;

const utc = (seconds: number) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC');

/** 24-hour UTC labels; the date joins the time once the range spans more than a day. */
function utcLabel(seconds: number, spanSeconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return spanSeconds > 86400 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, spanSeconds < 600 ? 19 : 16);
}

/** Follows the width of `element`, so charts fill their column at any window size. */
export function useWidth(element: { current: HTMLElement | null }, onWidth: (width: number) => void): void {
  useEffect(() => {
    const target = element.current;
    if (!target) return;
    const observer = new ResizeObserver(() => onWidth(target.clientWidth));
    observer.observe(target);
    return () => observer.disconnect();
  }, [element.current]);
}

/**
 * Records per bucket stacked by severity (uPlot has no stacking: each level is drawn as a bar up to the
 * sum of the levels below it and itself, the tallest first). Dragging across it selects a new range.
 */
export function Histogram(props: { data: HistogramData; onSelect: (fromSeconds: number, toSeconds: number) => void }) {
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const onSelect = useRef(props.onSelect);
  onSelect.current = props.onSelect;

  useEffect(() => {
    const target = container.current;
    if (!target) return;
    const { buckets, counts, bucket_seconds: bucketSeconds } = props.data;
    const levels = STACK_ORDER.filter((level) => counts[level]?.some((n) => n > 0));
    const stacks: number[][] = [];
    let sums: number[] = buckets.map(() => 0);
    for (const level of levels) {
      sums = sums.map((sum, i) => sum + (counts[level]![i] ?? 0));
      stacks.push(sums);
    }
    const drawOrder = levels.map((level, i) => ({ level, stack: stacks[i]! })).reverse();
    const bars = uPlot.paths.bars!({ size: [0.85, 64], gap: 1, align: 1 });
    const first = buckets[0] ?? 0;
    const last = (buckets[buckets.length - 1] ?? first) + bucketSeconds;
    const options: uPlot.Options = {
      width: target.clientWidth || 800,
      height: 140,
      tzDate: utc,
      padding: [8, 24, 0, 0],
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      legend: { live: true },
      scales: { x: { time: true, range: () => [first, last] }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [
        {
          stroke: '#5b6270',
          size: 28,
          grid: { show: false },
          ticks: { show: false },
          values: (_u, splits) => splits.map((s) => utcLabel(s, last - first)),
        },
        {
          stroke: '#5b6270',
          size: 48,
          grid: { stroke: '#eceef2' },
          ticks: { show: false },
          values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? count(v) : '')),
        },
      ],
      series: [
        {
          label: 'UTC',
          value: (_u, v) => (v === null ? '—' : new Date(v * 1000).toISOString().slice(0, 19).replace('T', ' ')),
        },
        ...drawOrder.map(({ level }) => ({
          label: level,
          fill: SEVERITY_COLORS[level],
          stroke: SEVERITY_COLORS[level],
          width: 0,
          paths: bars,
          points: { show: false },
          value: (_u: uPlot, _v: number | null, _series: number, index: number | null) =>
            index === null ? '—' : count(counts[level]![index] ?? 0),
        })),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const fromSeconds = u.posToVal(u.select.left, 'x');
            const toSeconds = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            onSelect.current(fromSeconds, toSeconds);
          },
        ],
      },
    };
    chart.current = new uPlot(options, [buckets, ...drawOrder.map(({ stack }) => stack)], target);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, [props.data]);

  useWidth(container, (width) => chart.current?.setSize({ width, height: 140 }));

  const total = Object.values(props.data.counts).reduce(
    (sum, series) => sum + (series ?? []).reduce((a, b) => a + b, 0),
    0,
  );
  return (
    <figure class="histogram" aria-label={`Histogram of ${total} records by severity`}>
      <div ref={container} data-total={total} />
    </figure>
  );
}
