/**
 * Watching the config file for the reloader. The file's folder is watched,
 * not the file: an in-place write, an editor's rename-save, a delete and
 * re-create, and the Kubernetes ConfigMap swap (graygate.yaml →
 * ..data/graygate.yaml, with ..data an atomically replaced symlink) all show
 * up there as some event, while a watch on the file itself loses track after
 * the first rename. Events are debounced; the reloader then compares content
 * hashes, so a burst or an unrelated file costs one read. A slow poll is the
 * safety net for file systems that drop events.
 */
import { basename, dirname, resolve } from "node:path";
import { type FSWatcher, watch } from "chokidar";

export interface WatchOptions {
  /** Quiet time after the last event before `onChange` runs. */
  debounceMs?: number;
  /** Re-check at this interval whatever the events (0: never). */
  pollMs?: number;
}

export class ConfigWatcher {
  private readonly file: string;
  private readonly onChange: () => void;
  private readonly debounceMs: number;
  private readonly pollMs: number;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(file: string, onChange: () => void, options: WatchOptions = {}) {
    this.file = resolve(file);
    this.onChange = onChange;
    this.debounceMs = options.debounceMs ?? 50;
    this.pollMs = options.pollMs ?? 2000;
  }

  /** Resolves once the watch is in place. */
  async start(): Promise<void> {
    const folder = dirname(this.file);
    const name = basename(this.file);
    const watcher = watch(folder, {
      depth: 0,
      // Only the file and Kubernetes' "..data"-style entries matter: a busy
      // neighbour (a log file in the same folder) must not cost a read each write.
      ignored: (path: string) =>
        path !== folder && basename(path) !== name && !basename(path).startsWith(".."),
      ignoreInitial: true,
      followSymlinks: false,
      atomic: false,
      persistent: true,
    });
    this.watcher = watcher;
    watcher.on("all", () => this.schedule());
    // A watch error (the folder removed, a limit hit) must not stop graygate: the poll goes on.
    watcher.on("error", () => {});
    await new Promise<void>((ready) => watcher.once("ready", ready));
    if (this.pollMs > 0) {
      this.poll = setInterval(() => this.onChange(), this.pollMs);
      this.poll.unref();
    }
  }

  private schedule(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.onChange(), this.debounceMs);
    this.debounce.unref();
  }

  async close(): Promise<void> {
    clearTimeout(this.debounce);
    clearInterval(this.poll);
    await this.watcher?.close();
    this.watcher = undefined;
  }
}
