# A 3-node loadtest-supervisor cluster on Nomad, one node per client, found through
# Consul DNS (DISCOVERY_MODE=dns).
#
#   nomad var put nomad/jobs/loadtest-cluster secret="$(openssl rand -hex 32)"
#   nomad job run examples/deploy/nomad/loadtest-cluster.nomad.hcl
#   dig @127.0.0.1 -p 8600 _loadtest-cluster._tcp.service.consul SRV   # the nodes' view
#
# Nomad registers each allocation in Consul as service "loadtest-cluster" (the Consul
# plugin's default CONSUL_SERVICE_NAME) with the same HTTP check the Consul plugin
# registers: GET /health/cluster every 5s, 2s timeout. The nodes ask the local Consul
# agent's DNS for the SRV records of that service, so ports come from Nomad and only
# passing allocations are peers. The nodes do not register themselves (that is the
# consul discovery mode, which needs no service block here).
#
# tests/deploy/test_examples.py parses this file with an HCL parser and checks the
# variables, ports, service name and check against the program's.
job "loadtest-cluster" {
  type = "service"

  group "nodes" {
    count = 3

    # One node per client: two nodes on one machine would fail together.
    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      port "grpc" {
        static = 7000
      }
      port "http" {
        static = 8080
      }
    }

    # At most one node down by choice while updating: 2 of 3 is still a quorum.
    update {
      max_parallel     = 1
      min_healthy_time = "10s"
      healthy_deadline = "3m"
    }

    service {
      name     = "loadtest-cluster"
      port     = "grpc"
      provider = "consul"
      tags     = ["loadtest"]

      check {
        name     = "loadtest-cluster /health/cluster"
        type     = "http"
        port     = "http"
        path     = "/health/cluster"
        method   = "GET"
        interval = "5s"
        timeout  = "2s"
      }
    }

    task "loadtest" {
      driver = "docker"

      config {
        image        = "loadtest-supervisor:0.1.0" # built from examples/deploy/Dockerfile
        network_mode = "host"
        ports        = ["grpc", "http"]
      }

      env {
        CLUSTER_ENABLED        = "true"
        CLUSTER_NODE_ID        = "loadtest-${NOMAD_ALLOC_INDEX}"
        CLUSTER_BIND_ADDR      = "0.0.0.0:${NOMAD_PORT_grpc}"
        CLUSTER_HEALTH_ADDR    = "0.0.0.0:${NOMAD_PORT_http}"
        CLUSTER_ADVERTISE_ADDR = "${NOMAD_ADDR_grpc}"
        CLUSTER_DATA_DIR       = "/alloc/data/cluster"
        DISCOVERY_MODE         = "dns"
        DISCOVERY_DNS_NAME     = "_loadtest-cluster._tcp.service.consul"
        DISCOVERY_DNS_SERVER   = "${attr.unique.network.ip-address}:8600"
        DISCOVERY_DNS_INTERVAL = "5s"
        DISCOVERY_DNS_EXPECT   = "3"
      }

      # The shared secret from Nomad Variables, never in the job file.
      template {
        destination = "secrets/cluster.env"
        env         = true
        data        = <<-EOT
          CLUSTER_SECRET={{ with nomadVar "nomad/jobs/loadtest-cluster" }}{{ .secret }}{{ end }}
        EOT
      }

      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      resources {
        cpu    = 1000
        memory = 512
      }
    }
  }
}
