import { z } from '@hono/zod-openapi';

// The API's bodies as zod schemas (its parameters are in params.ts): the same objects validate requests and describe
// them in GET /openapi.json, so the document cannot drift from what the routes accept. They are
// also the one definition of the shapes the code passes around: UserFeatures, RunRecord, Summary
// and Reject are z.infer of them (test/run/shapes.test.ts holds the SQL columns to the same lists).
// One file, though long: it is the API's whole vocabulary, read side by side with the OpenAPI
// document it produces; split by resource, the shared pieces (runs, users, errors) would cross files.

export const ErrorBody = z
  .object({
    error: z.string().openapi({ description: 'What went wrong, for a person to read. Never a stack trace, SQL or a connection string.' }),
  })
  .openapi('Error', { example: { error: 'no user 4242 in the published features' } });

export const RunErrorBody = z
  .object({
    error: z.string(),
    run_id: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'The run that failed, or (409) the run in progress; null if it could not be told.' }),
  })
  .openapi('RunError', { example: { error: 'run 7 is in progress', run_id: 7 } });

const FileCounts = z
  .object({
    bytes: z.number().int().openapi({ description: 'Bytes read from the file.' }),
    rows_read: z.number().int().openapi({ description: 'Data rows read (blank lines and the header are not rows).' }),
    rows_loaded: z.number().int().nullable().openapi({ description: 'Rows accepted; null until the transform has counted them.' }),
    rows_rejected: z.number().int().nullable().openapi({ description: 'Rows rejected (see /runs/{id}/rejects); null until counted.' }),
  })
  .openapi('FileCounts');

export const RunWarning = z
  .object({
    kind: z.enum(['rejects', 'knock_on_rejects']).openapi({
      description:
        'rejects: the file lost more than WARN_REJECT_RATIO of its rows (but not more than MAX_REJECT_RATIO, which fails the run). ' +
        'knock_on_rejects: rows of the file were rejected because the user or compound they name was rejected.',
    }),
    file: z.string(),
    rows: z.number().int().openapi({ description: 'The rows of `file` the warning is about.' }),
    message: z.string().openapi({ description: 'The warning for a person to read.' }),
  })
  .openapi('RunWarning');

export const Run = z
  .object({
    run_id: z.number().int(),
    status: z.enum(['running', 'succeeded', 'failed']),
    source: z
      .enum(['data_dir', 'upload'])
      .openapi({ description: 'Where the files came from: DATA_DIR, or the parts of a multipart POST /data.' }),
    step: z.string().nullable().openapi({ description: 'The current step while running, else null.' }),
    started_at: z.iso.datetime(),
    finished_at: z.iso.datetime().nullable(),
    duration_ms: z.number().int().nullable(),
    error: z.string().nullable().openapi({ description: 'Why the run failed; null unless failed.' }),
    warnings: z.array(RunWarning).openapi({
      description:
        'What a person should look at although the run succeeded (docs/day-two.md); empty when nothing. The CLI exits 4 and bin/trigger.sh 4 when it is not empty.',
    }),
    files: z.record(z.string(), FileCounts).openapi({ description: 'Per input file: users.csv, compounds.csv, user_experiments.csv.' }),
    features: z.object({
      users: z.number().int().nullable(),
      experiments: z.number().int().nullable(),
      average_experiments_per_user: z.number().nullable(),
    }),
  })
  .openapi('Run', {
    example: {
      run_id: 1,
      status: 'succeeded',
      source: 'data_dir',
      step: null,
      started_at: '2026-11-29T12:00:00.000Z',
      finished_at: '2026-11-29T12:00:00.412Z',
      duration_ms: 412,
      error: null,
      warnings: [],
      files: {
        'users.csv': { bytes: 746, rows_read: 12, rows_loaded: 12, rows_rejected: 0 },
        'compounds.csv': { bytes: 193, rows_read: 6, rows_loaded: 6, rows_rejected: 0 },
        'user_experiments.csv': { bytes: 405, rows_read: 21, rows_loaded: 21, rows_rejected: 0 },
      },
      features: { users: 12, experiments: 21, average_experiments_per_user: 1.75 },
    },
  });

