"""Controller runtime primitives: work queue, Lease elector, event recorder, the HTTP server base."""
