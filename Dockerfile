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

# What `npm start` runs (`tsx src/main.ts all` in apps/gateway), without npm in front: npm exits on
# SIGTERM without waiting for its child, which would cut the graceful shutdown short. tsx forwards
# SIGTERM and SIGINT to the gateway and exits with it. The command is the role: all, server or worker.
WORKDIR /app/apps/gateway
ENTRYPOINT ["/app/node_modules/.bin/tsx", "src/main.ts"]
CMD ["all"]
