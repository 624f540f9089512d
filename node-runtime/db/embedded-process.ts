// What the embedded PostgreSQL needs from the operating system: the unprivileged user it runs as when we
// are root, directories that user can enter, and a look at other processes (is a pid alive, is it the
// postgres of a given cluster) to tell a server left behind by a dead run from one in use.
import { execFile } from 'node:child_process';
import { chmod, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Whether a process with this pid exists (ours to signal or not). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a live process, as its argv; undefined when it cannot be read. */
export async function commandLine(pid: number): Promise<string[] | undefined> {
  const proc = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  if (proc !== undefined) return proc.split('\0').filter((a) => a !== '');
  // No /proc (macOS): ps prints the arguments joined by spaces, which is enough for the checks below.
  const ps = await run('ps', ['-o', 'command=', '-p', String(pid)]).catch(() => undefined);
  const line = ps?.stdout.trim();
  return line ? line.split(/\s+/) : undefined;
}

/** Whether `pid` is a postgres server running the cluster in `clusterDir`. */
export async function isPostgresOf(pid: number, clusterDir: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  const argv = await commandLine(pid);
  if (!argv?.[0]?.endsWith('postgres')) return false;
  const d = argv.indexOf('-D');
  return d >= 0 && argv[d + 1] !== undefined && resolve(argv[d + 1] ?? '') === resolve(clusterDir);
}

/** Whether `pid` is a live Node.js process (the gateway that started a cluster). */
export async function isNodeProcess(pid: number): Promise<boolean> {
  if (!isAlive(pid)) return false;
  const argv = await commandLine(pid);
  return /(^|\/)node$/.test(argv?.[0] ?? '');
}

/** Waits until `pid` is gone, up to `timeoutMs`; true if it went. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** uid and gid of a system user. */
export async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Creates the unprivileged system user the server runs as, unless it exists. */
export async function ensureOsUser(name: string): Promise<void> {
  if (
    await run('id', ['-u', name]).then(
      () => true,
      () => false,
    )
  )
    return;
  const groupExists = await run('getent', ['group', name]).then(
    () => true,
    () => false,
  );
  await run('useradd', [
    '--system',
    '--no-create-home',
    '--shell',
    '/usr/sbin/nologin',
    ...(groupExists ? ['--gid', name] : ['--user-group']),
    name,
  ]).catch((error: unknown) => {
    // Another process may have created it at the same moment.
    return run('id', ['-u', name]).catch(() => {
      throw new Error(`cannot create the system user ${name} to run PostgreSQL as`, { cause: error });
    });
  });
}

/**
 * Lets `user` traverse every directory down to `dir`, adding only the search bit for others where it
 * is missing (a checkout under a 0700 temp dir or home dir, as root). Nothing becomes listable.
 */
export async function makeReachable(dir: string, user: string): Promise<void> {
  const uid = Number((await run('id', ['-u', user])).stdout.trim());
  const gids = (await run('id', ['-G', user])).stdout.trim().split(/\s+/).map(Number);
  for (let d = dir; ; d = dirname(d)) {
    const s = await stat(d);
    const ok =
      s.uid === uid
        ? (s.mode & 0o100) !== 0
        : gids.includes(s.gid)
          ? (s.mode & 0o010) !== 0
          : (s.mode & 0o001) !== 0;
    if (!ok) {
      await chmod(d, (s.mode & 0o7777) | 0o001).catch((error: unknown) => {
        throw new Error(`PostgreSQL runs as the user ${user}, which cannot enter ${d}: chmod o+x ${d}`, {
          cause: error,
        });
      });
    }
    if (dirname(d) === d) return;
  }
}
