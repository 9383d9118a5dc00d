/**
 * `ferry bench ... --report FILE.html` and `ferry bench report`: the page is self-contained (no
 * network reference: chart.js is inlined) and its charts really render — checked by opening it in
 * headless Chromium, taking a screenshot and counting coloured pixels in every chart cell of the
 * fixed grid, against the same page with scripts off (which must show no chart).
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cellOrigin, chartTitles, REPORT_LAYOUT } from '../../bench/report/html.js';
import type { StorageBenchReport } from '../../bench/storage/index.js';
import { runFerry } from '../helpers/cli.js';
import { colourfulPixels, decodePng } from './bench-report-png.js';

const CHROMIUM = 'chromium';
const CHROMIUM_TIMEOUT_MS = 60_000;
/** A drawn chart has thousands of coloured pixels (bars, lines, legend boxes); an empty cell none. */
const MIN_CHART_PIXELS = 1500;
const MAX_BLANK_PIXELS = 50;

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-report-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Screenshots `html` in headless Chromium with a fresh profile; resolves to the PNG bytes. */
function screenshot(html: string, png: string, profile: string): Promise<Buffer> {
  const L = REPORT_LAYOUT;
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--force-device-scale-factor=1',
    `--user-data-dir=${profile}`,
    `--screenshot=${png}`,
    `--window-size=${L.windowWidth},${L.windowHeight}`,
    `file://${html}`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(
      () => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'),
      CHROMIUM_TIMEOUT_MS,
    );
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${CHROMIUM} (${e.message}): install it with scripts/setup.sh --test`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`chromium exited with ${code}: ${err.slice(-500)}`));
      else resolve(readFile(png));
    });
  });
}

test('bench fs --report: a self-contained page whose charts render in headless Chromium', async (t) => {
  const dir = await tempDir(t);
  const html = path.join(dir, 'report.html');
  const r = await runFerry(
    ['bench', 'fs', '--smoke', '--only', 'seqwrite-1m,randread-4k,meta-create', '--report', html, '--json'],
    { timeoutMs: 60_000 },
  );
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as StorageBenchReport;
  const page = await readFile(html, 'utf8');
  t.notRegex(page, /<script[^>]*\bsrc=/i, 'no external script');
  t.notRegex(page, /<link\b/i, 'no external stylesheet');
  t.notRegex(page, /<img\b/i, 'no image fetched');
  t.regex(page, /Chart\.js v4/, 'chart.js is inlined');

  const titles = chartTitles([report]);
  t.is(titles.length, 5, 'bandwidth, IOPS, latency, load curve, transfer modes');
  const shot = decodePng(await screenshot(html, path.join(dir, 'on.png'), path.join(dir, 'p1')));
  t.is(shot.width, REPORT_LAYOUT.windowWidth);
  // The control: the same page without its scripts must show no chart in the same cells.
  const bare = path.join(dir, 'bare.html');
  await writeFile(bare, page.replace(/<script>[\s\S]*?<\/script>/g, ''));
  const blank = decodePng(await screenshot(bare, path.join(dir, 'off.png'), path.join(dir, 'p2')));
  titles.forEach((title, i) => {
    const { x, y } = cellOrigin(i);
    const drawn = colourfulPixels(shot, x, y, REPORT_LAYOUT.cellWidth, REPORT_LAYOUT.cellHeight);
    const empty = colourfulPixels(blank, x, y, REPORT_LAYOUT.cellWidth, REPORT_LAYOUT.cellHeight);
    t.true(drawn >= MIN_CHART_PIXELS, `"${title}" drew ${drawn} coloured pixels`);
    t.true(empty <= MAX_BLANK_PIXELS, `"${title}" without scripts shows ${empty} coloured pixels`);
  });
});

test('bench report: a file that is not a storage report is refused (exit 2)', async (t) => {
  const dir = await tempDir(t);
  const bad = path.join(dir, 'bad.json');
  await import('node:fs/promises').then((fs) =>
    fs.writeFile(bad, JSON.stringify({ schema: 'something else' })),
  );
  const r = await runFerry(['bench', 'report', bad, '--out', path.join(dir, 'x.html')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /is not a ferry\.bench\.storage\/1 report/);
});
