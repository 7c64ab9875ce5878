"""Dates the server writes are in COMMENTSVC_TIME_ZONE: the widget without JavaScript, the admin."""

from __future__ import annotations

import re

import pytest

A = {"url": "https://news.example/a", "title": "Lighthouse"}


@pytest.mark.settings(TIME_ZONE="America/New_York")
def test_admin_and_widget_times_use_the_configured_time_zone(reader, admin, client) -> None:
    reader.post(A, comment="a held one")
    queue = admin.page("/admin/", status="pending")
    assert re.search(r'<time datetime="[^"]+Z">\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T</time>', queue)


@pytest.mark.settings(TIME_ZONE="Asia/Tokyo", MODERATION="none")
def test_widget_dates_use_the_configured_time_zone(reader, client) -> None:
    reader.post(A, comment="published")
    html = client.get("/embed", query_string=A).get_data(as_text=True)
    assert re.search(r'<time datetime="[^"]+Z">\w+ \d+, \d{4} at \d\d:\d\d JST</time>', html)
