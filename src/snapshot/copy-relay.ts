import { Readable, Writable, type Duplex } from 'node:stream';
import type { Connection } from 'pg';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/*
 * COPY ... TO STDOUT sends one CopyData message per row, and COPY ... FROM STDIN reads CopyData
 * messages of any size: the source's messages are exactly what the target needs. These two
 * submittables hand them over as they are, so the CLI only reads each message's 5-byte header to
 * find where the copy ends. pg-copy-streams unwraps every row and wraps each batch again, which
 * took this process twice the CPU on pgbench_accounts (4.1 million rows of 100 bytes).
 */

const COPY_DATA = 0x64; // d
const COPY_DONE = 0x63; // c
const COPY_OUT_RESPONSE = 0x48; // H
// What may arrive during copy-out: the response, data, the end, and notices, notifications and
// parameter changes (protocol-flow, "COPY Operations"). Anything else (an ErrorResponse) ends it.
const ALLOWED = new Set([COPY_DATA, COPY_DONE, COPY_OUT_RESPONSE, 0x4e /* N */, 0x53 /* S */, 0x41 /* A */]);
const HEADER = 5;
const EMPTY = Buffer.alloc(0);

/*
 * Each socket read is a new ArrayBuffer that only a garbage collection frees. The relay makes so
 * little other garbage that scavenges become rare, and V8 answers the growing external memory with
 * full mark-compacts instead (34 during one 1 GB init, about a second of CPU). A minor collection
 * every 16 MB relayed frees the reads while they are young, for about a millisecond each.
 */
const GC_EVERY_BYTES = 4 * 1024 * 1024;
let collector: ((options: { type: 'minor' }) => void) | null | undefined;
function minorGc(): ((options: { type: 'minor' }) => void) | null {
  if (collector === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collector = runInNewContext('gc') as (options: { type: 'minor' }) => void;
    } catch {
      collector = null;
    }
  }
  return collector;
}

/** The relay was attached to a connection it cannot take over (a pg version that reads its socket differently). */
export class CopyRelayMisuse extends Error {
  override name = 'CopyRelayMisuse';
}

/** pg's Connection, with the one method its type declarations leave out. */
type PgConnection = Connection & { readonly stream: Duplex; sendCopyFail(message: string): void };

function rowCountOf(message: { text?: string } | undefined): number | null {
  const match = /COPY (\d+)/.exec(message?.text ?? '');
  return match ? Number(match[1]) : null;
}

/**
 * The source side: runs a COPY ... TO STDOUT and emits its CopyData messages, headers included,
 * unchanged. `payloadBytes` counts the data inside them. Destroyed before the copy ends (the target
 * failed), it leaves its session mid-COPY: end that client, as the copy workers do.
 */
export class CopyOutRelay extends Readable {
  readonly text: string;
  rowCount: number | null = null;
  payloadBytes = 0;
  /** CopyData messages read: one per row (binary format: and one for the trailer). */
  dataMessages = 0;
  private reported = 0;
  private reportedMessages = 0;
  private lastGc = 0;
  private connection: PgConnection | null = null;
  private pgDataHandler: ((chunk: Buffer) => void) | null = null;
  private wanted = true;
  private finished = false;
  private copyDone = false;
  /** Bytes of a header split across two reads. */
  private partialHeader: Buffer | null = null;
  /** Bytes left in the message being read, and the parts read so far when it is copy data. */
  private remaining = 0;
  private carry: Buffer[] | null = null;

  private readonly onPayload: ((bytes: number, rows: number) => void) | undefined;

  /** `onPayload` hears how many bytes of data, and how many rows, each read carried, for progress. */
  constructor(text: string, onPayload?: (bytes: number, rows: number) => void) {
    super({ highWaterMark: 64 * 1024 });
    this.text = text;
    this.onPayload = onPayload;
  }

  submit(pgConnection: Connection): void {
    const connection = pgConnection as PgConnection;
    this.connection = connection;
    const stream = connection.stream;
    const listeners = stream.listeners('data') as Array<(chunk: Buffer) => void>;
    if (listeners.length !== 1)
      throw new CopyRelayMisuse("CopyOutRelay expects the connection to have one data listener (pg's own).");
    this.pgDataHandler = listeners[0]!;
    stream.removeListener('data', this.pgDataHandler);
    // 'data' rather than 'readable' + read(): read() joins whatever has piled up into a new buffer,
    // a copy of every byte; each 'data' chunk arrives as the socket read it.
    stream.on('data', this.onData);
    connection.query(this.text);
  }

