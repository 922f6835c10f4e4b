# One image for both halves: the api and the worker differ only in their command.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY libs/config/package.json libs/config/
COPY libs/db/package.json libs/db/
COPY libs/errors/package.json libs/errors/
COPY libs/events/package.json libs/events/
COPY libs/imaging/package.json libs/imaging/
COPY libs/observability/package.json libs/observability/
COPY libs/pipeline/package.json libs/pipeline/
COPY libs/queue/package.json libs/queue/
COPY libs/runtime/package.json libs/runtime/
COPY libs/storage/package.json libs/storage/
# postinstall applies these (a fix to postgres.js, see patches/).
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY . .
ENV NODE_ENV=production
USER node
CMD ["npm", "run", "start:api"]
