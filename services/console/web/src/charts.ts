// Charts, with Chart.js (canvas, no injected styles: fits a strict content
// security policy) and its annotation plugin for the target lines. Only
// the parts used are registered, so the bundle carries nothing else.
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LogarithmicScale, ScatterController, PointElement, Tooltip,
  type ChartDataset, type TooltipItem,
} from "chart.js";
import annotationPlugin from "chartjs-plugin-annotation";
import { duration } from "./format.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, ScatterController, PointElement, Tooltip, Legend, annotationPlugin);
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
Chart.defaults.animation = false;

const HOUR = 3600;
const DAY = 86400;
const NICE_TICKS: [number, string][] = [
  [60, "1 min"], [600, "10 min"], [HOUR, "1 hour"], [6 * HOUR, "6 hours"], [DAY, "1 day"], [7 * DAY, "7 days"], [30 * DAY, "30 days"], [120 * DAY, "120 days"], [365 * DAY, "1 year"],
];
export const PALETTE = ["#0b5d4b", "#c2410c", "#1d4ed8", "#7c3aed", "#b45309", "#0e7490", "#be123c", "#4d7c0f", "#6b7280", "#a21caf"];

/** One group of a delay distribution, in seconds. */
export interface Spread {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface DelaySeries {
  name: string;
  /** One per label; null where the group has no observations. */
  values: (Spread | null)[];
}

export interface TargetLine {
  seconds: number;
  label: string;
  color: string;
}

export const G20_ONE_HOUR: TargetLine = { seconds: HOUR, label: "G20: within 1 hour", color: "#15803d" };
export const ONE_DAY: TargetLine = { seconds: DAY, label: "G20: within 1 day", color: "#b45309" };
export const DEADLINE_120_DAYS: TargetLine = { seconds: 120 * DAY, label: "120-day repatriation deadline", color: "#b91c1c" };

/** Median to p90 as a floating bar per group, p99 as a dot, on a log
 * axis of time, with the target lines. */
export function delayChart(canvas: HTMLCanvasElement, labels: string[], series: DelaySeries[], lines: TargetLine[], minTop = 0): void {
  const hours = (s: number) => Math.max(s, 1) / HOUR;
  const datasets: ChartDataset<"bar" | "scatter", unknown[]>[] = [];
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    datasets.push({
      type: "bar",
      label: series.length > 1 ? s.name : "median to p90",
      data: s.values.map((v) => (v ? [hours(v.p50), hours(Math.max(v.p90, v.p50 * 1.02))] : null)),
      backgroundColor: color + "cc",
      borderColor: color,
      borderWidth: 1,
      borderSkipped: false,
      grouped: true,
    } as ChartDataset<"bar", unknown[]>);
  });
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    datasets.push({
      type: "scatter",
      label: series.length > 1 ? `${s.name} p99` : "p99",
      data: s.values.map((v, j) => (v ? { x: labels[j], y: hours(v.p99) } : null)).filter((p) => p !== null),
      backgroundColor: "#fff",
      borderColor: color,
      pointStyle: "rectRot",
      pointRadius: 4,
    } as ChartDataset<"scatter", unknown[]>);
  });
  const top = Math.max(minTop, ...series.flatMap((s) => s.values.map((v) => (v ? v.p99 : 0))));
  const annotations = Object.fromEntries(
    lines.map((l, i) => [
      `line${i}`,
      {
        type: "line" as const,
        yMin: l.seconds / HOUR,
        yMax: l.seconds / HOUR,
        borderColor: l.color,
        borderWidth: 2,
        borderDash: [6, 4],
        label: { display: true, content: l.label, position: "start" as const, backgroundColor: l.color, color: "#fff", font: { size: 11 } },
      },
    ]),
  );
  const lookup = (item: TooltipItem<"bar" | "scatter">) => series[item.datasetIndex % series.length]?.values[item.dataIndex];
  new Chart(canvas, {
    type: "bar",
    data: { labels, datasets: datasets as ChartDataset<"bar", unknown[]>[] },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        x: { ticks: { autoSkip: false, maxRotation: 40, minRotation: 0 } },
        y: {
          type: "logarithmic",
          min: 1 / 60,
          suggestedMax: (top * 1.5) / HOUR,
          title: { display: true, text: "time (log scale)" },
          // Ticks at durations people think in, labelled as durations.
          afterBuildTicks: (axis) => {
            axis.ticks = NICE_TICKS.map(([t]) => t / HOUR).filter((v) => v >= axis.min && v <= axis.max).map((value) => ({ value }));
          },
          ticks: { callback: (v) => NICE_TICKS.find(([t]) => Math.abs(t / HOUR - Number(v)) < 1e-9)?.[1] ?? duration(Number(v) * HOUR) },
        },
      },
      plugins: {
        legend: { position: "bottom" },
        annotation: { annotations },
        tooltip: {
          callbacks: {
            label: (item) => {
              const v = lookup(item);
              if (!v) return "";
              return `${item.dataset.label}: n=${v.count}, median ${duration(v.p50)}, p90 ${duration(v.p90)}, p99 ${duration(v.p99)}, max ${duration(v.max)}, mean ${duration(v.mean)}`;
            },
          },
        },
      },
    },
  });
}

/** Plain bars, one dataset per series, with optional target lines. */
export function barChart(canvas: HTMLCanvasElement, labels: string[], series: { name: string; values: (number | null)[] }[], yTitle: string, lines: { value: number; label: string; color: string }[] = [], log = false): void {
  new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: series.map((s, i) => ({ label: s.name, data: s.values, backgroundColor: PALETTE[i % PALETTE.length] + "cc", borderColor: PALETTE[i % PALETTE.length], borderWidth: 1 })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      scales: { y: log ? { type: "logarithmic", title: { display: true, text: yTitle } } : { beginAtZero: true, title: { display: true, text: yTitle } } },
      plugins: {
        legend: { position: "bottom" },
        annotation: {
          annotations: Object.fromEntries(
            lines.map((l, i) => [`l${i}`, { type: "line" as const, yMin: l.value, yMax: l.value, borderColor: l.color, borderWidth: 2, borderDash: [6, 4], label: { display: true, content: l.label, position: "start" as const, backgroundColor: l.color, color: "#fff", font: { size: 11 } } }]),
          ),
        },
      },
    },
  });
}

/** A chart in a frame with its caption: what period, what scope, how many. */
export function chartFrame(caption: string): { frame: HTMLElement; canvas: HTMLCanvasElement; caption: HTMLElement } {
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", caption);
  const box = document.createElement("div");
  box.className = "chart-box";
  box.append(canvas);
  const cap = document.createElement("p");
  cap.className = "chart-caption";
  cap.textContent = caption;
  const frame = document.createElement("figure");
  frame.className = "chart";
  frame.append(box, cap);
  return { frame, canvas, caption: cap };
}
