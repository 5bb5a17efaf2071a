// Draws docs/dashboard.png, the layout of the deployment's CloudWatch dashboard, from the widget
// definitions the stack synthesizes (infra/lib/replication-dashboard.ts): each widget where CloudWatch
// places it (24 columns wide), its title and the metrics it graphs. No drawing library: a 5x7 bitmap
// font and a PNG encoder on node:zlib, so the picture is remade with the repository alone.
//   node scripts/dashboard-picture.ts [--out docs/dashboard.png]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deflateSync } from 'node:zlib';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { ReplicationDashboard } from '../infra/lib/replication-dashboard.ts';
import { DEFAULT_ALARM_THRESHOLDS } from '../src/monitor/alarm-rules.ts';

interface Widget {
  type: string;
  x: number;
  y: number;
  width: number;
  height: number;
  properties: { title?: string; markdown?: string; metrics?: unknown[][]; right?: unknown };
}

/** The dashboard's widgets as CloudWatch reads them (tokens such as the region left as text). */
export function dashboardWidgets(): Widget[] {
  const app = new App();
  const stack = new Stack(app, 'Picture', { env: { account: '123456789012', region: 'eu-west-1' } });
  const arn = (name: string) => `arn:aws:states:eu-west-1:123456789012:stateMachine:${name}`;
  new ReplicationDashboard(stack, 'Monitoring', {
    namespace: 'DatabaseReplicator/<stack>',
    recordJobService: 'database-replicator-record-job',
    stateMachines: ['replicate', 'verify', 'cleanup', 'cutover'].map((name) => ({
      name,
      stateMachine: sfn.StateMachine.fromStateMachineArn(stack, name, arn(name)),
    })),
    clusterName: 'replicator',
    taskFamily: 'replicator',
    topic: sns.Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:eu-west-1:123456789012:alarms'),
    thresholds: DEFAULT_ALARM_THRESHOLDS,
  });
  const [dashboard] = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard')) as {
    Properties: { DashboardBody: unknown };
  }[];
  const body = dashboard!.Properties.DashboardBody;
  const text =
    typeof body === 'string'
      ? body
      : (body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1]
          .map((p) => (typeof p === 'string' ? p : 'token'))
          .join('');
  return (JSON.parse(text) as { widgets: Widget[] }).widgets;
}

/** What a widget shows under its title: each metric's name (from SEARCH expressions and metric rows). */
export function widgetMetrics(w: Widget): string[] {
  const names: string[] = [];
  for (const row of w.properties.metrics ?? []) {
    const first = row[0];
    if (first && typeof first === 'object' && 'expression' in first) {
      const m = /MetricName="([^"]+)"/.exec((first as { expression: string }).expression);
      if (m) names.push(m[1]!);
    } else if (typeof first === 'string') {
      const name = row.find((v, i) => i > 0 && typeof v === 'string' && v !== '.' && v !== '...') as string | undefined;
      if (name) names.push(name);
    } else if (row.length > 1 && typeof row[1] === 'string') {
      names.push(row[1]);
    }
  }
  return [...new Set(names)];
}

