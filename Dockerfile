# reverie: one image for the api, the worker and migrations.
#   docker build -t reverie .
#   docker run reverie node bin/reverie.js <api|worker|migrate>
# TypeScript runs through tsx at runtime (a production dependency), so there is no build step.

ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS base
WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# Production dependencies only. `npm install`, not `npm ci`: the lockfile comes from
# machines of other platforms and `npm ci` rejects its optional native binaries
# (@swc/core, esbuild); `npm install` resolves the right ones for this platform.
FROM base AS deps
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM base AS runtime
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json package-lock.json tsconfig.json ./
COPY --chown=node:node bin ./bin
COPY --chown=node:node src ./src
COPY --chown=node:node workflows ./workflows
COPY --chown=node:node activities ./activities
COPY --chown=node:node migrations ./migrations
# Writable for the filesystem blob driver (BLOB_DIR defaults to .reverie/blobs).
RUN mkdir -p /app/.reverie && chown node:node /app/.reverie

USER node
ENV HOST=0.0.0.0 \
    PORT=8080
EXPOSE 8080

# Probes the api. Containers running the worker or migrate should disable it
# (docker-compose.yml does: `healthcheck: disable: true`).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "bin/reverie.js", "api"]
