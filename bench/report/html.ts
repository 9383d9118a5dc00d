/**
 * `--report FILE.html`: one self-contained page for people — bandwidth and IOPS per job and target,
 * latency percentiles, the load curve and the transfer modes — drawn by chart.js, whose UMD build is
 * read from node_modules and inlined with the report data, so the page opens with no network.
 *
 * The charts sit in a fixed grid (REPORT_LAYOUT) above the tables, so a screenshot test knows where
 * each chart is and can check that it was drawn. Animation is off: the first frame is the final one.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { StorageBenchReport } from '../storage/index.js';

/** Where each chart is drawn, in CSS pixels: a grid of `columns`, each cell `cellWidth` x `cellHeight`. */
export const REPORT_LAYOUT = {
  headerHeight: 120,
  margin: 20,
  cellWidth: 600,
  cellHeight: 340,
  gap: 20,
  columns: 2,
  /** Window size that shows every chart of a full report. */
  windowWidth: 1280,
  windowHeight: 1980,
} as const;

/** Target colours (also what a screenshot test looks for: saturated pixels). */
export const TARGET_COLORS = { local: '#1f77b4', remote: '#d62728', fio: '#2ca02c' } as const;

/** The chart titles in grid order (the screenshot test checks one cell per title). */
export function chartTitles(reports: readonly StorageBenchReport[]): string[] {
  const titles: string[] = [];
  for (const r of reports) {
    const k = `${r.kind} ${r.options.backend}`;
    titles.push(
      `${k}: bandwidth (MB/s)`,
      `${k}: IOPS (files/s for metadata)`,
      `${k}: latency p50..p99.9 (us)`,
      `${k}: load curve (IOPS vs p99 latency)`,
    );
    if (r.copies.length > 0) titles.push(`${k}: transfer modes (MB/s)`);
  }
  return titles;
}

/** Top-left corner of grid cell `i`. */
export function cellOrigin(i: number): { x: number; y: number } {
  const L = REPORT_LAYOUT;
  const col = i % L.columns;
  const row = Math.floor(i / L.columns);
  return { x: L.margin + col * (L.cellWidth + L.gap), y: L.headerHeight + row * (L.cellHeight + L.gap) };
}

/** chart.js's self-contained browser build, as shipped in its npm package. */
async function chartJsSource(): Promise<string> {
  const require = createRequire(import.meta.url);
  const file = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
  try {
    return await readFile(file, 'utf8');
  } catch {
    throw new Error(
      `cannot read chart.js's browser build at ${file}: run npm ci to install ferry's dependencies`,
    );
  }
}

