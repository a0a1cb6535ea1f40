// What the tools' command lines (tools/bench.ts, tools/generate.ts, tools/page-latency.ts) share beside node:util parseArgs.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * An integer option: `fallback` when it is absent, else its value (digits, `_` between them as in
 * 1_000_000, a sign only where `min` allows below zero); an Error naming the option otherwise.
 */
export function integerOption(name: string, raw: string | undefined, fallback: number, { min }: { min?: number } = {}): number {
  if (raw === undefined) return fallback;
  const text = raw.trim().replace(/_/g, '');
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || (min !== undefined && value < min)) {
    throw new Error(`--${name} must be an integer${min === undefined ? '' : ` ≥ ${min}`}, got "${raw}"`);
  }
  return value;
}

/**
 * The options of `argv` (node:util parseArgs, strict: an unknown option is an error): `strings`
 * take a value, `flags` do not, and -h/--help is always one.
 */
export function toolArgs<S extends string, F extends string = never>(
  argv: string[],
  strings: readonly S[],
  flags: readonly F[] = [],
): Partial<Record<S, string> & Record<F | 'help', boolean>> {
  const options: ParseArgsConfig['options'] = { help: { type: 'boolean', short: 'h' } };
  for (const name of strings) options[name] = { type: 'string' };
  for (const name of flags) options[name] = { type: 'boolean' };
  return parseArgs({ args: argv, options, strict: true }).values as Partial<Record<S, string> & Record<F | 'help', boolean>>;
}
