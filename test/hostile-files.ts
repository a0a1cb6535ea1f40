// Hostile input files, generated: every kind of bad row the rules know, mixed with valid rows that
// the typing layer cannot prove valid (late ids, odd spellings). Shared by the tests that check that
// two ways of running the ETL give the same results (test/typed-path.test.ts, test/citus/).
import { mulberry32 } from '../tools/generate.js';

/** Deterministic, so a failure can be replayed. */
const rng = mulberry32;

export function hostileFiles(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;
  const csv = (v: string) => (/[",\r\n]/.test(v) || chance(0.05) ? `"${v.replace(/"/g, '""')}"` : v);

  const users: string[] = ['user_id,\tname,\temail,\tsignup_date'];
  let uid = 0;
  for (let i = 0; i < 400; i++) {
    uid += chance(0.97) ? 1 : -Math.floor(r() * 20); // some go back: repeats or late ids
    const id = chance(0.9)
      ? (chance(0.1) ? '00' : '') + Math.max(uid, 1)
      : pick(['abc', '0', '-5', '9007199254740992', '9007199254740991', '', ' 7', '1e3', '0000000000000000042']);
    const name = chance(0.97)
      ? pick([
          'Ann',
          'Ann',
          'Ann',
          'Ann',
          'Ann',
          'Ann',
          'Doe, Jane',
          'Tab\there',
          'Back\\slash',
          'Quote "q"',
          'é'.repeat(600),
          'ü'.repeat(1001),
          'n'.repeat(1000),
          'n'.repeat(1001),
        ])
      : '';
    const date = chance(0.85)
      ? '2023-01-01'
      : pick([
          '2023-01-01',
          '2024-02-29',
          '2023-02-29',
          '2023-02-30',
          '0000-01-01',
          '2023-13-01',
          '2023-1-01',
          '9999-12-31',
          '0001-01-01',
          'x',
        ]);
    users.push([id, csv(name), csv(`u${i}@x.org`), date].join(',\t'));
    if (chance(0.02)) users.push('');
    if (chance(0.01)) users.push('1,\ttoo few');
  }

  const compounds: string[] = ['compound_id,\tcompound_name,\tcompound_structure'];
  for (let i = 1; i <= 40; i++) {
    const id = chance(0.95) ? String(chance(0.05) ? Math.max(1, i - 3) : i) : pick(['-3', 'x', '0', '007']);
    compounds.push(
      [
        id,
        csv(chance(0.9) ? 'Aspirin' : pick(['Caffeine, pure', 'c'.repeat(1001)])),
        chance(0.95) ? 'C9H8O4' : pick(['s'.repeat(100_001), '']),
      ].join(',\t'),
    );
  }

  const experiments: string[] = ['experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time'];
  let eid = 0;
  for (let i = 0; i < 3000; i++) {
    eid += chance(0.99) ? 1 : -Math.floor(r() * 30);
    const id = chance(0.99) ? String(Math.max(eid, 1)) : pick(['x', '0', '9007199254740992', '']);
    const user = chance(0.97) ? String(1 + Math.floor(r() * (uid + 2))) : pick(['x', '0', '00012', '9007199254740991']);
    const n = 1 + Math.floor(r() * 4);
    const items = Array.from({ length: n }, () =>
      chance(0.99) ? String(1 + Math.floor(r() * (chance(0.98) ? 30 : 45))) : pick(['x', '0', '007', '']),
    );
    if (chance(0.1)) items.push(items[0]!); // a compound listed twice
    let list = items.join(chance(0.1) ? ' ; ' : ';');
    if (chance(0.02)) list = pick(['', ';', ' ; ;', '1;;2', '1;']);
    const time = chance(0.9)
      ? pick(['12', '8.5', '0', '4.25'])
      : pick([
          '1e3',
          '-0',
          '+3',
          '-1',
          'NaN',
          'Infinity',
          '.5',
          '5.',
          '1e999',
          '1E+05',
          '-0.0e5',
          '0000000000000000012.5',
          '1.2.3',
          '123456789012345.123456789012345',
          '1e-99',
          '',
        ]);
    experiments.push([id, user, csv(list), time].join(',\t'));
  }
  return { users: users.join('\r\n'), compounds: compounds.join('\r\n'), experiments: experiments.join('\r\n') };
}
