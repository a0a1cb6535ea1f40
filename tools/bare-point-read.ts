/**
 * The yardstick of GET /data/users/:id (tools/point-reads.ts): the least a server can do for it, a
 * bare `node:http` server answering each `GET /data/users/<id>` with one prepared SELECT of the
 * user's published JSON through `pg`, nothing else (no routing, validation, locks, logs or metrics).
 *
 *   DATABASE_URL=postgres://... PORT=8099 [POOL_MAX=10] node --import tsx tools/bare-point-read.ts
 */
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_MAX ?? 10) });
const USER = { name: 'user', text: 'SELECT json FROM features.user_features_json WHERE user_id = $1' };

const server = http.createServer((req, res) => {
  const id = /^\/data\/users\/(\d{1,16})$/.exec(req.url ?? '')?.[1];
  if (!id) return void res.writeHead(404).end();
  pool.query<{ json: string }>({ ...USER, values: [id] }).then(
    ({ rows }) => {
      if (rows[0]) res.writeHead(200, { 'Content-Type': 'application/json' }).end(rows[0].json);
      else res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"no such user"}');
    },
    () => res.writeHead(500).end(),
  );
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(`bare point reads on port ${process.env.PORT}`));
process.once('SIGTERM', () => server.close(() => void pool.end()));