  private readonly onData = (chunk: Buffer) => {
    this.parse(chunk);
    if (!this.finished && !this.wanted) this.connection?.stream.pause();
  };

  override _read(): void {
    this.wanted = true;
    if (!this.finished) this.connection?.stream.resume();
  }

  /**
   * Pushes the whole CopyData messages of one read; a message the read cuts is kept until its last
   * byte arrives. Whole messages only, because the target reads a message by its length: cut off by
   * a failure half-way, a message would swallow the ROLLBACK that follows as its own data, and the
   * session would wait for the rest of it for ever. Stops at CopyDone or at a message that ends the copy.
   */
  private parse(chunk: Buffer): void {
    const out: Buffer[] = [];
    let runStart = -1;
    const closeRun = (end: number) => {
      if (runStart >= 0 && end > runStart) out.push(chunk.subarray(runStart, end));
      runStart = -1;
    };
    let pos = 0;
    while (pos < chunk.length) {
      if (this.remaining > 0) {
        // The rest of a message begun in an earlier read.
        const n = Math.min(this.remaining, chunk.length - pos);
        if (this.carry) {
          this.carry.push(chunk.subarray(pos, pos + n));
          this.payloadBytes += n;
        }
        pos += n;
        this.remaining -= n;
        if (this.remaining === 0 && this.carry) {
          out.push(Buffer.concat(this.carry));
          this.carry = null;
        }
        continue;
      }
      let code: number;
      let length: number;
      let headerStart = -1;
      if (!this.partialHeader && chunk.length - pos >= HEADER) {
        code = chunk[pos]!;
        if (!ALLOWED.has(code)) return this.stop(out, closeRun, pos, EMPTY, chunk);
        length = chunk.readUInt32BE(pos + 1);
        headerStart = pos;
        pos += HEADER;
      } else {
        // A header cut by the read: put it back together.
        closeRun(pos);
        const carried = this.partialHeader ?? EMPTY;
        const take = Math.min(HEADER - carried.length, chunk.length - pos);
        const header = Buffer.concat([carried, chunk.subarray(pos, pos + take)]);
        if (!ALLOWED.has(header[0]!)) return this.stop(out, closeRun, pos, carried, chunk);
        pos += take;
        if (header.length < HEADER) {
          this.partialHeader = header;
          continue;
        }
        this.partialHeader = null;
        code = header[0]!;
        length = header.readUInt32BE(1);
        if (code === COPY_DATA) this.carry = [header];
      }
      const body = length - 4;
      if (code === COPY_DATA) this.dataMessages++;
      if (code !== COPY_DATA) {
        // CopyOutResponse, a notice or a parameter change: not data, cut out of the run.
        if (headerStart >= 0) closeRun(headerStart);
        this.remaining = body;
        this.carry = null;
        if (code === COPY_DONE) {
          this.copyDone = true;
          return this.stop(out, closeRun, pos, EMPTY, chunk);
        }
        // Its body is skipped by the branch above (carry is null).
        continue;
      }
      if (headerStart >= 0 && pos + body <= chunk.length) {
        // The whole message is in this read: extend the run over it.
        if (runStart < 0) runStart = headerStart;
        this.payloadBytes += body;
        pos += body;
        continue;
      }
      if (headerStart >= 0) {
        closeRun(headerStart);
        this.carry = [chunk.subarray(headerStart, pos)];
      }
      this.remaining = body;
      if (body === 0) {
        out.push(Buffer.concat(this.carry!));
        this.carry = null;
      }
    }
    closeRun(pos);
    this.emitChunks(out);
  }

  private emitChunks(out: Buffer[]): void {
    if (this.payloadBytes - this.lastGc > GC_EVERY_BYTES) {
      this.lastGc = this.payloadBytes;
      minorGc()?.({ type: 'minor' });
    }
    if (this.onPayload && this.payloadBytes > this.reported) {
      this.onPayload(this.payloadBytes - this.reported, this.dataMessages - this.reportedMessages);
      this.reported = this.payloadBytes;
      this.reportedMessages = this.dataMessages;
    }
    for (const b of out) if (!this.push(b)) this.wanted = false;
  }

