"""The OpenBao fixture gives a working Vault API on loopback (KV v2 at secret/)."""


def test_openbao_dev_server_reads_and_writes(openbao):
    client = openbao.client()
    assert openbao.addr.startswith("http://127.0.0.1:")
    client.secrets.kv.v2.create_or_update_secret(path="fixture-check", secret={"k": "v"})
    read = client.secrets.kv.v2.read_secret_version(path="fixture-check", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"k": "v"}
