/**
 * Renders Vega-Lite specs to standalone SVG strings, headless (no browser, no canvas).
 * Every chart in the package (curriculum plot, heatmaps, the demo report) goes through here.
 */
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

export type VegaLiteSpec = vegaLite.TopLevelSpec;

/** Compiles a Vega-Lite spec and renders it to an SVG document string. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
