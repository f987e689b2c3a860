# Sourced by the hub benchmarks: `port` (a free TCP port on 127.0.0.1) and
# `start_clickhouse DIR` (a clickhouse-server of the benchmark's own, its config and data in
# DIR, ports on 127.0.0.1; its PID added to `pids`, its store URL in `ch_store`).

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_clickhouse() {
  local d=$1 http tcp
  http=$(port); tcp=$(port)
  mkdir -p "$d/data"
  cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex><logger><level>warning</level><console>1</console></logger>
<listen_host>127.0.0.1</listen_host><http_port>$http</http_port><tcp_port>$tcp</tcp_port>
<path>$d/data/</path><tmp_path>$d/tmp/</tmp_path><users_config>users.xml</users_config>
<default_profile>default</default_profile><default_database>default</default_database>
<mark_cache_size>268435456</mark_cache_size></yandex>
XML
  cat >"$d/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex><profiles><default></default></profiles><users><default><password></password>
<networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota>
</default></users><quotas><default></default></quotas></yandex>
XML
  (cd "$d" && exec clickhouse-server --config-file="$d/config.xml" >"$d/server.log" 2>&1) &
  pids+=($!)
  until curl -sf "http://127.0.0.1:$http/?query=SELECT%201" >/dev/null; do sleep 0.05; done
  ch_store="clickhouse+http://127.0.0.1:$http/pvbench"
}