// 5x7 glyphs, one string of 7 rows of 5 pixels each; lower case is drawn as upper case.
const GLYPHS: Record<string, string> = {
  A: '.###.#...##...#######...##...##...#',
  B: '####.#...##...#####.#...##...#####.',
  C: '.###.#...##....#....#....#...#.###.',
  D: '####.#...##...##...##...##...#####.',
  E: '######....#....####.#....#....#####',
  F: '######....#....####.#....#....#....',
  G: '.###.#...##....#.####...##...#.####',
  H: '#...##...##...#######...##...##...#',
  I: '.###...#....#....#....#....#...###.',
  J: '..###...#....#....#....##..#..##...',
  K: '#...##..#.#.#..##...#.#..#..#.#...#',
  L: '#....#....#....#....#....#....#####',
  M: '#...###.###.#.##...##...##...##...#',
  N: '#...###..##.#.##..###...##...##...#',
  O: '.###.#...##...##...##...##...#.###.',
  P: '####.#...##...#####.#....#....#....',
  Q: '.###.#...##...##...##.#.##..#..##.#',
  R: '####.#...##...#####.#.#..#..#.#...#',
  S: '.#####....#.....###.....#....#####.',
  T: '#####..#....#....#....#....#....#..',
  U: '#...##...##...##...##...##...#.###.',
  V: '#...##...##...##...##...#.#.#...#..',
  W: '#...##...##...##.#.##.#.##.#.#.#.#.',
  X: '#...##...#.#.#...#...#.#.#...##...#',
  Y: '#...##...#.#.#...#....#....#....#..',
  Z: '#####....#...#...#...#...#....#####',
  '0': '.###.#...##..###.#.###..##...#.###.',
  '1': '..#...##....#....#....#....#...###.',
  '2': '.###.#...#....#...#...#...#...#####',
  '3': '#####...#...#.....#.....##...#.###.',
  '4': '...#...##..#.#.#..#.#####...#....#.',
  '5': '######....####.....#....##...#.###.',
  '6': '..##..#...#....####.#...##...#.###.',
  '7': '#####....#...#...#...#....#....#...',
  '8': '.###.#...##...#.###.#...##...#.###.',
  '9': '.###.#...##...#.####....#...#..##..',
  ' ': '...................................',
  '.': '.........................##...##...',
  ',': '....................##...#...#.....',
  ':': '.....##...##.........##...##.......',
  '-': '...............###.................',
  '(': '...#...#...#....#....#.....#.....#.',
  ')': '.#.....#.....#....#....#...#...#...',
  '/': '.........#...#...#...#...#.........',
  "'": '..#....#...#.......................',
  '%': '##...##..#...#...#...#...#..##...##',
  '=': '..........#####.....#####..........',
  '+': '.......#....#..#####..#....#.......',
  '*': '.......#..#.#.#.###.#.#.#..#.......',
  _: '..............................#####',
  '<': '...#...#...#...#.....#.....#.....#.',
  '>': '.#.....#.....#.....#...#...#...#...',
  '?': '.###.#...#....#...#...#.........#..',
  '&': '.##..#..#.#.#...#...#.#.##..#..##.#',
  '"': '.#.#..#.#..........................',
  '`': '.#.....#..' + '.'.repeat(25),
  ';': '.....##...##........##....#...#....',
  '[': '.###..#....#....#....#....#....###.',
  ']': '.###....#....#....#....#....#..###.',
  '#': '.#.#.#####.#.#.#####.#.#...........',
};

type Rgb = [number, number, number];

class Canvas {
  readonly pixels: Uint8Array;
  readonly width: number;
  readonly height: number;
  constructor(width: number, height: number, background: Rgb) {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 3);
    this.fill(0, 0, width, height, background);
  }

  fill(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let j = Math.max(0, y); j < Math.min(this.height, y + h); j++) {
      for (let i = Math.max(0, x); i < Math.min(this.width, x + w); i++) this.pixels.set(c, (j * this.width + i) * 3);
    }
  }

  box(x: number, y: number, w: number, h: number, border: Rgb, inside: Rgb): void {
    this.fill(x, y, w, h, border);
    this.fill(x + 2, y + 2, w - 4, h - 4, inside);
  }

  /** One line of text at `scale` pixels per font pixel; returns its width. */
  text(x: number, y: number, line: string, c: Rgb, scale = 2): number {
    let cx = x;
    for (const ch of line) {
      const glyph = GLYPHS[ch.toUpperCase()] ?? GLYPHS['?']!;
      for (let row = 0; row < 7; row++) {
        for (let col = 0; col < 5; col++)
          if (glyph[row * 5 + col] === '#') this.fill(cx + col * scale, y + row * scale, scale, scale, c);
      }
      cx += 6 * scale;
    }
    return cx - x;
  }

  png(): Buffer {
    const raw = Buffer.alloc((this.width * 3 + 1) * this.height);
    for (let y = 0; y < this.height; y++)
      Buffer.from(this.pixels.subarray(y * this.width * 3, (y + 1) * this.width * 3)).copy(
        raw,
        y * (this.width * 3 + 1) + 1,
      );
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(this.width, 0);
    ihdr.writeUInt32BE(this.height, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(raw, { level: 9 })),
      chunk('IEND', Buffer.alloc(0)),
    ]);
  }
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** Words into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = '';
    }
    line = line ? `${line} ${word}` : word.slice(0, width);
  }
  if (line) lines.push(line);
  return lines;
}

