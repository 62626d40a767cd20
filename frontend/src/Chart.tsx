import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { bucketLabel, chartTitle, formatCount, tickLabels } from './lib/format';
import type { Bucket } from './lib/time';

const HEIGHT = 260;

/** The performance mark set when the first chart with data is drawn (read by the end-to-end test). */
export const FIRST_CHART_MARK = 'prawn:first-chart';

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function options(width: number, bucket: Bucket, tz: string, points: number): uPlot.Options {
  const ink = cssVar('--muted', '#666');
  const grid = cssVar('--grid', 'rgba(128,128,128,0.2)');
  const line = cssVar('--accent', '#d9480f');
  const fill = cssVar('--accent-fill', 'rgba(217,72,15,0.15)');
  const line2 = cssVar('--accent-2', '#1864ab');
  const axis: uPlot.Axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  return {
    width,
    height: HEIGHT,
    // uPlot draws in the browser's own time zone, which is the visitor's (visitorTZ).
    series: [
      { label: bucket === 'hour' ? 'Hour' : 'Day', value: (_u, t) => (t == null ? '–' : bucketLabel(t, bucket, tz)) },
      {
        label: 'Views',
        stroke: line,
        fill,
        width: 2,
        points: { show: points <= 60, size: 5 },
        value: (_u, v) => (v == null ? '–' : formatCount(v)),
      },
      {
        label: 'Visitors',
        stroke: line2,
        width: 2,
        dash: [6, 3],
        points: { show: points <= 60, size: 5 },
        value: (_u, v) => (v == null ? '–' : formatCount(v)),
      },
    ],
    scales: { y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] } },
    axes: [
      { ...axis, values: (_u, splits, _axis, _space, incr) => tickLabels(splits, incr, tz) },
      { ...axis, values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? formatCount(v) : '')) },
    ],
    cursor: { y: false, drag: { x: false, y: false }, points: { size: 8 } },
    legend: { live: true },
    hooks: {
      // Away from the chart, the legend shows the latest bucket instead of dashes.
      ready: [(u) => showLatest(u)],
      setCursor: [(u) => u.cursor.idx == null && showLatest(u)],
    },
  };
}

function showLatest(u: uPlot) {
  const last = u.data[0].length - 1;
  if (last >= 0) u.setLegend({ idx: last }, false);
}

/**
 * Views and visitors per bucket as a uPlot line chart; hovering shows each bucket's time, views
 * and visitors in the legend, and a click on a legend entry hides or shows its line.
 */
export function Chart({ times, views, visitors, bucket, tz }: { times: number[]; views: number[]; visitors: number[]; bucket: Bucket; tz: string }) {
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let plot: uPlot | undefined;
    const draw = () => {
      plot?.destroy();
      plot = new uPlot(options(Math.max(200, el.clientWidth), bucket, tz, times.length), [times, views, visitors], el);
    };
    draw();
    if (times.length > 0 && performance.getEntriesByName(FIRST_CHART_MARK).length === 0) {
      performance.mark(FIRST_CHART_MARK);
    }
    const resize = new ResizeObserver(() => plot?.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    // Colours come from CSS variables: redraw when the colour scheme flips.
    const scheme = window.matchMedia('(prefers-color-scheme: dark)');
    scheme.addEventListener('change', draw);
    return () => {
      resize.disconnect();
      scheme.removeEventListener('change', draw);
      plot?.destroy();
    };
  }, [times, views, visitors, bucket, tz]);

  const total = views.reduce((a, b) => a + b, 0);
  const visitorTotal = visitors.reduce((a, b) => a + b, 0);
  return (
    <figure className="chart">
      <div
        ref={box}
        className="chart-box"
        data-testid="chart"
        data-points={times.length}
        data-total={total}
        data-visitors={visitorTotal}
        role="img"
        aria-label={`${chartTitle(bucket)}: ${formatCount(total)} views and the visitors of each ${bucket} in ${times.length} ${bucket === 'hour' ? 'hours' : 'days'}`}
      />
    </figure>
  );
}
