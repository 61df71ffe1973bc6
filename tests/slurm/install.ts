/**
 * Whether this machine can host a test Slurm cluster, and installing Slurm and MUNGE from the
 * distribution (Debian 12 ships Slurm 22.05.8 and MUNGE 0.5.15) when they are missing.
 *
 * @module
 */

import { run } from "./processes.ts";

/** The Debian packages a single-node cluster needs. */
export const SLURM_PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"] as const;

/** Whether a test cluster can run here; when not, why (the test prints it and is skipped). */
export type SlurmAvailability = { ok: true } | { ok: false; reason: string };

/**
 * Checks what starting a cluster needs: Linux, root (munged, slurmd and job processes run as
 * root), and either the packages installed already or apt-get to install them.
 */
export async function slurmAvailability(): Promise<SlurmAvailability> {
  if (Deno.build.os !== "linux") {
    return { ok: false, reason: `Slurm tests need Linux, this is ${Deno.build.os}` };
  }
  if (Deno.uid() !== 0) {
    return {
      ok: false,
      reason:
        `Slurm tests need root (uid 0) to run munged, slurmctld and slurmd; uid is ${Deno.uid()}`,
    };
  }
  if (await packagesInstalled()) return { ok: true };
  if (!(await onPath("apt-get"))) {
    return {
      ok: false,
      reason: `Slurm is not installed and there is no apt-get to install ${
        SLURM_PACKAGES.join(" ")
      }`,
    };
  }
  return { ok: true };
}

/** What {@link installSlurm} did. */
export interface InstallResult {
  /** False when every package was installed already (nothing ran but dpkg-query). */
  installed: boolean;
  /** Whether `apt-get update` had to run first. */
  updated: boolean;
  /** Wall time of the whole call. */
  ms: number;
}

/**
 * Installs {@link SLURM_PACKAGES} with apt-get unless they are installed already; idempotent,
 * and a few milliseconds when there is nothing to do. Runs `apt-get update` and retries once
 * when the first attempt fails for want of package lists (a fresh container has none).
 *
 * Package scripts are kept from starting the services: where invoke-rc.d can tell the runlevel
 * (a sysvinit or systemd machine), munge's postinst would start a munged we do not own, and
 * slurmd/slurmctld would start with no /etc/slurm/slurm.conf.
 */
export async function installSlurm(): Promise<InstallResult> {
  const t0 = performance.now();
  if (await packagesInstalled()) {
    return { installed: false, updated: false, ms: performance.now() - t0 };
  }
  let updated = false;
  await withoutServiceStarts(async () => {
    let r = await aptInstall();
    if (r.code !== 0 && /Unable to locate package|has no installation candidate|404/.test(r.out)) {
      await aptOk(["update"]);
      updated = true;
      r = await aptInstall();
    }
    if (r.code !== 0) {
      throw new Error(
        `apt-get install ${SLURM_PACKAGES.join(" ")} failed (${r.code}):\n${r.out.slice(-3000)}`,
      );
    }
  });
  if (!(await packagesInstalled())) {
    throw new Error(
      `apt-get install succeeded but ${SLURM_PACKAGES.join(" ")} are not all installed`,
    );
  }
  return { installed: true, updated, ms: performance.now() - t0 };
}

/** True when dpkg reports every package as installed. */
export async function packagesInstalled(): Promise<boolean> {
  if (!(await onPath("dpkg-query"))) return false;
  const r = await run("dpkg-query", ["-W", "-f=${Status}\\n", ...SLURM_PACKAGES]);
  const lines = r.stdout.trim().split("\n");
  return r.code === 0 && lines.length === SLURM_PACKAGES.length &&
    lines.every((l) => l.trim() === "install ok installed");
}

const POLICY_RC_D = "/usr/sbin/policy-rc.d";

/**
 * Runs `fn` with a policy-rc.d that denies service starts (exit 101, the Debian convention,
 * honoured by invoke-rc.d and deb-systemd-invoke), unless the machine has its own already.
 */
async function withoutServiceStarts(fn: () => Promise<void>): Promise<void> {
  let ours = false;
  try {
    await Deno.writeTextFile(
      POLICY_RC_D,
      "#!/bin/sh\n# smart-fetch Slurm tests: no service starts\nexit 101\n",
      {
        createNew: true,
        mode: 0o755,
      },
    );
    ours = true;
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  try {
    await fn();
  } finally {
    if (ours) await Deno.remove(POLICY_RC_D);
  }
}

/** apt-get install; waits for the dpkg lock (another test, or apt-daily) rather than failing. */
async function aptInstall(): Promise<{ code: number; out: string }> {
  const r = await run("apt-get", [
    "-o",
    "DPkg::Lock::Timeout=300",
    "install",
    "-y",
    "--no-install-recommends",
    ...SLURM_PACKAGES,
  ], {
    env: { DEBIAN_FRONTEND: "noninteractive" },
    timeoutMs: 600_000,
  });
  return { code: r.code, out: r.stdout + r.stderr };
}

async function aptOk(args: string[]): Promise<void> {
  const r = await run("apt-get", args, {
    env: { DEBIAN_FRONTEND: "noninteractive" },
    timeoutMs: 600_000,
  });
  if (r.code !== 0) {
    throw new Error(`apt-get ${args.join(" ")} failed (${r.code}):\n${r.stderr.slice(-3000)}`);
  }
}

async function onPath(name: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    try {
      const info = await Deno.stat(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
