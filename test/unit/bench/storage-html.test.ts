/** The HTML report page: self-contained, data that cannot break out of its script, a fixed chart grid. */
import test from 'ava';
import { cellOrigin, chartTitles, renderHtmlReport, REPORT_LAYOUT } from '../../../bench/report/html.js';
import { sampleReport } from './storage-fixtures.js';

test('one page: chart.js inlined, no external reference, the data embedded', async (t) => {
  const page = await renderHtmlReport([sampleReport()]);
  t.regex(page, /^<!doctype html>/);
  t.regex(page, /Chart\.js v4/);
  t.notRegex(page, /<script[^>]*\bsrc=|<link\b|<img\b/i);
  t.true(page.includes('"randread-4k"'));
  t.is((page.match(/<canvas /g) ?? []).length, chartTitles([sampleReport()]).length);
});

test('text from a report cannot end the script element or inject markup', async (t) => {
  const rep = sampleReport({ unavailable: { fio: '</script><img src=x onerror=alert(1)>' } });
  const page = await renderHtmlReport([rep]);
  t.false(page.includes('</script><img'), 'the script element is not closed early');
  t.true(page.includes('&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;'), 'escaped in the HTML note');
  t.is((page.match(/<\/script>/g) ?? []).length, 2, 'only the two script elements of the page close');
});

test('charts: four per run plus transfer modes when copied; cells tile left to right, top to bottom', (t) => {
  t.is(chartTitles([sampleReport()]).length, 4);
  const withCopy = sampleReport({
    copies: [
      {
        mode: 'local',
        impair: null,
        status: 'ok',
        bytes: 1,
        seconds: 1,
        bw_bytes: 1,
        retransmits: 0,
        cpu_user_s: 0,
        cpu_sys_s: 0,
        peak_rss_bytes: 1,
      },
    ],
  });
  t.is(chartTitles([sampleReport(), withCopy]).length, 9);
  const L = REPORT_LAYOUT;
  t.deepEqual(cellOrigin(0), { x: L.margin, y: L.headerHeight });
  t.deepEqual(cellOrigin(1), { x: L.margin + L.cellWidth + L.gap, y: L.headerHeight });
  t.deepEqual(cellOrigin(2), { x: L.margin, y: L.headerHeight + L.cellHeight + L.gap });
  t.true(cellOrigin(8).y + L.cellHeight <= L.windowHeight, 'two full runs fit the screenshot window');
});