const COLUMN = 50;
const ROW = 34;
const MARGIN = 16;

export function drawDashboard(widgets: Widget[]): Buffer {
  const bottom = Math.max(...widgets.map((w) => w.y + w.height));
  const canvas = new Canvas(24 * COLUMN + 2 * MARGIN, bottom * ROW + 2 * MARGIN + 30, [242, 243, 243]);
  canvas.text(MARGIN, MARGIN, 'database-replicator: CloudWatch dashboard layout (one per deployment)', [35, 47, 62]);
  const top = MARGIN + 30;
  for (const w of widgets) {
    const x = MARGIN + w.x * COLUMN;
    const y = top + w.y * ROW;
    const width = w.width * COLUMN - 8;
    const height = w.height * ROW - 8;
    const perLine = Math.floor((width - 20) / 12);
    if (w.type === 'text') {
      canvas.box(x, y, width, height, [170, 183, 184], [255, 255, 255]);
      const lines = (w.properties.markdown ?? '')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => l.replace(/[*`#]/g, '').trim());
      let ty = y + 12;
      canvas.text(x + 10, ty, `text: ${lines[0] ?? ''}`, [35, 47, 62]);
      ty += 24;
      for (const l of lines.slice(1).flatMap((l) => wrap(l, Math.floor((width - 20) / 6)))) {
        if (ty > y + height - 16) break;
        canvas.text(x + 10, ty, l, [84, 91, 100], 1);
        ty += 11;
      }
      continue;
    }
    canvas.box(x, y, width, height, [170, 183, 184], [255, 255, 255]);
    canvas.fill(x + 2, y + 2, width - 4, 4, [0, 115, 187]);
    let ty = y + 14;
    for (const l of wrap(w.properties.title ?? '', perLine).slice(0, 3)) {
      canvas.text(x + 10, ty, l, [35, 47, 62]);
      ty += 20;
    }
    // A stand-in plot: axes, then the metrics graphed, one per line in the graph's colours.
    const plot = { x: x + 14, y: ty + 6, w: width - 28, h: y + height - ty - 18 };
    canvas.fill(plot.x, plot.y, 2, plot.h, [170, 183, 184]);
    canvas.fill(plot.x, plot.y + plot.h - 2, plot.w, 2, [170, 183, 184]);
    const colours: Rgb[] = [
      [31, 119, 180],
      [255, 127, 14],
      [44, 160, 44],
      [214, 39, 40],
      [148, 103, 189],
    ];
    widgetMetrics(w).forEach((name, i) => {
      const c = colours[i % colours.length]!;
      const ly = plot.y + 8 + i * 12;
      if (ly > plot.y + plot.h - 12) return;
      canvas.fill(plot.x + 10, ly + 3, 14, 3, c);
      canvas.text(plot.x + 30, ly, name, [84, 91, 100], 1);
    });
  }
  return canvas.png();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { out: { type: 'string', default: fileURLToPath(new URL('../docs/dashboard.png', import.meta.url)) } },
  });
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, drawDashboard(dashboardWidgets()));
  process.stdout.write(`wrote ${values.out}\n`);
}
