# syntax=docker/dockerfile:1
# The Switchboard org controller (directory, profiles, policy, signed bundles, audit, agent mesh).
# Build: docker build -t switchboard-controller .      Run with PostgreSQL: docker compose up -d
# See docs/deploy.md (backups, restore, upgrades, TLS).

FROM node:22-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds its native addon from source.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json tsconfig.console.json ./
# Every source folder tsconfig.build.json compiles, and scripts/ (npm run build runs scripts/build.mjs);
# test/installers/container.test.ts checks this list against tsconfig.build.json.
COPY scripts scripts
COPY audit audit
COPY bin bin
COPY controller controller
COPY gateway gateway
COPY installers installers
COPY mesh mesh
COPY models models
COPY platform platform
COPY policies policies
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    SWITCHBOARD_DATA_DIR=/data \
    SWITCHBOARD_CONTROLLER_PORT=8788
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/policies policies
COPY --from=build /app/installers/org installers/org
COPY --from=build /app/models models
RUN mkdir -p /data && chown node:node /data
# The image's own `node` user (uid 1000): never root.
USER node
VOLUME ["/data"]
EXPOSE 8788
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SWITCHBOARD_CONTROLLER_PORT||8788)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/bin/switchboard.js"]
CMD ["controller", "serve", "--host", "0.0.0.0", "--port", "8788", "--data-dir", "/data"]
