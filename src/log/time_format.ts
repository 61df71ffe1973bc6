/** Timestamp formats that downstream tools expect. */

function pad(n: number, width = 2): string {
  return String(Math.trunc(Math.abs(n))).padStart(width, "0");
}

/** The local zone offset of a time, as `+HH:MM`. */
function offsetOf(date: Date): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  return `${sign}${pad(minutes / 60)}:${pad(minutes % 60)}`;
}

/**
 * ISO 8601 in the local zone with microseconds and an offset, as SMART Fetch writes
 * (`2026-11-25T10:01:21.821000+00:00`). Python's `fromisoformat` reads it.
 */
export function isoLocalMicros(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${
    pad(d.getMinutes())
  }:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}000${offsetOf(d)}`;
}

/** The local date as `YYYY-MM-DD` (default subfolder nickname). */
export function localDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A short wall-clock time for log lines: `2026-11-25 10:01:21`. */
export function localDateTime(ms: number): string {
  const d = new Date(ms);
  return `${localDate(ms)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A duration for people: `45s`, `12m 03s`, `3h 04m`, `2d 05h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${pad(m % 60)}m`;
  return `${Math.floor(h / 24)}d ${pad(h % 24)}h`;
}

/** A byte count for people: `512 B`, `1.5 KB`, `20.3 MB`, `1.02 GB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[i]}`;
}
