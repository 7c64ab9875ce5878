"""Flask extensions, created unbound here and bound to the app by ``create_app``.

The Redis client, which is not a Flask extension, is ``commentsvc.core.redis_client``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints make migrations predictable on both SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    if TYPE_CHECKING:
        # Every model here is mapped to a table of its own, not to a join or a query.
        __table__: ClassVar[Table]


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    # mypy cannot see through the class Flask-SQLAlchemy builds from ``Base`` at run time;
    # what the models use of it (the declarative mapping, the metadata) is ``Base``'s.
    Model = Base
else:
    Model = db.Model
csrf = CSRFProtect()
