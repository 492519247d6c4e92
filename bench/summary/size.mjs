// Table 3: size and start-up.
import { f1, median, table } from '../lib/print.mjs';

export function sizeTable(v, out) {
  const { report, S, st } = v;
  const rows3 = [];
  if (S) {
    rows3.push(['wasm (build/index_bg.wasm)', `${S.wasm.raw} B (${(S.wasm.raw / 1024).toFixed(1)} KiB)`, `${S.wasm.gzip} B (${(S.wasm.gzip / 1024).toFixed(1)} KiB)`]);
    rows3.push(['upload bundle (wrangler deploy --dry-run)', S.upload.wranglerSays ? `${S.upload.wranglerSays.totalKiB} KiB` : `${S.upload.raw} B`, S.upload.wranglerSays ? `${S.upload.wranglerSays.gzipKiB} KiB` : `${S.upload.gzip} B`]);
    rows3.push(['V8 compile of the wasm (Node 22, median)', `${f1(S.wasmCompile?.medianMs)} ms`, '']);
    for (const g of S.breakdown?.groups ?? []) rows3.push([`  share of wasm code: ${g.group}`, `${g.share}%`, `${g.bytes} B of ${S.breakdown.codeBytes} B before wasm-opt`]);
  }
  const fs0 = report.floor?.startup;
  rows3.push([`wrangler dev start -> port open (median of ${st.length})`, `${f1(median(st.map((s) => s.listenMs)))} ms`, st.map((s) => f1(s.listenMs)).join(', ')]);
  rows3.push(['wrangler dev start -> "Ready on"', `${f1(median(st.map((s) => s.readyLogMs)))} ms`, st.map((s) => f1(s.readyLogMs)).join(', ')]);
  rows3.push(['wrangler dev start -> first answer', `${f1(median(st.map((s) => s.firstAnswerMs)))} ms`, st.map((s) => f1(s.firstAnswerMs)).join(', ')]);
  rows3.push(['first request after "Ready on" (discovery)', `${f1(median(st.map((s) => s.firstRequestMs)))} ms`, st.map((s) => f1(s.firstRequestMs)).join(', ')]);
  if (fs0) rows3.push(['  the same for the floor (JS worker, no wasm)', `${f1(fs0.firstRequestMs)} ms`, 'the local runtime\'s own first-request cost']);
  rows3.push(['next requests (discovery)', `${f1(median(st.flatMap((s) => s.nextRequestsMs)))} ms`, '']);
  out.push(table('3. Size and start-up', ['what', 'value', 'gzip / samples'], rows3));
  const fp = report.firstRequestProfile;
  if (fp && !fp.error) {
    out.push(table(`3. The first request of a fresh instance under a V8 profile (another instance; profiling slows it): ${fp.busyMs} ms of isolate time, by category and top functions`,
      ['what', 'ms', 'source'], [...Object.entries(fp.perUnit).sort((a, b) => b[1] - a[1]).map(([k, x]) => [k, x, '']), ...fp.topFunctionsMsPerUnit.slice(0, 12)]));
  }
}
