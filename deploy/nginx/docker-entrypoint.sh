#!/bin/sh
# Renders the mounted template /etc/nginx/templates/cdn.conf into conf.d, as scripts/cdn-config.ts does for
# `npm run cdn`: each ${CDN_*} placeholder from the environment, and nothing else (nginx's own $variables stay).
# A placeholder without a value stops the container instead of leaving nginx an empty `listen` or `proxy_pass`.
set -eu
template=/etc/nginx/templates/cdn.conf
placeholders=$(grep -o '\${CDN_[A-Z_]*}' "$template" | sort -u)
for placeholder in $placeholders; do
  name=${placeholder#??}
  name=${name%?}
  if [ -z "$(printenv "$name" || true)" ]; then
    echo "cdn: $name is not set; deploy/nginx/cdn.conf needs it (see docker-compose.yml)" >&2
    exit 1
  fi
done
envsubst "$placeholders" <"$template" >/etc/nginx/conf.d/cdn.conf
exec "$@"
