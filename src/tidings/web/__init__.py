"""Web: app factory, authentication, admin UI and API routers."""
