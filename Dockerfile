# A first image for docker-compose: the app under gunicorn (hardened in a later issue).
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md wsgi.py ./
COPY commentsvc ./commentsvc
COPY templates ./templates
RUN pip install --no-cache-dir . && useradd --create-home commentsvc
USER commentsvc
EXPOSE 8000
CMD ["gunicorn", "--workers", "2", "--bind", "0.0.0.0:8000", "wsgi:app"]
