/**
 * The demo's report.html: tables and embedded SVG charts (Vega-Lite through
 * lib/report/charts.ts), one self-contained file.
 */
import { renderSvg, type VegaLiteSpec } from '../report/charts';
import type { DemoResults } from './run';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fmt = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

function table(head: string[], rows: string[][]): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
}

export function targetLossSpec(r: DemoResults): VegaLiteSpec {
  const values = r.configurations.flatMap((c) => c.runs.map((run) => ({ configuration: c.name, seed: run.seed, loss: run.targetLoss })));
  const summary = r.configurations.map((c) => ({
    configuration: c.name,
    mean: c.targetLoss.mean,
    lo: c.targetLoss.mean - c.targetLoss.std,
    hi: c.targetLoss.mean + c.targetLoss.std,
  }));
  const x = { field: 'configuration', type: 'nominal' as const, sort: null, title: null };
  return {
    title: `Target-set loss (held-out ${r.data.target.name} documents), mean ± std over seeds`,
    width: 60 * r.configurations.length + 120,
    height: 220,
    layer: [
      // a tick at the mean rather than a bar: bars would force the axis to 0 and hide differences of 0.01 nats
      { data: { values: summary }, mark: { type: 'tick', thickness: 3, size: 36 }, encoding: { x, y: { field: 'mean', type: 'quantitative', scale: { zero: false }, title: 'nats / token' } } },
      { data: { values: summary }, mark: { type: 'rule', strokeWidth: 2 }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      { data: { values }, mark: { type: 'point', filled: true }, encoding: { x, y: { field: 'loss', type: 'quantitative' }, color: { field: 'seed', type: 'nominal' } } },
    ],
  } as VegaLiteSpec;
}

export function perGenreSpec(r: DemoResults): VegaLiteSpec {
  const values = r.configurations.flatMap((c) =>
    c.perGenre.flatMap((g, j) => (g === null ? [] : [{ configuration: c.name, genre: `${r.data.codes[j]} ${r.data.genres[j]}`, loss: g.mean }])),
  );
  return {
    title: 'Held-out loss per other genre (mean over seeds)',
    width: 520,
    height: 240,
    data: { values },
    mark: { type: 'point', filled: true, size: 60 },
    encoding: {
      x: { field: 'genre', type: 'nominal', title: null },
      y: { field: 'loss', type: 'quantitative', scale: { zero: false }, title: 'nats / token' },
      color: { field: 'configuration', type: 'nominal', sort: null },
      shape: { field: 'configuration', type: 'nominal', sort: null },
    },
  } as VegaLiteSpec;
}

export function trainingCurveSpec(r: DemoResults): VegaLiteSpec {
  const values = r.configurations.flatMap((c) =>
    c.runs.flatMap((run) => run.curve.tokens.map((t, i) => ({ configuration: c.name, seed: run.seed, tokens: t, loss: run.curve.loss[i] }))),
  );
  return {
    title: 'Training loss (scheduled order, batch means over windows)',
    width: 520,
    height: 220,
    data: { values },
    mark: { type: 'line', opacity: 0.8 },
    encoding: {
      x: { field: 'tokens', type: 'quantitative', scale: { type: 'log' }, title: 'tokens (log)' },
      y: { field: 'loss', type: 'quantitative', scale: { zero: false }, title: 'nats / token' },
      color: { field: 'configuration', type: 'nominal', sort: null },
      detail: { field: 'seed', type: 'nominal' },
    },
  } as VegaLiteSpec;
}

export function curriculumSpec(r: DemoResults, ci: number): VegaLiteSpec {
  const c = r.configurations[ci];
  const values = c.realized.tokens.flatMap((t, i) =>
    c.realized.shares[i].map((share, j) => ({ tokens: t, genre: `${r.data.codes[j]} ${r.data.genres[j]}`, share })),
  );
  return {
    title: `${c.name}: genre shares of the training order over tokens`,
    width: 520,
    height: 200,
    data: { values },
    mark: { type: 'area', interpolate: 'step-before' },
    encoding: {
      x: { field: 'tokens', type: 'quantitative', scale: { type: 'log' }, title: 'tokens (log)' },
      y: { field: 'share', type: 'quantitative', stack: 'normalize', title: 'share' },
      color: { field: 'genre', type: 'nominal', scale: { scheme: 'tableau20' } },
    },
  } as VegaLiteSpec;
}

export function fidelitySpec(r: DemoResults): VegaLiteSpec {
  const values = r.configurations.flatMap((c) =>
    (['greedy', 'shuffle'] as const).flatMap((kind) =>
      c.fidelity[kind].checkpointTokens.map((t, i) => ({ configuration: c.name, order: kind, tokens: t, l1: Math.max(1e-9, c.fidelity[kind].checkpointL1[i]) })),
    ),
  );
  return {
    title: 'Prefix fidelity: L1 distance of the prefix mixture to the target mixture',
    width: 520,
    height: 220,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'tokens', type: 'quantitative', title: 'prefix tokens' },
      y: { field: 'l1', type: 'quantitative', scale: { type: 'log' }, title: 'L1 (log)' },
      color: { field: 'configuration', type: 'nominal', sort: null },
      strokeDash: { field: 'order', type: 'nominal' },
    },
  } as VegaLiteSpec;
}

