"""The floor: a bare Flask "hello" app, served by gunicorn exactly like commentsvc."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
