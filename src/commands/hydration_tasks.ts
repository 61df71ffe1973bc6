/** `--hydration-tasks`: SMART Fetch's task group names, checked so scripts keep working. */

import { UsageError } from "../errors.ts";
import type { Messages } from "../log/events.ts";

/** SMART Fetch's hydration task groups. */
export const HYDRATION_TASKS = [
  "episodeofcare",
  "inline",
  "medication",
  "observation",
  "practitioner",
  "location",
  "organization",
] as const;

/**
 * Checks `--hydration-tasks` (a comma list of task groups, `all`, `none` or `help`). Hydration
 * itself is not in this version: when tasks are asked for explicitly, the run says so rather than
 * pretending. With `out`, prints the list (`help`).
 */
export function checkHydrationTasks(
  value: string | undefined,
  say: Messages,
  verbose: boolean,
  out?: (text: string) => void,
): string[] {
  const names = (value ?? "all").split(",").map((n) => n.trim().toLowerCase()).filter(Boolean);
  if (out) {
    out(
      `Hydration task groups (comma-separated, or 'all' / 'none'):\n${
        HYDRATION_TASKS.map((t) => `  ${t}\n`).join("")
      }`,
    );
    return [];
  }
  const unknown = names.filter((n) => !["all", "none", ...HYDRATION_TASKS].includes(n));
  if (unknown.length) {
    throw new UsageError(
      `Unknown hydration task ${unknown.map((u) => `"${u}"`).join(", ")}. Choose from ${
        HYDRATION_TASKS.join(", ")
      }, all or none.`,
    );
  }
  const tasks = names.includes("none") ? [] : names.includes("all") ? [...HYDRATION_TASKS] : names;
  if (tasks.length && (value !== undefined || verbose)) {
    say.info(
      `Hydration (${
        tasks.join(", ")
      }) is not in this version of smart-fetch yet; the export is not hydrated.`,
    );
  }
  return tasks;
}