export async function renderReport(r: DemoResults): Promise<string> {
  const charts = [targetLossSpec(r), perGenreSpec(r), trainingCurveSpec(r), ...r.configurations.map((_, i) => curriculumSpec(r, i)), fidelitySpec(r)];
  const svgs = await Promise.all(charts.map((c) => renderSvg(c)));
  const [target, perGenre, curve, ...rest] = svgs;
  const curricula = rest.slice(0, r.configurations.length);
  const fidelity = rest[rest.length - 1];
  const fig = (svg: string) => `<figure>${svg}</figure>`;

  const summary = table(
    ['configuration', 'description', 'target loss', 'held-out loss (other genres)', 'order tokens', 'seeds'],
    r.configurations.map((c) => [
      c.name,
      c.description,
      `${fmt(c.targetLoss.mean)} ± ${fmt(c.targetLoss.std)}`,
      `${fmt(c.heldOutLoss.mean)} ± ${fmt(c.heldOutLoss.std)}`,
      String(c.orderTokens),
      c.runs.map((x) => x.seed).join(', '),
    ]),
  );
  const genreRows = r.data.genres.flatMap((g, j) =>
    j === r.data.target.index ? [] : [[`${r.data.codes[j]} ${g}`, ...r.configurations.map((c) => `${fmt(c.perGenre[j]!.mean)} ± ${fmt(c.perGenre[j]!.std)}`)]],
  );
  const genres = table(['genre', ...r.configurations.map((c) => c.name)], genreRows);
  const fidelityTable = table(
    ['configuration', 'greedy vs shuffle'],
    r.configurations.map((c) => [c.name, c.fidelity.summary]),
  );
  const timings = table(['stage', 'seconds'], [...r.timings.map((t) => [t.stage, t.seconds.toFixed(1)]), ['total', r.totalSeconds.toFixed(1)]]);
  const d = r.data;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>curricula demo: Brown Corpus, target ${esc(d.target.name)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}figure{margin:1em 0}code{background:#f3f3f3;padding:0 3px}
</style></head><body>
<h1>curricula demo: Brown Corpus</h1>
<p>Target: held-out documents of genre <b>${esc(d.target.code)} (${esc(d.target.name)})</b>, never trained on
(${d.targetDocuments.length} documents, ${d.targetTokens} tokens evaluated).
Training: ${d.trainDocuments} documents, ${d.trainSequences} sequences of ${r.options.data.seqLength} tokens (${d.trainTokens} tokens);
vocabulary ${d.vocabSize} words (${(d.coverage * 100).toFixed(1)}% of training tokens covered).
Model: feed-forward next-token LM, context ${r.model.shape.context}, embedding ${r.model.shape.embed}, hidden ${r.model.shape.hidden}
(${r.model.parameters} parameters); one pass of SGD over ${r.options.budget} tokens, batch ${r.options.batchSize} sequences,
checkpoints at ${r.checkpoints.join(', ')} tokens.</p>
<h2>Losses</h2>
${summary}
${fig(target)}
${fig(perGenre)}
${genres}
${fig(curve)}
<h2>Curricula</h2>
${curricula.map(fig).join('\n')}
<h2>Prefix fidelity of the greedy order vs a random shuffle</h2>
${fig(fidelity)}
${fidelityTable}
<h2>Timings</h2>
${timings}
<p>Written by <code>curricula demo</code>; all numbers are in results.json.</p>
</body></html>
`;
}
