import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

/** A template's count per bucket over the range, no axes; its peak is in the title. */
export function Sparkline(props: { buckets: number[]; series: number[]; width?: number; height?: number }) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const target = container.current;
    if (!target) return;
    const chart = new uPlot(
      {
        width: props.width ?? 140,
        height: props.height ?? 28,
        padding: [2, 0, 2, 0],
        cursor: { show: false },
        legend: { show: false },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{ show: false }, { show: false }],
        series: [{}, { stroke: '#3d6fb6', fill: 'rgba(61,111,182,0.18)', width: 1.25, points: { show: false } }],
      },
      [props.buckets, props.series],
      target,
    );
    return () => chart.destroy();
  }, [props.buckets, props.series]);
  return (
    <div
      class="sparkline"
      ref={container}
      title={`peak ${Math.max(0, ...props.series)} per bucket`}
      aria-hidden="true"
    />
  );
}
