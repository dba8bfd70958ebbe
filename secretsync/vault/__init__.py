"""The Vault placeholder transform: config (AVP env), the hvac client, placeholders, JSONPath."""
