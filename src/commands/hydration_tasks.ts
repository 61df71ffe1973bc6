/** `--tasks` / `--hydration-tasks`: SMART Fetch's task group names, `all`, `none` or `help`. */

import { UsageError } from "../errors.ts";
import { GROUP_NAMES } from "../hydrate/tasks.ts";

/** SMART Fetch's hydration task groups, in the order they run. */
export const HYDRATION_TASKS: readonly string[] = GROUP_NAMES;

/** The `help` text. */
export function hydrationHelp(): string {
  return `Hydration task groups (comma-separated, or 'all' / 'none'):\n${
    HYDRATION_TASKS.map((t) => `  ${t}\n`).join("")
  }`;
}

/** True when the value asks for the list. */
export function wantsHelp(value: string | undefined): boolean {
  return (value ?? "").split(",").some((n) => n.trim().toLowerCase() === "help");
}

/**
 * The task groups a value selects (`all` when absent), or a UsageError naming the unknown ones.
 */
export function checkHydrationTasks(
  value: string | undefined,
  flag = "--hydration-tasks",
): string[] {
  const names = (value ?? "all").split(",").map((n) => n.trim().toLowerCase()).filter(Boolean);
  const unknown = names.filter((n) => !["all", "none", ...HYDRATION_TASKS].includes(n));
  if (unknown.length) {
    throw new UsageError(
      `Unknown hydration task ${unknown.map((u) => `"${u}"`).join(", ")} in ${flag}. Choose from ${
        HYDRATION_TASKS.join(", ")
      }, all or none.`,
    );
  }
  if (names.includes("none")) return [];
  return names.includes("all") ? [...HYDRATION_TASKS] : names;
}
