//! The HTTP JSON API and the dashboard page.
