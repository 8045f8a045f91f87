# syntax=docker/dockerfile:1
# InferRouter's edge, self-hosted: the Worker is bundled here, at build time (wrangler writes
# .wrangler/tmp while bundling, and /app is root's, read-only to the node user), and
# `scripts/serve.ts --bundle /app/dist` runs that bundle in workerd (the runtime wrangler installs),
# with secrets as files, Durable Object state and daily operation logs on volumes. Build from the
# repository root:
#   docker build -f sidecar/edge.Dockerfile -t inferrouter-edge .
FROM node:24-slim
WORKDIR /app
ENV NODE_LLAMA_CPP_SKIP_DOWNLOAD=true \
    WRANGLER_SEND_METRICS=false
COPY package.json package-lock.json ./
# wrangler and workerd are dev dependencies; install scripts run (workerd's puts its binary in place).
# The sidecar's model runtime is not needed here.
RUN npm ci --no-audit --no-fund \
 && rm -rf node_modules/@node-llama-cpp node_modules/node-llama-cpp \
 && npm cache clean --force
COPY wrangler.toml tsconfig.json ./
COPY shared ./shared
COPY edge ./edge
COPY scripts ./scripts
RUN node node_modules/wrangler/bin/wrangler.js deploy --dry-run --outdir /app/dist \
 && rm -rf .wrangler
RUN mkdir -p /data/state /data/logs && chown -R node:node /data
USER node
EXPOSE 8787
VOLUME ["/data/state", "/data/logs"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8787/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself (not npm) is the process docker stop signals: SIGTERM stops workerd and exits 0.
ENTRYPOINT ["node", "scripts/serve.ts"]
CMD ["--bundle", "/app/dist", "--host", "0.0.0.0", "--port", "8787", "--secrets-dir", "/run/secrets", "--state-dir", "/data/state", "--log-dir", "/data/logs"]
