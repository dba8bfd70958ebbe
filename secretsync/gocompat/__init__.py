"""One copy of each Go-compatibility rule (encoding/json output, time formats, ...): standard library only."""