const USER_EXAMPLE = {
  user_id: 1,
  name: 'Marie Curie',
  email: 'marie.curie@example.org',
  total_experiments: 3,
  average_run_time: 13.5,
  top_compound_id: 2,
  top_compound_name: 'Caffeine',
  top_compound_ids: [2],
  top_compound_experiments: 3,
};

export const UserFeatures = z
  .object({
    user_id: z.number().int(),
    name: z.string(),
    email: z.string(),
    total_experiments: z.number().int().openapi({ description: "The user's accepted experiments." }),
    average_run_time: z.number().nullable().openapi({ description: 'Mean experiment_run_time of those experiments; null when none.' }),
    top_compound_id: z.number().int().nullable().openapi({ description: 'The lowest of top_compound_ids; null when no experiments.' }),
    top_compound_name: z.string().nullable(),
    top_compound_ids: z
      .array(z.number().int())
      .openapi({ description: "Every compound in the most of the user's experiments (ties kept), ascending." }),
    top_compound_experiments: z.number().int().nullable().openapi({ description: 'In how many experiments the top compounds appear.' }),
  })
  .openapi('UserFeatures', { example: USER_EXAMPLE });

export const FeaturesAnswer = z
  .object({
    run: Run.nullable().openapi({ description: 'The published run; null before any run succeeded.' }),
    average_experiments_per_user: z.number().nullable(),
    users: z.array(UserFeatures),
    next_after: z
      .number()
      .int()
      .nullable()
      .optional()
      .openapi({ description: 'Only with `limit`: the `after` of the next page; null on the last page.' }),
  })
  .openapi('Features');

export const CSV_EXAMPLE =
  'user_id,name,email,total_experiments,average_run_time,top_compound_id,top_compound_name,top_compound_ids,top_compound_experiments\r\n' +
  '1,Marie Curie,marie.curie@example.org,3,13.5,2,Caffeine,2,3\r\n' +
  '12,"Doe, Jane",jane@example.org,0,,,,,\r\n';

/** One rejected row. */
export const Reject = z.object({
  file: z.string(),
  line: z.number().int().openapi({ description: 'Physical line, 1-based, counting the header and blank lines.' }),
  reason: z.string(),
  raw: z.string().openapi({ description: 'The line as read, or its first 1000 bytes.' }),
  raw_bytes: z
    .number()
    .int()
    .nullable()
    .openapi({ description: "The whole line's length in bytes; null where the loader could keep only a preview." }),
  cause_file: z.string().nullable().openapi({
    description:
      'A knock-on reject (an experiment whose user or compound was rejected): the file of the rejected row it follows from; else null.',
  }),
  cause_line: z
    .number()
    .int()
    .nullable()
    .openapi({ description: 'With cause_file: the line of that rejected row (listed on an earlier page).' }),
});

export const RejectsPage = z
  .object({
    run_id: z.number().int(),
    limit: z.number().int(),
    offset: z.number().int(),
    rejected: z.array(Reject),
  })
  .openapi('Rejects', {
    example: {
      run_id: 3,
      limit: 1000,
      offset: 0,
      rejected: [
        {
          file: 'users.csv',
          line: 2,
          reason: "signup_date '09/01/2023' is not a valid date (YYYY-MM-DD)",
          raw: '1,\tAnn,\tann@example.org,\t09/01/2023',
          raw_bytes: 35,
          cause_file: null,
          cause_line: null,
        },
        {
          file: 'user_experiments.csv',
          line: 5,
          reason: "user_id 1 was rejected: users.csv line 2: signup_date '09/01/2023' is not a valid date (YYYY-MM-DD)",
          raw: '4,\t1,\t2;3,\t25',
          raw_bytes: 13,
          cause_file: 'users.csv',
          cause_line: 2,
        },
      ],
    },
  });

