# Stand-in for python:3.12-slim on a machine that cannot reach Docker Hub: Debian's Python 3.11
# with pip, as the official image offers it (`python`, `pip`, installs into the system).
FROM commentsvc-offline/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip python-is-python3 \
 && ln -s /usr/bin/pip3 /usr/local/bin/pip \
 && rm -rf /var/lib/apt/lists/*
# Debian marks its Python as managed by apt; the official image's is not.
ENV PIP_BREAK_SYSTEM_PACKAGES=1
CMD ["python3"]
