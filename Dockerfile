# commentsvc: the app under gunicorn. Built as a wheel, installed into a slim image,
# run as an unprivileged user.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY commentsvc ./commentsvc
COPY templates ./templates
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    COMMENTSVC_INSTANCE_PATH=/app/instance
COPY --from=build /wheels /wheels
# With the granian extra: `python granian_serve.py` is the other server (docs/decisions/0020).
RUN pip install --no-cache-dir "$(ls /wheels/*.whl)[granian]" \
 && rm -rf /wheels \
 && useradd --create-home --uid 10001 commentsvc \
 && mkdir -p /app/instance \
 && chown commentsvc /app/instance
WORKDIR /app
COPY wsgi.py gunicorn.conf.py granian_serve.py ./
USER commentsvc
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
