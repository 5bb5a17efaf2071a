import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Connection } from 'pg';
import { describe, expect, it } from 'vitest';
import { CopyInRelay, CopyOutRelay } from '../../../src/snapshot/copy-relay.ts';

function message(code: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const header = Buffer.alloc(5);
  header.write(code, 0, 'latin1');
  header.writeUInt32BE(payload.length + 4, 1);
  return Buffer.concat([header, payload]);
}

/** A socket stand-in that pg would own: one 'data' listener (pg's parser) recording what it is given. */
function fakeConnection() {
  const stream = new PassThrough();
  const givenToPg: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => givenToPg.push(chunk));
  const queries: string[] = [];
  const written: Buffer[] = [];
  const connection = Object.assign(new EventEmitter(), {
    stream,
    query: (text: string) => queries.push(text),
    sendCopyFail: (text: string) => written.push(Buffer.from(`CopyFail:${text}`)),
  });
  return { connection: connection as unknown as Connection, stream, givenToPg, queries, written };
}

/** Feeds `bytes` to the relay in pieces of the given sizes (cycled), as a socket could split them. */
async function feed(stream: PassThrough, bytes: Buffer, sizes: number[]): Promise<void> {
  for (let pos = 0, i = 0; pos < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    stream.write(bytes.subarray(pos, pos + n));
    pos += n;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** True when `chunk` is a run of whole messages (each header's length ends exactly at the next one). */
function wholeMessages(chunk: Buffer): boolean {
  let pos = 0;
  while (pos + 5 <= chunk.length) pos += 1 + chunk.readUInt32BE(pos + 1);
  return pos === chunk.length;
}

async function collect(relay: CopyOutRelay): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    relay,
    new Writable({
      write(chunk: Buffer, _e, done) {
        parts.push(chunk);
        done();
      },
    }),
  );
  // The target reads messages by their length: a cut one would swallow whatever is sent next.
  expect(parts.every(wholeMessages)).toBe(true);
  return Buffer.concat(parts);
}

const rows = Array.from({ length: 40 }, (_, i) => message('d', `row ${i}\t${'x'.repeat(i * 7)}\n`));
const afterCopy = Buffer.concat([message('C', 'COPY 40\0'), message('Z', 'I')]);

describe('CopyOutRelay', () => {
  for (const sizes of [[1], [2, 3], [4, 5, 6], [7], [64], [100_000]]) {
    it(`passes CopyData messages through unchanged, drops the rest, and hands pg what follows CopyDone (reads of ${sizes.join('/')} bytes)`, async () => {
      const { connection, stream, givenToPg, queries } = fakeConnection();
      let reported = 0;
      const relay = new CopyOutRelay('COPY t TO STDOUT', (n) => (reported += n));
      relay.submit(connection);
      expect(queries).toEqual(['COPY t TO STDOUT']);
      const notice = message('N', 'SNOTICE\0Mhello\0\0');
      const wire = Buffer.concat([
        message('H', Buffer.from([0, 0, 1, 0, 0])),
        ...rows.slice(0, 20),
        notice,
        message('S', 'a\0b\0'),
        ...rows.slice(20),
        message('c'),
        afterCopy,
      ]);
      const collected = collect(relay);
      await feed(stream, wire, sizes);
      expect(await collected).toEqual(Buffer.concat(rows));
      expect(Buffer.concat(givenToPg)).toEqual(afterCopy);
      const payload = rows.reduce((sum, r) => sum + r.length - 5, 0);
      expect(relay.payloadBytes).toBe(payload);
      expect(reported).toBe(payload);
      relay.handleCommandComplete({ text: 'COPY 40' });
      expect(relay.rowCount).toBe(40);
    });
  }

  it('gives an ErrorResponse to pg and does not end, so a half copy is never finished on the target', async () => {
    for (const sizes of [[1], [3], [1000]]) {
      const { connection, stream, givenToPg } = fakeConnection();
      const relay = new CopyOutRelay('COPY t TO STDOUT');
      relay.submit(connection);
      const error = Buffer.concat([message('E', 'SERROR\0Mdivision by zero\0\0'), message('Z', 'I')]);
      let ended = false;
      relay.on('end', () => (ended = true));
      const parts: Buffer[] = [];
      relay.on('data', (b: Buffer) => parts.push(b));
      await feed(stream, Buffer.concat([message('H', Buffer.from([0, 0, 0])), ...rows.slice(0, 3), error]), sizes);
      expect(Buffer.concat(givenToPg)).toEqual(error);
      expect(Buffer.concat(parts)).toEqual(Buffer.concat(rows.slice(0, 3)));
      expect(ended).toBe(false);
      const failed = new Promise((resolve) => relay.on('error', resolve));
      relay.handleError(new Error('division by zero'));
      expect(((await failed) as Error).message).toBe('division by zero');
      expect(ended).toBe(false);
    }
  });

  it('stops reading the socket while its reader is not keeping up', async () => {
    const { connection, stream } = fakeConnection();
    const relay = new CopyOutRelay('COPY t TO STDOUT');
    relay.submit(connection);
    const big = message('d', Buffer.alloc(256 * 1024, 1));
    stream.write(Buffer.concat([message('H', Buffer.from([0, 0, 0])), big]));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.isPaused()).toBe(true);
    relay.read();
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.isPaused()).toBe(false);
  });
});

describe('CopyInRelay', () => {
  it('waits for CopyInResponse, writes what it is given unchanged, ends with CopyDone and finishes at ReadyForQuery', async () => {
    const socket: Buffer[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, done) {
        socket.push(chunk);
        done();
      },
    });
    const connection = { stream, query: () => undefined, sendCopyFail: () => undefined } as unknown as Connection;
    const relay = new CopyInRelay('COPY t FROM STDIN');
    relay.submit(connection);
    const finished = new Promise((resolve) => relay.on('finish', resolve));
    relay.write(rows[0]);
    relay.end(rows[1]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket).toEqual([]);
    relay.handleCopyInResponse();
    await new Promise((resolve) => setImmediate(resolve));
    expect(Buffer.concat(socket)).toEqual(Buffer.concat([rows[0]!, rows[1]!, message('c')]));
    let done = false;
    void finished.then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    relay.handleCommandComplete({ text: 'COPY 2' });
    relay.handleReadyForQuery();
    await finished;
    expect(relay.rowCount).toBe(2);
  });

  it('sends CopyFail with the reason when destroyed mid-copy and reports that reason', async () => {
    const failures: string[] = [];
    const stream = new Writable({
      write(_chunk: Buffer, _e, done) {
        done();
      },
    });
    const connection = {
      stream,
      query: () => undefined,
      sendCopyFail: (m: string) => failures.push(m),
    } as unknown as Connection;
    const relay = new CopyInRelay('COPY t FROM STDIN');
    relay.submit(connection);
    relay.handleCopyInResponse();
    relay.write(rows[0]);
    const closed = new Promise<Error>((resolve) => relay.on('error', resolve));
    relay.destroy(new Error('the source went away'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual(['the source went away']);
    relay.handleError(new Error('COPY from stdin failed: the source went away'));
    relay.handleReadyForQuery();
    expect((await closed).message).toBe('the source went away');
  });
});
