/**
 * One Chart.js chart. The numbers it draws are read back from the chart and written onto the
 * figure (data-labels, data-series) so tests and screen readers get exactly what is drawn; each
 * chart also has its numbers in a table next to it.
 */
import { useEffect, useRef } from 'preact/hooks';
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend, Filler);

export interface Series {
  label: string;
  values: Array<number | null>;
  color: string;
  dashed?: boolean;
  /** Draw the line across null points (sparse series on a time axis). */
  spanGaps?: boolean;
}

export function ChartView(props: { id: string; kind: 'bar' | 'line'; labels: string[]; series: Series[]; title: string; yLabel?: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const figure = useRef<HTMLElement>(null);
  useEffect(() => {
    if (!canvas.current || !figure.current) return undefined;
    const config: ChartConfiguration<'bar' | 'line', Array<number | null>, string> = {
      type: props.kind,
      data: {
        labels: props.labels,
        datasets: props.series.map((s) => ({
          label: s.label,
          data: s.values,
          backgroundColor: s.color,
          borderColor: s.color,
          borderDash: s.dashed ? [6, 4] : [],
          spanGaps: s.spanGaps ?? false,
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { position: 'bottom' } },
        scales: { y: { beginAtZero: true, ...(props.yLabel ? { title: { display: true, text: props.yLabel } } : {}) } },
      },
    };
    const chart = new Chart(canvas.current, config);
    figure.current.dataset['labels'] = JSON.stringify(chart.data.labels);
    figure.current.dataset['series'] = JSON.stringify(chart.data.datasets.map((d) => ({ label: d.label, values: d.data })));
    return () => chart.destroy();
  }, [props.kind, JSON.stringify(props.labels), JSON.stringify(props.series)]);
  return (
    <figure ref={figure} id={props.id} class="chart" aria-label={props.title}>
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label={props.title} />
      </div>
      <figcaption>{props.title}</figcaption>
    </figure>
  );
}
