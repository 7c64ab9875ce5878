"""The service's foundations: configuration, extensions, errors, security headers, rate limits, observability, health."""
