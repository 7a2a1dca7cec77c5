/** A process's memory from /proc (Linux): resident set now (VmRSS) and at its peak (VmHWM). */
import { readFileSync } from "node:fs";

export interface MemoryReading {
  rssMiB: number;
  hwmMiB: number;
}

export function readMemory(pid: number): MemoryReading {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rssMiB: kib("VmRSS") / 1024, hwmMiB: kib("VmHWM") / 1024 };
}

/** Samples RSS every `everyMs` until stopped; returns the samples (seconds since start, MiB). */
export function sampleMemory(pid: number, everyMs: number): () => { t: number; rssMiB: number }[] {
  const started = performance.now();
  const samples: { t: number; rssMiB: number }[] = [];
  const take = () => {
    try {
      samples.push({ t: (performance.now() - started) / 1000, rssMiB: readMemory(pid).rssMiB });
    } catch {
      // The process is gone: the caller sees it elsewhere.
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return () => {
    clearInterval(timer);
    take();
    return samples;
  };
}
