/**
 * The demo's report.html: tables and embedded SVG charts (Vega-Lite through
 * lib/report/charts.ts), one self-contained file; and report.svg, the main
 * charts in one SVG (the README's picture of the report).
 */
import { cosineHeatmapSpec } from '../analysis/heatmap';
import { curriculumPlotSpec } from '../curriculum/plot';
import { parseCurriculum } from '../curriculum/serialize';
import { renderSvg, type VegaLiteSpec } from '../report/charts';
import type { MetaIteration } from './configurations';
import type { ConfigurationResult, DemoResults } from './run';

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

/** The learned curriculum's mixture over log tokens (stacked area), from the first checkpoint / 2 to the budget. */
export function learnedCurriculumSpec(r: DemoResults): VegaLiteSpec {
  const c = r.configurations.find((x) => x.name === r.curriculumFile) ?? r.configurations[0];
  const cur = parseCurriculum(c.curriculum);
  const names = r.data.genres.map((g, j) => `${r.data.codes[j]} ${g}`);
  const minTokens = Math.max(1, r.checkpoints[0] / 2);
  const spec = curriculumPlotSpec(
    { ...cur, names },
    { minTokens, maxTokens: r.options.budget, maxSeries: r.data.genres.length, title: `${c.name}: learned mixture p(N) over training tokens` },
  ) as VegaLiteSpec & { encoding: { x: { scale: object }; color: { scale?: object } }; width: number; height: number };
  // the plotted range exactly (no rounding to decades), and 20 colours for 15 genres
  spec.encoding.x.scale = { type: 'log', domain: [minTokens, r.options.budget], nice: false };
  spec.encoding.color.scale = { scheme: 'tableau20' };
  spec.width = 460;
  spec.height = 240;
  return spec;
}

function staticDelta(c: ConfigurationResult): number[] | null {
  const d = c.notes?.delta as number[][] | undefined;
  if (!Array.isArray(d) || d.length === 0) return null;
  return d[0].map((_, j) => d.reduce((a, row) => a + row[j], 0) / d.length);
}

/** Δℓ per genre of the static configurations (TerRIFIC: one checkpoint; -AVG: the mean). */
export function deltaSpec(r: DemoResults): VegaLiteSpec | null {
  const values = r.configurations.flatMap((c) => {
    const d = staticDelta(c);
    return d ? d.map((x, j) => ({ configuration: c.name, genre: `${r.data.codes[j]} ${r.data.genres[j]}`, delta: x })) : [];
  });
  if (values.length === 0) return null;
  return {
    title: 'Δℓ per genre (influence on the influence target set, normalised)',
    width: 520,
    height: 200,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'genre', type: 'nominal', title: null },
      xOffset: { field: 'configuration', type: 'nominal', sort: null },
      y: { field: 'delta', type: 'quantitative', title: 'Δℓ' },
      color: { field: 'configuration', type: 'nominal', sort: null },
    },
  } as VegaLiteSpec;
}

