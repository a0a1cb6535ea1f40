// The checkout compiled once for `npm test` (test/runner.ts): every process of the suite (test
// files, the services and CLIs they start, parse workers) then runs plain node on JavaScript.
// Under tsx each of them paid tsx's start-up and loader (~2.3 s of CPU, against ~0.9 s for
// compiled JavaScript) and the suite starts dozens of them on a two-core machine.
//
// The tree is a copy of the checkout (input files must be real files, not links: the loader
// refuses links) with the compiled .js beside each .ts of src/, test/, tools/ and docs/examples/, and a link to its
// node_modules. So paths relative to a module (src/db/sql-paths.ts: ../../sql) and to the tests'
// ROOT lead to the same files as in the checkout. esbuild is what tsx itself compiles with, with
// the same tsconfig, so the JavaScript is what tsx would have run.
import { build } from 'esbuild';
import { cp, readdir, symlink } from 'node:fs/promises';
import path from 'node:path';

/** Not copied: git's store, the dependencies (linked), and what runs leave in a checkout. */
const SKIPPED = new Set(['.git', 'node_modules', 'dist', '.pgdata', 'tmp']);

/** Builds the tree of `root` into the (empty) directory `into`. */
export async function buildTree(root: string, into: string): Promise<void> {
  for (const name of await readdir(root)) {
    if (!SKIPPED.has(name)) await cp(path.join(root, name), path.join(into, name), { recursive: true, verbatimSymlinks: true });
  }
  await symlink(path.join(root, 'node_modules'), path.join(into, 'node_modules'));
  const sources: string[] = [];
  for (const dir of ['src', 'test', 'tools', 'docs/examples']) {
    for (const name of await readdir(path.join(root, dir), { recursive: true })) {
      if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) sources.push(path.join(root, dir, name));
    }
  }
  await build({
    entryPoints: sources,
    outbase: root,
    outdir: into,
    tsconfig: path.join(root, 'tsconfig.json'),
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node}`,
    // Failures point at the .ts lines (the test runner runs with --enable-source-maps, as tsx does).
    sourcemap: 'inline',
    logLevel: 'error',
  });
}
