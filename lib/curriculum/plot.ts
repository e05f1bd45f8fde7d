/**
 * Stacked-area chart of p(N) over log tokens (Vega-Lite, rendered headless to SVG).
 * With many groups the largest `maxSeries` (by peak share) are drawn and the rest
 * are summed into "other".
 */
import { ValidationError } from '../errors';
import { renderSvg, type VegaLiteSpec } from '../report/charts';
import { logRange } from './algorithm1';
import { softmax, logitsAt, validateCurriculum, type Curriculum } from './curriculum';

export interface PlotOptions {
  minTokens?: number;
  maxTokens?: number;
  points?: number;
  maxSeries?: number;
  title?: string;
}

/** The Vega-Lite spec (data inline). Default range: the knots widened by a factor 3 on each side. */
export function curriculumPlotSpec(c: Curriculum, opts: PlotOptions = {}): VegaLiteSpec {
  validateCurriculum(c);
  const n = c.s.length;
  const minTokens = opts.minTokens ?? Math.exp(c.s[0]) / 3;
  const maxTokens = opts.maxTokens ?? Math.exp(c.s[n - 1]) * 3;
  const { sMin, sMax } = logRange({ minTokens, maxTokens }, 'range');
  const points = opts.points ?? 200;
  if (!Number.isSafeInteger(points) || points < 2 || points > 100000) throw new ValidationError('points', `Expected integer in [2, 100000] for \`points\` but received ${points}`);
  const maxSeries = opts.maxSeries ?? 12;
  const K = c.groups;
  const names = c.names ?? Array.from({ length: K }, (_, k) => `group ${k}`);
  const rows: Float64Array[] = [];
  const xs: number[] = [];
  for (let i = 0; i < points; i++) {
    const s = sMin + ((sMax - sMin) * i) / (points - 1);
    xs.push(Math.exp(s));
    rows.push(softmax(logitsAt(c, s)));
  }
  const peak = Array.from({ length: K }, (_, k) => Math.max(...rows.map((r) => r[k])));
  const order = Array.from({ length: K }, (_, k) => k).sort((a, b) => peak[b] - peak[a]);
  const shown = order.slice(0, K > maxSeries ? maxSeries - 1 : K);
  const values: { tokens: number; group: string; share: number; rank: number }[] = [];
  rows.forEach((p, i) => {
    let rest = 1;
    shown.forEach((k, rank) => {
      values.push({ tokens: xs[i], group: names[k], share: p[k], rank });
      rest -= p[k];
    });
    if (shown.length < K) values.push({ tokens: xs[i], group: 'other', share: Math.max(0, rest), rank: shown.length });
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: opts.title ?? 'Curriculum: mixture p(N) over training tokens',
    width: 640,
    height: 320,
    data: { values },
    mark: { type: 'area' },
    encoding: {
      x: { field: 'tokens', type: 'quantitative', scale: { type: 'log' }, title: 'tokens trained (log scale)' },
      y: { field: 'share', type: 'quantitative', stack: 'zero', scale: { domain: [0, 1] }, title: 'share of tokens' },
      color: { field: 'group', type: 'nominal', sort: { field: 'rank' }, title: 'group' },
      order: { field: 'rank' },
    },
  } as VegaLiteSpec;
}

export async function curriculumPlotSvg(c: Curriculum, opts: PlotOptions = {}): Promise<string> {
  return renderSvg(curriculumPlotSpec(c, opts));
}
