/** `a3s box --help`, apart so that printing it loads none of the commands. */
import { TEE_HELP } from "./kvm/tee/help.ts";

/** The text of `a3s box --help`. */
export const HELP: string = `Usage: a3s box <command> [options]

Boxes:
  run [OPTIONS] IMAGE [COMMAND...]   create and start a box
  create [OPTIONS] IMAGE [COMMAND...] create a box without starting it
  exec [-i] [-t] [-e K=V] [-w DIR] [-u USER] BOX COMMAND...
  ps [-a]                            list boxes (running, or all)
  start | stop [-t SECS] | restart | kill [-s SIGNAL] | pause | unpause BOX...
  rm [-f] BOX...                     remove boxes
  logs [-f] BOX                      the main command's output
  attach BOX                         follow a running box's output until it exits (Ctrl-C detaches)
  inspect BOX...                     full details (JSON)
  cp SRC DEST                        copy a file: BOX:/path to or from a host path
  top BOX | stats BOX... | wait BOX... | rename BOX NAME | port BOX
  container-update [--memory 512m] [--cpus 1.5] [--pids-limit N] BOX...

Images:
  build [-t TAG]... [-f FILE] [--build-arg K=V]... [--target STAGE] [--no-cache] [-q] PATH
  images | pull REF | push REF [TARGET] | load -i FILE | save -o FILE REF... | rmi [-f] REF... | tag SRC DEST
  import-busybox [REF]               build the busybox base image from the host's busybox-static
  history IMAGE | image-inspect IMAGE... | image-prune [-a] | login -u U -p P REG | logout REG
  commit [-m MSG] BOX [REF] | diff BOX | export -o FILE BOX

Groups:
  compose [-f compose.yaml] [-p NAME] up [-d] | down [-v] | ps | config
  network create NAME | ls | inspect NET... | rm NET... | connect NET BOX | disconnect NET BOX
  volume create [NAME] | ls | inspect NAME... | rm [-f] NAME... | prune   (-v NAME:/path mounts one)
  snapshot create BOX [NAME] | restore SNAP [BOX] | ls | inspect SNAP... | rm SNAP...

System:
  info | version | system prune | events [-f] [--since TIME] [BOX] | audit [BOX] | df
  monitor [--no-stream] [--interval SECS]   live CPU and memory of running boxes
  cri [--listen unix:///run/a3s/box.sock] [--sandbox-image REF] [--stream-address HOST:PORT]
      [--registry-mirror REGISTRY=HOST[:PORT]]...
                                            the Kubernetes CRI (gRPC; exec streams on HOST:PORT)

${TEE_HELP}

Run options: -d, -i, -t, --rm, -e K=V, -v HOST:GUEST[:ro], -w DIR, -u UID[:GID], --name NAME,
  --hostname NAME, --memory 512m, --cpus 1.5, --pids-limit N, --network none|host|NAME,
  -p [IP:]HOST_PORT:BOX_PORT (with --network NAME),
  --timeout SECS, --driver namespace|qemu|...,
  --log-opt max-size=20m, --log-opt max-file=5 (the box's own logs, rotated; these are the defaults),
  --cap-add CAP, --cap-drop CAP (ALL), --read-only, --sysctl KEY=VALUE, --privileged,
  --security-opt seccomp=FILE|unconfined, --security-opt no-new-privileges, --pid host, --ipc host

Common options: --format json|table (--json), --home DIR, --database-url URL, -h/--help`;