  /**
   * Hands the connection back to pg with everything from `pos` on (after `carried`, bytes of a header
   * read before this chunk). After CopyDone the relay ends; on any other message (an ErrorResponse)
   * it does not, so pg's error reaches handleError and the target's COPY is never finished.
   */
  private stop(out: Buffer[], closeRun: (end: number) => void, pos: number, carried: Buffer, chunk: Buffer): void {
    closeRun(pos);
    this.emitChunks(out);
    this.finished = true;
    const stream = this.connection!.stream;
    stream.removeListener('data', this.onData);
    const rest = carried.length ? Buffer.concat([carried, chunk.subarray(pos)]) : chunk.subarray(pos);
    const handler = this.pgDataHandler!;
    stream.on('data', handler);
    if (rest.length > 0) handler(rest);
    // pg's handler may pause the stream under backpressure; resume once it has returned.
    process.nextTick(() => stream.resume());
    if (this.copyDone) this.push(null);
  }

  handleError(error: Error): void {
    this.destroy(error);
  }

  handleCommandComplete(message: { text?: string }): void {
    this.rowCount = rowCountOf(message);
  }

  handleReadyForQuery(): void {
    this.connection = null;
  }
}

/**
 * The target side: runs a COPY ... FROM STDIN and writes what it is given to the socket unchanged,
 * so it must be given whole CopyData messages (as CopyOutRelay emits them). Finishing sends
 * CopyDone and completes once the target has answered; destroying it sends CopyFail.
 */
export class CopyInRelay extends Writable {
  readonly text: string;
  rowCount: number | null = null;
  private connection: PgConnection | null = null;
  private ready = false;
  private completed = false;
  /** What to do once the target has answered CopyInResponse. */
  private onReady: (() => void) | null = null;
  private finalDone: ((error?: Error | null) => void) | null = null;
  private destroyDone: ((error?: Error | null) => void) | null = null;
  private destroyError: Error | null = null;

  constructor(text: string) {
    super({ highWaterMark: 64 * 1024 });
    this.text = text;
  }

  submit(connection: Connection): void {
    this.connection = connection as PgConnection;
    connection.query(this.text);
  }

  /** pg's query timeout hook looks for this; nothing to do. */
  callback(): void {}

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (!this.ready) {
      this.onReady = () => this._write(chunk, encoding, done);
      return;
    }
    const stream = this.connection!.stream;
    if (stream.write(chunk)) done();
    else stream.once('drain', () => done());
  }

  override _final(done: (error?: Error | null) => void): void {
    const send = () => {
      this.finalDone = done;
      this.connection!.stream.write(Buffer.from([COPY_DONE, 0, 0, 0, 4]));
    };
    if (this.ready) send();
    else this.onReady = send;
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (!this.connection || this.completed) return done(error);
    this.destroyDone = done;
    this.destroyError = error;
    const fail = () => this.connection?.sendCopyFail(error ? error.message : 'the copy was stopped');
    if (this.ready) fail();
    else this.onReady = fail;
  }

  handleCopyInResponse(): void {
    this.ready = true;
    const next = this.onReady;
    this.onReady = null;
    next?.();
  }

  /** pg calls this instead of handleReadyForQuery when the COPY fails: everything ends here. */
  handleError(error: Error): void {
    this.onReady = null;
    this.completed = true;
    this.connection = null;
    const destroyDone = this.destroyDone;
    const finalDone = this.finalDone;
    this.destroyDone = null;
    this.finalDone = null;
    if (destroyDone) return destroyDone(this.destroyError ?? error);
    if (finalDone) return finalDone(error);
    this.destroy(error);
  }

  handleCommandComplete(message: { text?: string }): void {
    this.rowCount = rowCountOf(message);
  }

  handleReadyForQuery(): void {
    this.completed = true;
    this.connection = null;
    const done = this.finalDone ?? this.destroyDone;
    this.finalDone = null;
    this.destroyDone = null;
    done?.(this.destroyError);
  }
}
