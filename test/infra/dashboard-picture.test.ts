import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { dashboardWidgets, drawDashboard, widgetMetrics } from '../../scripts/dashboard-picture.ts';
import { PUBLISHED_METRICS } from '../../src/monitor/metrics.ts';

describe('the picture of the dashboard in the README', () => {
  const widgets = dashboardWidgets();
  const png = drawDashboard(widgets);

  it('is drawn from the widgets the stack defines, every published metric among them', () => {
    const shown = new Set(widgets.flatMap(widgetMetrics));
    for (const m of PUBLISHED_METRICS) expect(shown, m.name).toContain(m.name);
    expect(widgets[0]!.type).toBe('text');
  });

  it('is a PNG whose pixels fill its declared size', () => {
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    const idatLength = png.readUInt32BE(33);
    expect(png.subarray(37, 41).toString('ascii')).toBe('IDAT');
    expect(inflateSync(png.subarray(41, 41 + idatLength)).length).toBe((width * 3 + 1) * height);
  });

  it('is the one committed as docs/dashboard.png (after a dashboard change: node scripts/dashboard-picture.ts)', () => {
    expect(readFileSync(new URL('../../docs/dashboard.png', import.meta.url)).equals(png)).toBe(true);
  });
});
