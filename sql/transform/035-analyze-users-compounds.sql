-- Fresh statistics for the accepted users and compounds, which the experiment checks join against.
ANALYZE work.users, work.compounds