export const Summary = z
  .object({
    run_id: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'The published run; null before any run succeeded (then the rest is empty).' }),
    users: z.number().int(),
    experiments: z.number().int(),
    average_experiments_per_user: z.number().nullable(),
    histogram: z
      .array(
        z.object({
          min_experiments: z.number().int(),
          max_experiments: z.number().int().openapi({ description: 'Inclusive.' }),
          users: z.number().int(),
        }),
      )
      .openapi({
        description:
          'Users by number of experiments, in at most 21 buckets from 0 up, users with no experiments included and empty buckets kept. ' +
          'The buckets are equally wide (a round width: 1, 2, 5, 10, 20, ...) up to the 99th percentile; when a few users are beyond them, one last, wider bucket ends at the largest count.',
      }),
    top_compounds: z.array(z.object({ compound_id: z.number().int(), compound_name: z.string(), users: z.number().int() })).openapi({
      description:
        "The 10 compounds that are most often among a user's top compounds, most users first (then by id). A tie counts for each tied compound, so the counts can add up to more than the users.",
    }),
  })
  .openapi('Summary', {
    example: {
      run_id: 1,
      users: 10,
      experiments: 11,
      average_experiments_per_user: 1.1,
      histogram: [
        { min_experiments: 0, max_experiments: 0, users: 0 },
        { min_experiments: 1, max_experiments: 1, users: 9 },
        { min_experiments: 2, max_experiments: 2, users: 1 },
      ],
      top_compounds: [
        { compound_id: 3, compound_name: 'Compound C', users: 8 },
        { compound_id: 2, compound_name: 'Compound B', users: 7 },
        { compound_id: 1, compound_name: 'Compound A', users: 5 },
      ],
    },
  });

export const Health = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    database: z
      .enum(['postgresql', 'citus'])
      .openapi({ description: 'A plain PostgreSQL, or a Citus coordinator whose data is distributed over its workers.' }),
    workers: z.number().int().optional().openapi({ description: 'Citus only: the active worker nodes.' }),
    shards: z.number().int().optional().openapi({ description: 'Citus only: the shards each distributed table is split into.' }),
    error: z.string().optional(),
  })
  .openapi('Health', { example: { status: 'ok', database: 'postgresql' } });

/** A user's features in one of two compared runs (GET /runs/:id/diff): UserFeatures without the person. */
export const DiffFeatures = UserFeatures.pick({
  total_experiments: true,
  average_run_time: true,
  top_compound_id: true,
  top_compound_name: true,
  top_compound_ids: true,
  top_compound_experiments: true,
}).openapi('DiffFeatures');

export const UserChange = z
  .object({
    user_id: z.number().int(),
    change: z.enum(['added', 'removed', 'changed']).openapi({
      description:
        '`added`: in the run only; `removed`: in `against` only; `changed`: in both, with another experiment count, average run time, or top compounds (or their count).',
    }),
    before: DiffFeatures.nullable().openapi({ description: 'In `against`; null when added.' }),
    after: DiffFeatures.nullable().openapi({ description: 'In the run; null when removed.' }),
  })
  .openapi('UserChange');

/** GET /runs/:id/diff without its users: what etl.run_diff_summary answers. */
export const RunDiffSummary = z.object({
  run_id: z.number().int(),
  against: z.number().int().openapi({ description: 'The run compared with: `?against`, or the last run that succeeded before this one.' }),
  users: z.object({
    before: z.number().int().openapi({ description: 'Users of `against`.' }),
    after: z.number().int().openapi({ description: 'Users of the run.' }),
    added: z.number().int(),
    removed: z.number().int(),
    changed: z.number().int(),
  }),
  features_changed: z
    .object({
      total_experiments: z.number().int(),
      average_run_time: z.number().int(),
      top_compound: z.number().int().openapi({ description: 'top_compound_ids or top_compound_experiments changed.' }),
    })
    .openapi({ description: 'Of the users in both runs, how many have another value of each feature.' }),
  average_experiments_per_user: z.object({ before: z.number().nullable(), after: z.number().nullable() }),
});

