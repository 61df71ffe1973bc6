/** Typed progress events. Core code emits them; renderers draw them (TTY or plain lines). */

/** Where a run stands. */
export type Phase =
  | "connecting"
  | "cohort"
  | "crawling"
  | "hydrating"
  | "kickoff"
  | "waiting"
  | "downloading"
  | "finishing"
  | "done";

/** Something happened that a person watching may care about. */
export type ProgressEvent =
  /** A new phase began. */
  | { type: "phase"; phase: Phase; detail?: string }
  /** A status poll answered "still working". */
  | {
    type: "waiting";
    /** When the export was kicked off (ms epoch). */
    startedMs: number;
    /** The server's X-Progress text, if any. */
    xProgress: string | null;
    /** How long until the next poll. */
    nextPollMs: number;
  }
  /** The manifest is known: how many files to fetch, how many are already here. */
  | { type: "files-planned"; total: number; alreadyDone: number }
  /** A file download began. */
  | { type: "file-start"; name: string; resourceType: string }
  /** More bytes of a file arrived (`bytes` is the file's running total). */
  | { type: "file-bytes"; name: string; bytes: number }
  /** A file is complete on disk. */
  | {
    type: "file-done";
    name: string;
    resourceType: string;
    resources: number;
    bytes: number;
    diskBytes: number;
  }
  /** A crawl's work: per type, patients to search and those already done. */
  | { type: "crawl-planned"; types: { resourceType: string; total: number; done: number }[] }
  /** A crawl search page arrived with `resources` new resources. */
  | { type: "crawl-page"; resourceType: string; resources: number }
  /** A patient's searches of a type finished (or failed: retried by the next run). */
  | { type: "crawl-unit"; resourceType: string; resources: number; failed: boolean }
  /** A hydration task starts (`detail` says what it reads and writes). */
  | { type: "hydrate-task"; task: string; detail: string }
  /** One attachment inlined or referenced resource downloaded (or not). */
  | { type: "hydrate-target"; task: string; ok: boolean }
  /** A request is being retried. `what` is `METHOD <short url>`; `reason` names no URL. */
  | { type: "retry"; what: string; attempt: number; delayMs: number; reason: string }
  /** Nothing but failures for over a minute, since `sinceMs`, with `retries` retries so far. */
  | { type: "unreachable"; sinceMs: number; retries: number }
  /** The server answers again. */
  | { type: "reachable" }
  /** A user-facing message. */
  | { type: "message"; level: "info" | "warn" | "verbose"; text: string };

/** Receives events. */
export interface Reporter {
  emit(event: ProgressEvent): void;
  /** Stops timers and draws the final state. */
  close(): void;
}

/** Helpers to emit messages through a reporter. */
export class Messages {
  constructor(private readonly reporter: Reporter) {}
  info(text: string): void {
    this.reporter.emit({ type: "message", level: "info", text });
  }
  warn(text: string): void {
    this.reporter.emit({ type: "message", level: "warn", text });
  }
  verbose(text: string): void {
    this.reporter.emit({ type: "message", level: "verbose", text });
  }
}
