# syntax=docker/dockerfile:1.7
# The Shipyard image: one image, several commands (`api`, `worker`, `migrate`, `all`).
# test/image/image-layout.test.ts rebuilds this layout without Docker from the stages below
# (it runs the `deps` stage's RUN commands and the `build` stage's last one, copies what the
# final stage copies, and starts the ENTRYPOINT; the final stage's apt-get it checks but does not
# run, using the testbed's own PostgreSQL client): change them together.
#
# glibc base on purpose: the Temporal core bridge ships glibc binaries only (no musl/alpine).
# ---- build: compiled JavaScript and the prebuilt workflow bundle in dist/
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

# ---- deps: production dependencies only, with the core bridge for this platform only
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules/@temporalio/core-bridge/releases -mindepth 1 -maxdepth 1 ! -name "$(uname -m)-unknown-linux-gnu" -exec rm -rf {} +

# ---- the image
FROM node:22-bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="shipyard" \
      org.opencontainers.image.description="Control plane that gives every customer of a SaaS product its own isolated instance, as durable Temporal workflows." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="UNLICENSED" \
      org.opencontainers.image.base.name="docker.io/library/node:22-bookworm-slim"
# pg_dump and pg_restore for tenant backups: the PostgreSQL 15 client of the base image's Debian
# (bookworm's `postgresql-client` is postgresql-client-15), named by its major so that a base of
# another Debian release stops the build here instead of changing the major unnoticed. pg_dump
# refuses a server of a newer major than its own: every tenant server (TENANT_DATABASE_URL) must
# run PostgreSQL 15 or older (docker-compose.yml runs 15; so does the testbed, on bookworm).
# No recommends; perl comes with it for Debian's pg_wrapper (postgresql-client-common), which
# Shipyard does not go through: SHIPYARD_PG_BIN_DIR names the binaries of that major directly.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/*
ENV SHIPYARD_PG_BIN_DIR=/usr/lib/postgresql/15/bin
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# Inside a container the API and the worker's metrics must be reachable from outside it.
ENV SHIPYARD_API_HOST=0.0.0.0 \
    SHIPYARD_WORKER_METRICS_HOST=0.0.0.0
# glibc gives each thread that allocates its own malloc arena, and the worker runs many (the
# Temporal core's, libuv's, V8's): at N = 200 in the fleet bench, two arenas took 40-50 MiB off
# the worker's peak with no loss of throughput. demo/processes.ts starts local processes the same way.
ENV MALLOC_ARENA_MAX=2
# V8's young generation grows to 3 × 16 MiB in each isolate (the worker has two: its main thread
# and the workflow thread) when a fleet's requests arrive at once; most of what they allocate dies
# young either way: 2 MiB semi-spaces took the API's peak at N = 200 from about 220 to 120-175 MiB,
# with no loss of throughput. NODE_OPTIONS, so a deployment may set its own. (How far a heap grows
# between full collections is set in cli/main.ts: Node refuses that flag here.)
ENV NODE_OPTIONS=--max-semi-space-size=2
# The base image's `node` user, numerically, so Kubernetes' runAsNonRoot can verify it; nothing
# in /app is writable by it.
USER 1000:1000
EXPOSE 8080 9464
# The API's /healthz; for `shipyard worker` the orchestrator probes :9464/healthz instead (see docker-compose.yml, the chart).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SHIPYARD_API_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/shipyard.js"]
CMD ["api"]
