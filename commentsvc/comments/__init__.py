"""Comments: posting, spam checks, threads and pages, moderation, the widget and the JSON API."""
