"""The moderation page at /admin/: sessions, CSRF, the list and its actions."""
