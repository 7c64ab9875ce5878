# Stand-in for nginx:1.28-alpine on a machine that cannot reach Docker Hub: Debian's nginx 1.22,
# reading /etc/nginx/conf.d/*.conf inside its http block as the official image does, with wget
# for the healthcheck.
FROM commentsvc-offline/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx wget \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
CMD ["nginx", "-g", "daemon off;"]
