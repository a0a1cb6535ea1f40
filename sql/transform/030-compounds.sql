-- staging.compounds (rows the loader could not prove valid) -> work.compounds + rejects. As for
-- users, work.compounds already holds the loaded rows. The first valid row of each compound_id wins.
WITH checked AS (
  SELECT s.*, etl.to_id(s.compound_id) AS id,
         CASE
           WHEN parse_error IS NOT NULL THEN parse_error
           WHEN etl.to_id(s.compound_id) IS NULL
             THEN format('compound_id %s is not a positive integer', etl.quoted(s.compound_id))
           WHEN length(s.compound_name) > 1000
             THEN format('compound_name is longer than 1000 characters (%s)', length(s.compound_name))
           WHEN length(s.compound_structure) > 100000
             THEN format('compound_structure is longer than 100000 characters (%s)', length(s.compound_structure))
         END AS problem
  FROM staging.compounds s
), typed_first AS (
  SELECT c.line, w.line AS first_line FROM checked c JOIN work.compounds w ON w.compound_id = c.id WHERE c.problem IS NULL
), judged AS (
  SELECT c.*, coalesce(problem, CASE WHEN line <> first_line
           THEN format('compound_id %s repeats the compound on line %s', id, first_line) END) AS reason
  FROM (SELECT c.*, least(f.first_line, min(c.line) FILTER (WHERE c.problem IS NULL) OVER (PARTITION BY c.id)) AS first_line
        FROM checked c LEFT JOIN typed_first f ON f.line = c.line) c
), rejected AS (
  INSERT INTO etl.rejects (run_id, file, line, reason, raw, raw_bytes)
  SELECT $1, 'compounds.csv', line, reason, etl.byte_prefix(raw, 1000), CASE WHEN NOT raw_is_preview THEN octet_length(raw) END FROM judged WHERE reason IS NOT NULL
)
INSERT INTO work.compounds (run_id, compound_id, compound_name, compound_structure, line)
SELECT $1, id, compound_name, compound_structure, line FROM judged WHERE reason IS NULL