export const RunDiff = RunDiffSummary.extend({
  changes: z.array(UserChange).openapi({ description: 'The users added, removed or changed, by user_id.' }),
  next_after: z
    .number()
    .int()
    .nullable()
    .optional()
    .openapi({ description: 'Only with `limit`: the `after` of the next page; null on the last page.' }),
}).openapi('RunDiff', {
  example: {
    run_id: 2,
    against: 1,
    users: { before: 10, after: 11, added: 1, removed: 0, changed: 1 },
    features_changed: { total_experiments: 1, average_run_time: 1, top_compound: 0 },
    average_experiments_per_user: { before: 1.1, after: 1.1818181818181819 },
    changes: [
      {
        user_id: 1,
        change: 'changed',
        before: {
          total_experiments: 2,
          average_run_time: 15,
          top_compound_id: 2,
          top_compound_name: 'Compound B',
          top_compound_ids: [2],
          top_compound_experiments: 2,
        },
        after: {
          total_experiments: 3,
          average_run_time: 14,
          top_compound_id: 2,
          top_compound_name: 'Compound B',
          top_compound_ids: [2],
          top_compound_experiments: 3,
        },
      },
      {
        user_id: 11,
        change: 'added',
        before: null,
        after: {
          total_experiments: 1,
          average_run_time: 20,
          top_compound_id: 1,
          top_compound_name: 'Compound A',
          top_compound_ids: [1],
          top_compound_experiments: 1,
        },
      },
    ],
  },
});

export const DIFF_CSV_EXAMPLE =
  'user_id,change,total_experiments_before,total_experiments_after,average_run_time_before,average_run_time_after,top_compound_id_before,top_compound_id_after,top_compound_name_before,top_compound_name_after,top_compound_ids_before,top_compound_ids_after,top_compound_experiments_before,top_compound_experiments_after\r\n' +
  '1,changed,2,3,15,14,2,2,Compound B,Compound B,2,2,2,3\r\n' +
  '11,added,,1,,20,,1,,Compound A,,1,,1\r\n';

/** A compound named (GET /data/users, GET /data/users/{id}/experiments); `name` null if the run lacks it. */
export const NamedCompound = z.object({ id: z.number().int(), name: z.string().nullable() }).openapi('NamedCompound');

export const UserRow = UserFeatures.extend({
  top_compounds: z.array(NamedCompound).openapi({ description: 'top_compound_ids with their names, in the same order (all tied).' }),
}).openapi('UserRow');

export const UsersPage = z
  .object({
    run_id: z.number().int().nullable().openapi({ description: 'The published run; null before any run succeeded.' }),
    sort: z.string(),
    dir: z.enum(['asc', 'desc']),
    q: z.string().nullable(),
    total_users: z.number().int().openapi({ description: 'Users in the published run.' }),
    matching: z
      .object({
        count: z.number().int(),
        exact: z.boolean().openapi({ description: 'false: more than `count` users match (the count stops there).' }),
      })
      .nullable()
      .openapi({ description: 'With `q`: how many users match it; null without.' }),
    users: z.array(UserRow),
    next: z.string().nullable().openapi({ description: 'The `after` of the next page; null on the last page.' }),
    prev: z.string().nullable().openapi({ description: 'The `before` of the previous page; null on the first page.' }),
  })
  .openapi('UsersPage');

export const UserDetail = z
  .object({
    run_id: z.number().int(),
    user: UserRow,
    experiments: z
      .array(
        z.object({
          experiment_id: z.number().int(),
          run_time: z.number(),
          line: z.number().int().openapi({ description: 'Its line in user_experiments.csv.' }),
          compounds: z.array(NamedCompound).openapi({ description: 'Its compounds, each once, in the order the file lists them.' }),
        }),
      )
      .openapi({ description: "The user's experiments in file order (the first 1000)." }),
    compound_counts: z
      .array(
        NamedCompound.extend({
          experiments: z.number().int().openapi({ description: "How many of the user's experiments list it." }),
          top: z.boolean().openapi({ description: 'One of the top compounds (the highest count).' }),
        }),
      )
      .openapi({ description: "Every compound of the user's experiments, the most often listed first, then by id." }),
  })
  .openapi('UserDetail');
