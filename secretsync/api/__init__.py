"""Conditions, reasons and the typed Sync spec: the API types, standard library only."""
