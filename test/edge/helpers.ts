/** Raw-socket clients for the edge tests: bytes in, the answer and whether the connection closed. */
import { connect } from "node:net";

export interface RawAnswer {
  /** The status of the first response, or 0 when none came. */
  status: number;
  /** Everything the server sent, as latin1. */
  text: string;
  /** The first response's body (what follows the blank line). */
  body: string;
  /** The server closed the connection (rather than the client giving up). */
  closed: boolean;
}

/**
 * Writes `bytes` (latin1, so that any byte can be sent) on a new connection
 * and collects the reply until the server closes or `waitMs` passes.
 */
export function rawRequest(port: number, bytes: string, waitMs = 3000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const end = text.indexOf("\r\n\r\n");
      resolve({
        status: status === null ? 0 : Number(status[1]),
        text,
        body: end === -1 ? "" : text.slice(end + 4),
        closed,
      });
    };
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => {
      closed = true;
    });
    socket.on("error", () => {
      closed = true;
    });
    socket.on("close", finish);
    socket.write(Buffer.from(bytes, "latin1"));
  });
}

/** The statuses of every response in a raw reply (pipelined answers). */
export function statuses(text: string): number[] {
  return [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}
