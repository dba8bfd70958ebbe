#!/usr/bin/env bash
# Prototype of scripts/real-cluster: start|stop|status DIR
# Starts etcd, kube-apiserver and kube-controller-manager on 127.0.0.1 with free ports,
# throwaway TLS material and service-account keys under DIR, writes DIR/kubeconfig
# (cluster-admin, system:masters) once /readyz answers. stop kills exactly the pids in DIR.
set -euo pipefail
cmd=${1:?start|stop|status}; DIR=${2:?DIR}
PEERS=${PEERS_CACHE:-$HOME/.cache/secretsync/peers}
KUBE_BIN=${KUBE_BIN:-$PEERS/kubernetes-v1.37.2}
ETCD_BIN=${ETCD_BIN:-$PEERS/etcd-v3.6.17/etcd}

now() { date +%s.%N; }

stop() {
  for n in kube-controller-manager kube-apiserver etcd; do
    f=$DIR/$n.pid
    [ -f "$f" ] || continue
    p=$(cat "$f")
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p"
      for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$p" 2>/dev/null && kill -KILL "$p"
    fi
    rm -f "$f"
  done
}

freeport() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

gencerts() {
  local p=$DIR/pki; mkdir -p "$p"; cd "$p"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=secretsync-test-ca" 2>/dev/null
  # apiserver serving cert
  cat > server.ext <<EOT
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOT
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=kube-apiserver" 2>/dev/null
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext 2>/dev/null
  # client certs: admin (system:masters) and controller-manager
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > client.ext
  for who in "admin:/CN=admin/O=system:masters" "kcm:/CN=system:kube-controller-manager"; do
    n=${who%%:*}; s=${who#*:}
    openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj "$s" 2>/dev/null
    openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 2 -extfile client.ext 2>/dev/null
  done
  # front-proxy (aggregation layer / requestheader) CA and client cert
  openssl req -x509 -newkey rsa:2048 -nodes -keyout front-proxy-ca.key -out front-proxy-ca.crt -days 2 -subj "/CN=secretsync-test-front-proxy-ca" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout front-proxy-client.key -out front-proxy-client.csr -subj "/CN=front-proxy-client" 2>/dev/null
  openssl x509 -req -in front-proxy-client.csr -CA front-proxy-ca.crt -CAkey front-proxy-ca.key -CAcreateserial -out front-proxy-client.crt -days 2 -extfile client.ext 2>/dev/null
  # service-account signing key pair
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
  openssl pkey -in sa.key -pubout -out sa.pub
  cd - >/dev/null
}

kubeconfig() { # name cert key
  local port=$1 n=$2
  cat <<EOT
apiVersion: v1
kind: Config
clusters:
- name: secretsync-test
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(base64 -w0 "$DIR/pki/ca.crt")
users:
- name: $n
  user:
    client-certificate-data: $(base64 -w0 "$DIR/pki/$n.crt")
    client-key-data: $(base64 -w0 "$DIR/pki/$n.key")
contexts:
- name: secretsync-test
  context: {cluster: secretsync-test, user: $n}
current-context: secretsync-test
EOT
}

start() {
  mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
  t0=$(now)
  [ -f "$DIR/pki/sa.key" ] || gencerts
  t_certs=$(now)
  ETCD_PORT=$(freeport); ETCD_PEER=$(freeport); API_PORT=$(freeport); KCM_PORT=$(freeport)
  printf 'ETCD_PORT=%s\nETCD_PEER=%s\nAPI_PORT=%s\nKCM_PORT=%s\n' $ETCD_PORT $ETCD_PEER $API_PORT $KCM_PORT > "$DIR/ports.env"

  "$ETCD_BIN" --name peers --data-dir "$DIR/etcd-data" \
    --listen-client-urls http://127.0.0.1:$ETCD_PORT --advertise-client-urls http://127.0.0.1:$ETCD_PORT \
    --listen-peer-urls http://127.0.0.1:$ETCD_PEER --initial-advertise-peer-urls http://127.0.0.1:$ETCD_PEER \
    --initial-cluster peers=http://127.0.0.1:$ETCD_PEER --initial-cluster-state new \
    --unsafe-no-fsync --log-level warn \
    > "$DIR/etcd.log" 2>&1 &
  echo $! > "$DIR/etcd.pid"

  "$KUBE_BIN/kube-apiserver" \
    --etcd-servers=http://127.0.0.1:$ETCD_PORT \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port=$API_PORT \
    --tls-cert-file="$DIR/pki/server.crt" --tls-private-key-file="$DIR/pki/server.key" \
    --client-ca-file="$DIR/pki/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$DIR/pki/sa.pub" \
    --service-account-signing-key-file="$DIR/pki/sa.key" \
    --authorization-mode=Node,RBAC \
    --service-cluster-ip-range=10.0.0.0/24 \
    --endpoint-reconciler-type=${ENDPOINT_RECONCILER:-none} \
    --requestheader-client-ca-file="$DIR/pki/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$DIR/pki/front-proxy-client.crt" \
    --proxy-client-key-file="$DIR/pki/front-proxy-client.key" \
    --allow-privileged=true \
    --cert-dir="$DIR/apiserver-certs" \
    --profiling=false \
    > "$DIR/kube-apiserver.log" 2>&1 &
  echo $! > "$DIR/kube-apiserver.pid"

  kubeconfig $API_PORT admin > "$DIR/kubeconfig.tmp"
  kubeconfig $API_PORT kcm > "$DIR/kcm.kubeconfig"
  for i in $(seq 600); do
    if curl -sf --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" \
        "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then break; fi
    kill -0 "$(cat "$DIR/kube-apiserver.pid")" 2>/dev/null || { echo "kube-apiserver died"; tail -20 "$DIR/kube-apiserver.log"; stop; exit 1; }
    sleep 0.1
  done
  t_api=$(now)

  "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig="$DIR/kcm.kubeconfig" \
    --authentication-kubeconfig="$DIR/kcm.kubeconfig" \
    --authorization-kubeconfig="$DIR/kcm.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=$KCM_PORT \
    --cert-dir="$DIR/kcm-certs" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$DIR/pki/sa.key" \
    --root-ca-file="$DIR/pki/ca.crt" \
    --cluster-signing-cert-file="$DIR/pki/ca.crt" --cluster-signing-key-file="$DIR/pki/ca.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --profiling=false \
    > "$DIR/kube-controller-manager.log" 2>&1 &
  echo $! > "$DIR/kube-controller-manager.pid"
  for i in $(seq 600); do
    if curl -skf "https://127.0.0.1:$KCM_PORT/healthz" >/dev/null 2>&1; then break; fi
    kill -0 "$(cat "$DIR/kube-controller-manager.pid")" 2>/dev/null || { echo "kube-controller-manager died"; tail -20 "$DIR/kube-controller-manager.log"; stop; exit 1; }
    sleep 0.1
  done
  t_kcm=$(now)
  mv "$DIR/kubeconfig.tmp" "$DIR/kubeconfig"
  python3 - "$t0" "$t_certs" "$t_api" "$t_kcm" <<'EOT'
import sys; t0,c,a,k=map(float,sys.argv[1:])
print(f"real-cluster: certs {c-t0:.2f}s, etcd+apiserver /readyz {a-c:.2f}s, kcm /healthz {k-a:.2f}s, total {k-t0:.2f}s")
EOT
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status) for n in etcd kube-apiserver kube-controller-manager; do
            f=$DIR/$n.pid; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && echo "$n running $(cat "$f")" || echo "$n stopped"; done ;;
  *) echo "usage: $0 start|stop|status DIR"; exit 2 ;;
esac