/** Makes text safe inside <script>: no "</script" can end the element early. */
function scriptSafe(text: string): string {
  return text.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function ratioText(x: number | null): string {
  return x === null ? '-' : `${x.toFixed(2)}x`;
}

function ratioTable(r: StorageBenchReport): string {
  const rows = r.ratios
    .map(
      (q) =>
        `<tr><td>${escapeHtml(q.job)}</td><td>${ratioText(q.remote_to_local)}</td><td>${ratioText(q.local_to_fio)}</td><td>${ratioText(q.remote_to_fio)}</td></tr>`,
    )
    .join('');
  const missing = Object.entries(r.unavailable)
    .map(([t, why]) => `<p class="note">${escapeHtml(t)}: not measured: ${escapeHtml(String(why))}</p>`)
    .join('');
  return `<h2>${escapeHtml(`${r.kind} --backend ${r.options.backend}`)}: ratios</h2>
<table><tr><th>job</th><th>remote / local</th><th>local / fio</th><th>remote / fio</th></tr>${rows}</table>${missing}`;
}

/** Builds the page for one or more reports (e.g. the block device and the filesystem runs). */
export async function renderHtmlReport(reports: readonly StorageBenchReport[]): Promise<string> {
  const L = REPORT_LAYOUT;
  const chartJs = await chartJsSource();
  const titles = chartTitles(reports);
  const cells = titles
    .map((t, i) => {
      const { x, y } = cellOrigin(i);
      // Cells are placed inside the grid, which starts right below the header.
      return `<div class="cell" style="left:${x}px;top:${y - L.headerHeight}px"><canvas id="chart${i}" width="${L.cellWidth}" height="${L.cellHeight}"></canvas></div>`;
    })
    .join('\n');
  const gridHeight = cellOrigin(titles.length - 1 + L.columns).y - L.headerHeight;
  const first = reports[0];
  const subtitle = first
    ? `${first.host.cpu_model}, ${first.host.cpus} CPUs, Node ${first.host.node}; ${first.started_at}; size ${first.options.size_bytes} bytes, runtime ${first.options.runtime_ms} ms, iodepth ${first.options.iodepth}, jobs ${first.options.numjobs}`
    : '';
  const interrupted = reports.some((r) => r.interrupted)
    ? '<p class="note">interrupted: partial figures</p>'
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ferry storage benchmark</title>
<style>
body{margin:0;font:14px system-ui,sans-serif;color:#222;background:#fff}
header{height:${L.headerHeight}px;box-sizing:border-box;padding:${L.margin}px}
h1{margin:0 0 8px;font-size:22px} h2{font-size:16px}
.grid{position:relative;height:${gridHeight}px}
.cell{position:absolute;width:${L.cellWidth}px;height:${L.cellHeight}px}
.tables{padding:0 ${L.margin}px ${L.margin}px}
table{border-collapse:collapse;margin-bottom:12px} td,th{border:1px solid #ccc;padding:3px 8px;text-align:right} td:first-child{text-align:left}
.note{color:#555}
</style></head><body>
<header><h1>ferry storage benchmark</h1><div>${escapeHtml(subtitle)}</div>${interrupted}</header>
<div class="grid">
${cells}
</div>
<div class="tables">${reports.map(ratioTable).join('\n')}</div>
<script>${scriptSafe(chartJs)}</script>
<script>const REPORTS = ${scriptSafe(JSON.stringify(reports))}; const COLORS = ${JSON.stringify(TARGET_COLORS)}; const TITLES = ${scriptSafe(JSON.stringify(titles))};
${scriptSafe(PAGE_SCRIPT)}</script>
</body></html>
`;
}

/** Runs in the page: builds the charts from REPORTS in the order chartTitles() names them. */
const PAGE_SCRIPT = String.raw`
Chart.defaults.animation = false;
Chart.defaults.responsive = false;
Chart.defaults.font.size = 12;
const TARGETS = ['local', 'remote', 'fio'];
const PERCENTILES = [['p50', '50.000000'], ['p90', '90.000000'], ['p99', '99.000000'], ['p99.9', '99.900000']];
let next = 0;
function chart(type, data, extra) {
  const i = next++;
  const options = Object.assign({ plugins: { title: { display: true, text: TITLES[i] } } }, extra || {});
  new Chart(document.getElementById('chart' + i), { type, data, options });
}
function find(rep, job, target) {
  return rep.results.find((r) => r.job === job && r.target === target && r.status === 'ok');
}
const logY = (label) => ({ scales: { y: { type: 'logarithmic', title: { display: true, text: label } } } });
for (const rep of REPORTS) {
  const jobs = [...new Set(rep.results.map((r) => r.job))];
  const dataJobs = jobs.filter((j) => rep.results.some((r) => r.job === j && r.bs > 0));
  const present = TARGETS.filter((t) => rep.results.some((r) => r.target === t && r.status === 'ok'));
  chart('bar', { labels: dataJobs, datasets: present.map((t) => ({ label: t, backgroundColor: COLORS[t],
    data: dataJobs.map((j) => { const r = find(rep, j, t); return r ? r.bw_bytes / 1e6 : null; }) })) }, logY('MB/s'));
  chart('bar', { labels: jobs, datasets: present.map((t) => ({ label: t, backgroundColor: COLORS[t],
    data: jobs.map((j) => { const r = find(rep, j, t); return r ? r.iops : null; }) })) }, logY('operations/s'));
  const latSets = [];
  for (const t of present) for (const j of jobs) {
    const r = find(rep, j, t);
    if (!r) continue;
    latSets.push({ label: j + ' ' + t, borderColor: COLORS[t], backgroundColor: COLORS[t], borderWidth: 1.5, pointRadius: 2,
      data: PERCENTILES.map(([, k]) => Math.max(0.001, r.clat_ns.percentile[k] / 1000)) });
  }
  chart('line', { labels: PERCENTILES.map(([n]) => n), datasets: latSets },
    Object.assign(logY('microseconds'), { plugins: { title: { display: true, text: TITLES[next] }, legend: { display: latSets.length <= 12 } } }));
  chart('line', { datasets: rep.curves.map((c) => ({ label: c.target + ' ' + c.job, borderColor: COLORS[c.target], backgroundColor: COLORS[c.target],
    showLine: true, borderWidth: 3, pointRadius: 5, data: c.points.map((p) => ({ x: p.iops, y: Math.max(0.001, p.p99_ns / 1000), qd: p.iodepth })) })) },
    { scales: { x: { type: 'logarithmic', title: { display: true, text: 'IOPS (queue depth 1..32)' } }, y: { type: 'logarithmic', title: { display: true, text: 'p99 latency (us)' } } } });
  if (rep.copies.length > 0) {
    const labels = rep.copies.map((c) => c.mode + (c.impair ? ' impaired' : ''));
    chart('bar', { labels, datasets: [{ label: 'MB/s', backgroundColor: rep.copies.map((c) => c.mode === 'local' ? COLORS.local : c.impair ? '#ff7f0e' : COLORS.remote),
      data: rep.copies.map((c) => c.status === 'ok' ? c.bw_bytes / 1e6 : null) }] }, { plugins: { title: { display: true, text: TITLES[next] }, legend: { display: false } } });
  }
}
document.title = 'ferry storage benchmark (' + next + ' charts)';
`;
