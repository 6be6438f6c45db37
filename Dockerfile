# subgate: the gateway (HTTP server + worker) from source, as `npm ci && npm start` runs it.
FROM node:20-bookworm-slim

# package.json pins npm 11 (`packageManager`). npm 11 honours `allowScripts`, which denies the install
# scripts of dependencies (none is needed); the npm 10 that ships with Node 20 would run them.
RUN npm install --global --no-audit --no-fund npm@11.19.1

WORKDIR /app
COPY . .
# Installs every workspace and, through the root `postinstall`, generates the Prisma client offline.
# Development dependencies stay: the gateway runs from TypeScript source through tsx.
RUN npm ci --no-audit --no-fund && npm cache clean --force

# Production: SUBGATE_ENCRYPTION_KEY is required (no key file is generated).
ENV NODE_ENV=production \
    PORT=3000
USER node
EXPOSE 3000

# What `npm start` runs (`node --import tsx apps/gateway/src/main.ts all`), without npm in front: npm
# does not pass SIGTERM on to its child. One node process, PID 1, that handles SIGTERM and SIGINT
# itself (a graceful shutdown, then exit 0). The command is the role: all, server or worker.
ENTRYPOINT ["node", "--import", "tsx", "apps/gateway/src/main.ts"]
CMD ["all"]
