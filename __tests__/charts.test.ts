import { renderSvg } from '../lib/report/charts';

describe('renderSvg', () => {
  it('renders a stacked area chart to SVG with one path per series', async () => {
    const values = [1, 2, 3].flatMap((x) => ['a', 'b'].map((c) => ({ x, y: c === 'a' ? x : 1, c })));
    const svg = await renderSvg({
      data: { values },
      mark: 'area',
      encoding: {
        x: { field: 'x', type: 'quantitative' },
        y: { field: 'y', type: 'quantitative', stack: 'normalize' },
        color: { field: 'c', type: 'nominal' },
      },
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('</svg>');
    expect((svg.match(/mark-area/g) ?? []).length).toBeGreaterThanOrEqual(1);
  });

  it('rejects a spec vega-lite cannot compile', async () => {
    await expect(renderSvg({ mark: 'nonsense' } as never)).rejects.toThrow();
  });
});
