# Stand-in for postgres:17 on a machine that cannot reach Docker Hub: Debian's PostgreSQL 15,
# started as the official image starts (POSTGRES_USER/PASSWORD/DB create the role and database,
# UTF-8, on first start; the data in /var/lib/postgresql/data; password auth from other containers).
FROM commentsvc-offline/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
