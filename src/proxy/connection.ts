/**
 * One client connection (HTTP/1): the order its answers go out in, and
 * whether anything more read from it may still reach an upstream.
 *
 * Node answers pipelined requests in order (a ServerResponse waits for the
 * one before it), but it parses and emits requests ahead of their answers.
 * So once graygate has decided to close a connection (a refusal, or any
 * answer sent with `Connection: close`), requests Node already parsed behind
 * it must be dropped: their client would never see an answer (blind
 * smuggling). And an answer graygate writes to the socket itself (a parse
 * error, CONNECT, an upgrade's) must wait for every answer queued before it.
 * docs/SECURITY.md ("One connection, one order") describes the rules.
 */
import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { ErrorCode } from "./errors.ts";

/** What the connection needs of a request being served on it. */
export interface ServedRequest {
  /** The client's connection closed: stop and account. */
  clientClosed(): void;
  /** The request's own body is still arriving (a parse error or timeout is its own). */
  readonly bodyPending: boolean;
  /** Answers `code`'s error (or breaks an answer under way). */
  reject(code: ErrorCode): void;
  /** Node may yet decide to close the connection after this request's answer. */
  mayCloseAfter(): boolean;
  /** Make this answer the connection's last. */
  closeAfterAnswer(): void;
}

/** Requests Node may parse behind a close before the connection is gone; more is abuse. */
const MAX_DROPPED = 64;

const CONNECTION = Symbol("graygate.connection");
type TrackedSocket = Duplex & { [CONNECTION]?: ClientConnection };

function onClose(this: TrackedSocket): void {
  const connection = this[CONNECTION];
  if (connection === undefined || connection.served.length === 0) return;
  for (const request of connection.served.slice()) request.clientClosed();
}

export class ClientConnection {
  readonly socket: Duplex;
  /** Requests being served, in arrival order (more than one only when pipelined). */
  readonly served: ServedRequest[] = [];
  /**
   * Set once an answer on this connection closes it (a refusal, an error
   * with an unread body, HTTP/1.0, `Connection: close`, a drain, an upgrade):
   * nothing read after that is forwarded.
   */
  closing = false;
  /** Requests parsed after `closing` was set, and dropped. */
  dropped = 0;
  /** The most recent response Node queued on this connection. */
  private lastResponse: ServerResponse | undefined;

  private constructor(socket: Duplex) {
    this.socket = socket;
  }

  /** The connection of this socket, made on first use (one "close" listener per connection). */
  static of(socket: Duplex): ClientConnection {
    const tracked = socket as TrackedSocket;
    let connection = tracked[CONNECTION];
    if (connection === undefined) {
      connection = new ClientConnection(socket);
      tracked[CONNECTION] = connection;
      socket.once("close", onClose);
    }
    return connection;
  }

  /** The connection of this socket if it has served a request, else undefined. */
  static peek(socket: Duplex): ClientConnection | undefined {
    return (socket as TrackedSocket)[CONNECTION];
  }

  /** A request Node emitted on this connection, to be served. */
  admit(request: ServedRequest, res: ServerResponse): void {
    this.lastResponse = res;
    this.served.push(request);
  }

  /**
   * A request parsed after `closing`: never answered (the connection closes
   * after the answer before it). A client that keeps pipelining into a
   * closing connection is cut off.
   */
  drop(): void {
    if (++this.dropped > MAX_DROPPED) this.socket.destroy();
  }

  /** The request is done: it no longer hears of the connection's close. */
  release(request: ServedRequest): void {
    const served = this.served;
    const at = served.lastIndexOf(request);
    if (at !== -1) served.splice(at, 1);
  }

  /** The request whose body the parser is reading, if any: a parse error or timeout is its own. */
  bodyOwner(): ServedRequest | undefined {
    const last = this.served.at(-1);
    return last?.bodyPending === true ? last : undefined;
  }

  /**
   * Runs `write` once every answer queued on this connection has gone out
   * (at once when none is pending), so that a raw answer never overtakes
   * one. If the last answer breaks instead (the client went away, or it was
   * cut mid-body), the connection ends in that answer's turn: nothing is
   * written after a broken answer.
   */
  afterAnswers(write: () => void): void {
    const last = this.lastResponse;
    if (last === undefined || last.writableFinished) {
      write();
      return;
    }
    let ran = false;
    const run = (broken: boolean) => {
      if (ran) return;
      ran = true;
      if (this.socket.destroyed) return;
      if (broken) this.socket.destroy();
      else write();
    };
    if (last.destroyed) {
      ended(last, () => run(true));
      return;
    }
    last.once("finish", () => run(false));
    last.once("close", () => {
      if (!last.writableFinished) ended(last, () => run(true));
    });
  }
}

/**
 * Calls `then` once a broken response's turn on the connection has come: at
 * once when it holds the socket, else when Node hands it the socket (the
 * answers before it are written by then). A response destroyed while queued
 * never destroys the socket itself (Node only marks it closed).
 */
function ended(res: ServerResponse, then: () => void): void {
  if (res.socket !== null) then();
  else res.once("socket", then);
}

/**
 * Breaks an answer under way, so that its client sees a broken response,
 * never a short "success": the connection is cut in the answer's turn.
 */
export function breakAnswer(res: ServerResponse, error?: Error): void {
  // Node's destroy() of a queued response only marks it closed (its socket is someone else's).
  const queued = res.socket === null;
  res.destroy(error);
  if (queued) res.once("socket", (socket: Duplex) => socket.destroy(error));
}
