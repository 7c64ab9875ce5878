"""Share buttons: networks and links, counted clicks, de-duplication, the Redis buffer, counts."""
