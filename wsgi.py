"""WSGI entry point: ``gunicorn wsgi:app``. Prepares the instance (key, migrations) on start."""

from commentsvc import create_app
from commentsvc.startup import prepare

app = create_app()
prepare(app)
