/**
 * SVG charts of a run, written next to its JSON: fan-out delivery latency percentiles per system, and
 * the write path's ack p99 per offered rate per system. Plain SVG, no dependency, readable on GitHub.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { LatencySummary } from "./histogram.ts";

interface ChartInput {
  fanout: Record<string, { system: string; delivery: LatencySummary }>;
  rooms?: { system: string; connect: LatencySummary; delivery: LatencySummary }[];
  history?: { name: string; p50: number; p99: number }[];
  write: { system?: string; steps: { rate: number; ack: LatencySummary }[] };
  peerWrite: { system: string; steps: { rate: number; ack: LatencySummary }[] };
  bare?: { fanout: { system: string; delivery: LatencySummary } };
  costs?: { usd: Record<string, number>; usdTotal: number; ably: number; pusher: number };
}

const COLORS = ["#3451d1", "#d1345b", "#2a9d8f", "#e9a23b", "#6c757d"];
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** Horizontal grouped bars: one group per series, one bar per label. */
function bars(title: string, unit: string, groups: { name: string; values: [string, number][] }[]): string {
  const labels = groups[0]?.values.map(([l]) => l) ?? [];
  const max = Math.max(1, ...groups.flatMap((g) => g.values.map(([, v]) => v)));
  const barH = 14;
  const groupH = labels.length * (barH + 3) + 14;
  const left = 290;
  const width = 860;
  const plot = width - left - 70;
  const height = 50 + groups.length * groupH + 30;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui,sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="600">${esc(title)}</text>`,
  ];
  labels.forEach((l, i) => {
    out.push(
      `<rect x="${left + i * 90}" y="32" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${left + i * 90 + 14}" y="41">${esc(l)}</text>`,
    );
  });
  groups.forEach((g, gi) => {
    const y0 = 55 + gi * groupH;
    out.push(`<text x="10" y="${y0 + groupH / 2}">${esc(g.name)}</text>`);
    g.values.forEach(([, v], i) => {
      const y = y0 + i * (barH + 3);
      const w = Math.max(1, (v / max) * plot);
      out.push(
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[i % COLORS.length]}"/>`,
        `<text x="${left + w + 4}" y="${y + barH - 3}">${v > 0 ? (unit === "$" ? `$${v}` : `${v} ${unit}`) : unit === "$" ? "$0" : "not reached"}</text>`,
      );
    });
  });
  out.push("</svg>");
  return out.join("\n");
}

export function renderCharts(r: ChartInput, dir: string, stem: string): string[] {
  const fan = [...Object.values(r.fanout), ...(r.bare ? [r.bare.fanout] : [])].map((f) => ({
    name: f.system,
    values: [
      ["p50", f.delivery.p50],
      ["p95", f.delivery.p95],
      ["p99", f.delivery.p99],
    ] as [string, number][],
  }));
  const rates = [...new Set([...r.write.steps, ...r.peerWrite.steps].map((s) => s.rate))].sort((a, b) => a - b);
  const writes = [
    { name: r.write.system ?? "edgechat", steps: r.write.steps },
    { name: r.peerWrite.system, steps: r.peerWrite.steps },
  ].map((w) => ({
    name: w.name,
    values: rates.map((rate) => [`${rate}/s`, w.steps.find((s) => s.rate === rate)?.ack.p99 ?? 0] as [string, number]),
  }));
  const rooms = (r.rooms ?? []).map((x) => ({
    name: x.system,
    values: [
      ["connect p99", x.connect.p99],
      ["delivery p50", x.delivery.p50],
      ["delivery p99", x.delivery.p99],
    ] as [string, number][],
  }));
  const history = (r.history ?? []).map((h) => ({
    name: h.name.replace(/ \((redis|postgres)\)$/, ""),
    values: [
      ["p50", h.p50],
      ["p99", h.p99],
    ] as [string, number][],
  }));
  const files: [string, string][] = [
    [`${stem}-fanout.svg`, bars("Fan-out delivery latency (ms, lower is better)", "ms", fan)],
    [`${stem}-write-path.svg`, bars("Write path: ack p99 per offered rate (ms)", "ms", writes)],
  ];
  if (rooms.length) files.push([`${stem}-rooms.svg`, bars("Many rooms: connect storm and delivery (ms)", "ms", rooms)]);
  if (history.length) files.push([`${stem}-history.svg`, bars("REST history page latency (ms)", "ms", history)]);
  if (r.costs) {
    const usd = (name: string, v: number) => ({
      name,
      values: [["USD", Math.round(v * 10_000) / 10_000]] as [string, number][],
    });
    const lines = Object.entries(r.costs.usd).map(([name, v]) => usd(`edgechat: ${name}`, v));
    const costs = [
      usd("edgechat, all", r.costs.usdTotal),
      ...lines,
      usd("Ably", r.costs.ably),
      usd("Pusher Startup", r.costs.pusher),
    ];
    files.push([`${stem}-costs.svg`, bars("What 1,000 messages cost at list prices (USD)", "$", costs)]);
  }
  for (const [name, svg] of files) writeFileSync(path.join(dir, name), `${svg}\n`);
  return files.map(([name]) => name);
}
