"""The one manifest loader (go-yaml v2 typing, as kubectl) and dumper."""
