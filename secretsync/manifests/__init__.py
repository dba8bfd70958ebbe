"""The one manifest loader (go-yaml v2 typing, as kubectl) and the one writer.

``loader`` (load, compose, validate; limits and refusals), ``goyaml`` (the typing rules and the
reference loader), ``fastpath`` (libyaml), ``tree`` (nested-value helpers), ``dump`` (our YAML
output and kubeseal's). Object identity and apply order are ``secretsync.objects``.
"""
