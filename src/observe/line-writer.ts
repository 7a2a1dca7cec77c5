/**
 * One buffered writer for a file descriptor (stdout): every log line, pino's
 * and the access log's, goes through it, so lines keep their order. Lines are
 * copied into a pooled Buffer and written in batches of `flushBytes`, or after
 * `flushMs` at the latest; one write is in flight at a time, later batches
 * queue behind it. Past `maxQueuedBytes` (a stuck reader), lines are dropped
 * and counted rather than held. `flushSync` writes everything before exit.
 *
 * A regular file (or /dev/null, a terminal) is written synchronously, a batch
 * at a time: a 16 KiB write to the page cache takes a few µs, much less than
 * handing it to libuv's thread pool and waking a thread for it. A pipe or a
 * socket (a container runtime's log reader) is written asynchronously: a
 * slow reader must never stall requests.
 */
import { fstatSync, write as fsWrite, writeSync } from "node:fs";

export interface LineWriterOptions {
  flushBytes?: number;
  flushMs?: number;
  maxQueuedBytes?: number;
}

export class LineWriter {
  readonly fd: number;
  /** Lines dropped because the reader was too far behind (or the descriptor failed). */
  dropped = 0;
  /** Told, after a write that went through, how many lines were dropped before it. */
  onDropped: ((lines: number) => void) | undefined;
  private reportedDropped = 0;
  private readonly flushBytes: number;
  private readonly maxQueuedBytes: number;
  private readonly size: number;
  private buf: Buffer;
  private len = 0;
  /** Full batches waiting for the write in flight. */
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private writing: Buffer | undefined;
  private readonly spare: Buffer[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly sync: boolean;

  constructor(fd: number, options: LineWriterOptions = {}) {
    this.fd = fd;
    this.flushBytes = options.flushBytes ?? 16 * 1024;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 16 * 1024 * 1024;
    this.size = this.flushBytes * 4;
    this.buf = Buffer.allocUnsafe(this.size);
    let sync = false;
    try {
      const stat = fstatSync(fd);
      sync = stat.isFile() || stat.isCharacterDevice();
    } catch {
      // Not a descriptor we can inspect: the asynchronous path is the safe one.
    }
    this.sync = sync;
    this.timer = setInterval(() => this.flush(), options.flushMs ?? 100);
    this.timer.unref();
  }

  /** Takes one (or several) complete lines; pino's destination interface. */
  write(text: string): boolean {
    // At most 3 bytes of UTF-8 per UTF-16 unit.
    if (this.len + text.length * 3 > this.size) {
      this.seal();
      if (text.length * 3 > this.size) {
        this.enqueue(Buffer.from(text, "utf8"));
        this.pump();
        return true;
      }
    }
    this.len += this.buf.write(text, this.len, "utf8");
    if (this.len >= this.flushBytes) this.flush();
    return true;
  }

  /** Starts writing what is buffered (asynchronously). */
  flush(): void {
    this.seal();
    this.pump();
  }

  /**
   * Writes everything queued now, blocking: before exit. A write already in
   * flight is left to finish (as sonic-boom does): writing it again could
   * duplicate its lines.
   */
  flushSync(): void {
    this.seal();
    const pending = this.queue.splice(0);
    this.queuedBytes = 0;
    for (const chunk of pending) {
      let offset = 0;
      while (offset < chunk.length) {
        try {
          offset += writeSync(this.fd, chunk, offset, chunk.length - offset);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
        }
      }
      this.recycle(chunk);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flushSync();
  }

  /** The current buffer's lines become a batch; a fresh buffer takes the next. */
  private seal(): void {
    if (this.len === 0) return;
    const batch = this.buf.subarray(0, this.len);
    this.buf = this.spare.pop() ?? Buffer.allocUnsafe(this.size);
    this.len = 0;
    this.enqueue(batch);
  }

  private enqueue(batch: Buffer): void {
    if (this.queuedBytes + batch.length > this.maxQueuedBytes) {
      let lines = 0;
      for (let i = 0; i < batch.length; i++) if (batch[i] === 10) lines++;
      this.dropped += lines;
      return;
    }
    this.queue.push(batch);
    this.queuedBytes += batch.length;
  }

  private pump(): void {
    if (this.sync) {
      try {
        this.flushSync();
      } catch {
        // A write error (the file's disk is full, stdout closed): these lines are lost.
        this.dropped++;
        return;
      }
      this.reportDrops();
      return;
    }
    if (this.writing !== undefined) return;
    const next = this.queue.shift();
    if (next === undefined) return;
    this.queuedBytes -= next.length;
    this.writing = next;
    this.writeFrom(next, 0);
  }

  private reportDrops(): void {
    if (this.dropped === this.reportedDropped || this.onDropped === undefined) return;
    const lines = this.dropped - this.reportedDropped;
    this.reportedDropped = this.dropped;
    this.onDropped(lines);
  }

  private writeFrom(chunk: Buffer, offset: number): void {
    fsWrite(this.fd, chunk, offset, chunk.length - offset, null, (error, written) => {
      if (error) {
        if (error.code === "EAGAIN") {
          setTimeout(() => this.writeFrom(chunk, offset), 10).unref();
          return;
        }
        this.writing = undefined; // nowhere to report a log write failure: drop the batch
        this.dropped++;
      } else if (offset + written < chunk.length) {
        this.writeFrom(chunk, offset + written);
        return;
      } else {
        this.writing = undefined;
        this.reportDrops();
        this.recycle(chunk);
      }
      this.pump();
    });
  }

  /** A written batch's buffer, when it is one of ours, takes later lines. */
  private recycle(chunk: Buffer): void {
    if (chunk.byteOffset === 0 && chunk.buffer.byteLength === this.size && this.spare.length < 4) {
      this.spare.push(Buffer.from(chunk.buffer, 0, this.size));
    }
  }
}
