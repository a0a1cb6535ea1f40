-- staging.compounds -> work.compounds + rejects. The first valid row of each compound_id wins.
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
), judged AS (
  SELECT c.*, coalesce(problem, CASE WHEN line <> first_line
           THEN format('compound_id %s repeats the compound on line %s', id, first_line) END) AS reason
  FROM (SELECT *, min(line) FILTER (WHERE problem IS NULL) OVER (PARTITION BY id) AS first_line FROM checked) c
), rejected AS (
  INSERT INTO etl.rejects (run_id, file, line, reason, raw)
  SELECT $1, 'compounds.csv', line, reason, raw FROM judged WHERE reason IS NOT NULL
)
INSERT INTO work.compounds (run_id, compound_id, compound_name, compound_structure, line)
SELECT $1, id, compound_name, compound_structure, line FROM judged WHERE reason IS NULL