/** Min and mean stable rank of batch gradients per layer, greedy vs shuffle. */
export function stableRankSpec(r: DemoResults): VegaLiteSpec | null {
  const a = r.analysis;
  if (!a) return null;
  const values = (['greedy', 'shuffle'] as const).flatMap((order) =>
    a[order].stableRank.flatMap((l) => [
      { order, layer: l.layer, statistic: 'min', srank: l.min },
      { order, layer: l.layer, statistic: 'mean', srank: l.mean },
    ]),
  );
  return {
    title: `Stable rank of batch gradients (${a.batches} batches of ${a.rows} sequences per order)`,
    data: { values },
    columns: 2,
    facet: { field: 'statistic', type: 'nominal', sort: ['min', 'mean'], title: null },
    spec: {
      width: 200,
      height: 180,
      mark: { type: 'point', filled: true, size: 80 },
      encoding: {
        x: { field: 'layer', type: 'nominal', title: null },
        y: { field: 'srank', type: 'quantitative', scale: { zero: false }, title: 'stable rank' },
        color: { field: 'order', type: 'nominal' },
        shape: { field: 'order', type: 'nominal' },
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as VegaLiteSpec;
}

/** Welch comparison of a configuration's seeds with Baseline's: difference of means and its standard error. */
export function compareToBaseline(c: ConfigurationResult, base: ConfigurationResult, key: 'targetLoss' | 'heldOutLoss'): { diff: number; se: number } {
  const n1 = c.runs.length;
  const n0 = base.runs.length;
  const diff = c[key].mean - base[key].mean;
  const se = Math.sqrt(c[key].std ** 2 / n1 + base[key].std ** 2 / n0);
  return { diff, se };
}

function verdict(diff: number, se: number): string {
  const z = se > 0 ? diff / se : diff === 0 ? 0 : Infinity * Math.sign(diff);
  if (Math.abs(z) < 2) return 'no clear difference (|Δ| < 2 SE)';
  return diff < 0 ? 'lower (better)' : 'higher (worse)';
}

function signed(x: number, d = 4): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(d)}`;
}

/** One sentence per configuration on target and other-genre loss against Baseline. */
export function findings(r: DemoResults): string[] {
  const base = r.configurations.find((c) => c.name === 'Baseline');
  if (!base) return [];
  return r.configurations
    .filter((c) => c !== base)
    .map((c) => {
      const t = compareToBaseline(c, base, 'targetLoss');
      const h = compareToBaseline(c, base, 'heldOutLoss');
      const worse = r.data.genres.filter((_, j) => {
        const a = c.perGenre[j];
        const b = base.perGenre[j];
        return a && b && a.mean > b.mean;
      }).length;
      return (
        `${c.name}: target loss ${signed(t.diff)} nats/token vs Baseline (SE ${t.se.toFixed(4)}): ${verdict(t.diff, t.se)}; ` +
        `held-out loss on the other genres ${signed(h.diff)} (SE ${h.se.toFixed(4)}): ${verdict(h.diff, h.se)}; ` +
        `higher than Baseline on ${worse} of ${r.data.genres.length - 1} other genres.`
      );
    });
}

function withoutSchema(spec: VegaLiteSpec): VegaLiteSpec {
  const { $schema: _s, ...rest } = spec as VegaLiteSpec & { $schema?: string };
  return rest as VegaLiteSpec;
}

/** The main charts in one SVG: target loss, the learned curriculum, held-out loss per other genre. */
export async function renderSummarySvg(r: DemoResults): Promise<string> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `curricula demo (Brown Corpus, target ${r.data.target.code} ${r.data.target.name}): ${r.configurations.map((c) => c.name).join(', ')}`, anchor: 'start', offset: 16 },
    spacing: 24,
    vconcat: [
      { hconcat: [withoutSchema(targetLossSpec(r)), withoutSchema(learnedCurriculumSpec(r))], resolve: { scale: { color: 'independent' } } },
      withoutSchema(perGenreSpec(r)),
    ],
    resolve: { scale: { color: 'independent', shape: 'independent' } },
  } as unknown as VegaLiteSpec;
  return renderSvg(spec);
}

export async function renderReport(r: DemoResults): Promise<string> {
  const K = r.configurations.length;
  const optional = [deltaSpec(r), stableRankSpec(r)];
  const a = r.analysis;
  const heat = a
    ? [
        cosineHeatmapSpec(Float64Array.from(a.greedy.cosine.matrix), a.chunks, `Greedy order: cosine of chunk gradient sums (${a.chunks} chunks)`),
        cosineHeatmapSpec(Float64Array.from(a.shuffle.cosine.matrix), a.chunks, `Shuffled order: cosine of chunk gradient sums`),
      ]
    : [];
  const specs = [
    targetLossSpec(r),
    perGenreSpec(r),
    trainingCurveSpec(r),
    learnedCurriculumSpec(r),
    ...r.configurations.map((_, i) => curriculumSpec(r, i)),
    fidelitySpec(r),
    ...optional.filter((x): x is VegaLiteSpec => x !== null),
    ...heat,
  ];
  const svgs = await Promise.all(specs.map((c) => renderSvg(c)));
  let i = 0;
  const take = () => svgs[i++];
  const [target, perGenre, curve, learned] = [take(), take(), take(), take()];
  const realized = r.configurations.map(() => take());
  const fidelity = take();
  const delta = optional[0] ? take() : '';
  const srank = optional[1] ? take() : '';
  const heats = heat.map(() => take());
  const fig = (svg: string) => (svg ? `<figure>${svg}</figure>` : '');

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
  const mixtures = table(
    ['genre', ...r.configurations.map((c) => c.name)],
    r.data.genres.map((g, j) => [`${r.data.codes[j]} ${g}`, ...r.configurations.map((c) => `${(100 * c.mixture[j]).toFixed(1)}%`)]),
  );
  const fidelityTable = table(
    ['configuration', 'greedy vs shuffle'],
    r.configurations.map((c) => [c.name, c.fidelity.summary]),
  );
  const found = findings(r);
  const meta = r.configurations.flatMap((c) => (Array.isArray(c.notes?.iterations) ? (c.notes!.iterations as MetaIteration[]).map((it) => ({ c, it })) : []));
  const metaTable = meta.length
    ? table(
        ['configuration', 'meta-iteration t', 'η_t', 'Δf samples at tokens', 'run loss on the influence target set'],
        meta.map(({ c, it }) => [c.name, String(it.iteration), String(it.eta), it.reachedTokens.join(', '), fmt(it.influenceTargetLoss)]),
      )
    : '';
  const srankTable = a
    ? table(
        ['layer', 'min (greedy)', 'min (shuffle)', 'mean (greedy)', 'mean (shuffle)'],
        a.greedy.stableRank.map((l, j) => {
          const s = a.shuffle.stableRank[j];
          return [l.layer, l.min.toFixed(3), s.min.toFixed(3), l.mean.toFixed(3), s.mean.toFixed(3)];
        }),
      )
    : '';
  const timings = table(
    ['stage', 'seconds'],
    [...r.timings.map((t) => [t.stage, t.seconds.toFixed(1)]), ['total (wall)', r.totalSeconds.toFixed(1)], ['CPU (all threads)', r.cpuSeconds.toFixed(1)]],
  );
  const d = r.data;
  const o = r.options;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>curricula demo: Brown Corpus, target ${esc(d.target.name)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}figure{margin:1em 0}code{background:#f3f3f3;padding:0 3px}
</style></head><body>
<h1>curricula demo: Brown Corpus</h1>
<p>Target: held-out documents of genre <b>${esc(d.target.code)} (${esc(d.target.name)})</b>, never trained on and never read by the
influence step (${d.targetDocuments.length} documents, ${d.targetTokens} tokens evaluated). The influence step's target examples are
${d.influenceDocuments.length} other held-out ${esc(d.target.name)} documents (${d.influenceTokens} tokens).
Training: ${d.trainDocuments} documents, ${d.trainSequences} sequences of ${o.data.seqLength} tokens (${d.trainTokens} tokens);
vocabulary ${d.vocabSize} words (${(d.coverage * 100).toFixed(1)}% of training tokens covered).
Model: feed-forward next-token LM, context ${r.model.shape.context}, embedding ${r.model.shape.embed}, hidden ${r.model.shape.hidden}
(${r.model.parameters} parameters); one pass of SGD over ${o.budget} tokens, batch ${o.batchSize} sequences,
checkpoints at ${r.checkpoints.join(', ')} tokens. ${K} configurations, the same budget and greedy scheduler, seeds ${o.seeds.join(', ')}.</p>
<h2>Losses</h2>
${summary}
${found.length ? `<ul>${found.map((f) => `<li>${esc(f)}</li>`).join('\n')}</ul>` : ''}
<p>The public reference reports TerRIFIC and the curriculum beating Baseline on target-like data, with some regression elsewhere
(Wikitext). The lines above are what this run measured; SE is the standard error of the difference of seed means.</p>
${fig(target)}
${fig(perGenre)}
${genres}
${fig(curve)}
<h2>Learned curriculum and mixtures</h2>
<p>Influence step: per-example gradients of the ${o.influence.layers.join(' and ')} layer(s), Kronecker-projected to
${o.influence.inProj}×${o.influence.outProj} per layer; up to ${o.influence.perGenre} one-genre training sequences per genre;
scores summed over layers, z-scored, clipped to ±${o.influence.normalise.clip ?? '∞'}, times ${o.influence.normalise.step}.
Models: the reference run (Baseline order, seed ${r.reference.seed}). TerRIFIC η = ${o.terrific.eta};
curriculum: ${o.curriculum.iterations} meta-iterations, B = ${o.curriculum.samples} samples each, η = ${o.curriculum.eta}.</p>
${fig(learned)}
${fig(delta)}
${metaTable}
${mixtures}
${realized.map(fig).join('\n')}
<h2>Prefix fidelity of the greedy order vs a random shuffle</h2>
${fig(fidelity)}
${fidelityTable}
${
  a
    ? `<h2>Gradient geometry: greedy order vs shuffle</h2>
<p>Model: ${esc(a.model)}. Baseline order (${a.orderSequences} sequences) vs a seeded shuffle of the same sequences (seed ${a.shuffleSeed}), so only the order differs.
Stable rank of ${a.batches} evenly spaced batches of ${a.rows} per-example gradients per layer; chunk cosine of the ${a.cosineLayer} layer's
Kronecker-projected gradients (${a.cosineDim} dimensions) summed over ${a.chunks} chunks: off-diagonal
${a.greedy.cosine.minOffDiagonal.toFixed(4)}..${a.greedy.cosine.maxOffDiagonal.toFixed(4)} (greedy),
${a.shuffle.cosine.minOffDiagonal.toFixed(4)}..${a.shuffle.cosine.maxOffDiagonal.toFixed(4)} (shuffle).</p>
${srankTable}
${fig(srank)}
${heats.map(fig).join('\n')}
${table(
  ['chunk', ...a.greedy.multiSegmentShare.map((_, c) => String(c + 1))],
  (['greedy', 'shuffle'] as const).map((k) => [`${k}: share of sequences spanning a document boundary`, ...a[k].multiSegmentShare.map((x) => `${(100 * x).toFixed(0)}%`)]),
)}`
    : ''
}
<h2>Timings</h2>
${timings}
<p>Written by <code>curricula demo</code>; all numbers are in results.json, the learned curriculum in curriculum.json.</p>
</body></html>
`;
}
