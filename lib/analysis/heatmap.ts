/** Vega-Lite heatmap (rect mark) of a chunk cosine matrix, rendered through lib/report/charts. */
import { renderSvg, type VegaLiteSpec } from '../report/charts';

export function cosineHeatmapSpec(cosine: Float64Array, chunks: number, title = 'Cosine similarity of chunk gradient sums'): VegaLiteSpec {
  const values: { a: number; b: number; cosine: number }[] = [];
  for (let a = 0; a < chunks; a++) for (let b = 0; b < chunks; b++) values.push({ a: a + 1, b: b + 1, cosine: cosine[a * chunks + b] });
  let lo = 1;
  for (const v of values) lo = Math.min(lo, v.cosine);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: Math.max(200, 28 * chunks),
    height: Math.max(200, 28 * chunks),
    data: { values },
    mark: 'rect',
    encoding: {
      x: { field: 'b', type: 'ordinal', title: 'chunk' },
      y: { field: 'a', type: 'ordinal', title: 'chunk' },
      // the colour range spans the observed values so that small drifts stay visible
      color: { field: 'cosine', type: 'quantitative', scale: { scheme: 'viridis', domain: [lo, 1] } },
      tooltip: [
        { field: 'a', type: 'ordinal' },
        { field: 'b', type: 'ordinal' },
        { field: 'cosine', type: 'quantitative', format: '.4f' },
      ],
    },
  };
}

export function renderCosineHeatmap(cosine: Float64Array, chunks: number, title?: string): Promise<string> {
  return renderSvg(cosineHeatmapSpec(cosine, chunks, title));
}
