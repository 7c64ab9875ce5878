# Stand-in for redis:7-alpine on a machine that cannot reach Docker Hub: Debian's Redis 7.0,
# reachable from other containers as the official image's is (protected mode off), data in /data.
FROM commentsvc-offline/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data \
 && printf '#!/bin/sh\nexec /usr/bin/redis-server "$@" --protected-mode no\n' > /usr/local/bin/redis-server \
 && chmod +x /usr/local/bin/redis-server
WORKDIR /data
USER redis
CMD ["redis-server"]
