/**
 * Requests/s and added p50/p99 latency through our gateway and through nginx, Caddy and HAProxy
 * (when installed) and a bare Deno proxy, all in front of the same nginx backend, driven by wrk on loopback. Run:
 *
 *   deno run -A gateway/bench/proxy_bench.ts [--seconds 5] [--connections 16]
 *
 * Needs Debian's `nginx` and `wrk`. Each target is measured in alternating rounds and the
 * median round is printed, since the machine is shared.
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    connections: { type: "string", default: "16" },
    rounds: { type: "string", default: "3" },
  },
});

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} never answered`);
}

function startNginx(dir: string, name: string, server: string): Deno.ChildProcess {
  const conf = `${dir}/${name}.conf`;
  Deno.writeTextFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/${name}_body;
  proxy_temp_path ${dir}/${name}_proxy;
  fastcgi_temp_path ${dir}/${name}_fcgi;
  uwsgi_temp_path ${dir}/${name}_uwsgi;
  scgi_temp_path ${dir}/${name}_scgi;
  ${server}
}
`,
  );
  return new Deno.Command("nginx", { args: ["-c", conf, "-p", dir], stderr: "null" }).spawn();
}

interface Figures {
  rps: number;
  p50ms: number;
  p99ms: number;
}

function toMs(text: string): number {
  const m = text.match(/^([\d.]+)(us|ms|s)$/);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "ms" ? v : v * 1000;
}

async function wrk(url: string): Promise<Figures> {
  const out = await new Deno.Command("wrk", {
    args: ["-t1", `-c${values.connections}`, `-d${values.seconds}s`, "--latency", url],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  const p50 = toMs(text.match(/\s50%\s+(\S+)/)?.[1] ?? "");
  const p99 = toMs(text.match(/\s99%\s+(\S+)/)?.[1] ?? "");
  return { rps, p50ms: p50, p99ms: p99 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = await Deno.makeTempDir({ prefix: "gateway_bench_" });
const backendPort = freePort();
const nginxPort = freePort();
const gatewayPort = freePort();
await Deno.writeTextFile(`${dir}/stream.bin`, "x".repeat(256 * 1024));
const backend = startNginx(
  dir,
  "backend",
  `server {
    listen 127.0.0.1:${backendPort};
    location = /json { default_type application/json; return 200 '{"ok":true,"n":42}'; }
    location = /stream { root ${dir}; try_files /stream.bin =404; }
  }`,
);
const proxy = startNginx(
  dir,
  "proxy",
  `upstream be { server 127.0.0.1:${backendPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${nginxPort};
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }`,
);
await Deno.writeTextFile(
  `${dir}/gateway.yaml`,
  `services:
  be: { backends: [{ url: "http://127.0.0.1:${backendPort}" }] }
routers:
  all: { rule: { pathPrefix: ["/"] }, service: be }
`,
);
const root = new URL("../../mod.ts", import.meta.url).pathname;
const gateway = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    root,
    "gateway",
    "run",
    "--config",
    `${dir}/gateway.yaml`,
    "--port",
    String(gatewayPort),
    "--log-level",
    "error",
  ],
  stdout: "null",
  stderr: "null",
}).spawn();

// Caddy and HAProxy, one thread each like nginx's one worker, when installed.
const has = (cmd: string) =>
  new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" }).outputSync()
    .success;
const caddyPort = freePort();
const haproxyPort = freePort();
const peers: Deno.ChildProcess[] = [];
if (has("caddy")) {
  await Deno.writeTextFile(
    `${dir}/Caddyfile`,
    `{\n  admin off\n  auto_https off\n}\nhttp://127.0.0.1:${caddyPort} {\n  reverse_proxy 127.0.0.1:${backendPort}\n}\n`,
  );
  peers.push(
    new Deno.Command("caddy", {
      args: ["run", "--config", `${dir}/Caddyfile`, "--adapter", "caddyfile"],
      env: { GOMAXPROCS: "1", XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir, HOME: dir },
      stdout: "null",
      stderr: "null",
    }).spawn(),
  );
}
if (has("haproxy")) {
  await Deno.writeTextFile(
    `${dir}/haproxy.cfg`,
    `global\n  nbthread 1\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\nfrontend f\n  bind 127.0.0.1:${haproxyPort}\n  default_backend b\nbackend b\n  http-reuse always\n  server s1 127.0.0.1:${backendPort}\n`,
  );
  peers.push(
    new Deno.Command("haproxy", {
      args: ["-db", "-f", `${dir}/haproxy.cfg`],
      stdout: "null",
      stderr: "null",
    })
      .spawn(),
  );
}

// The floor of any Deno proxy: Deno.serve handing each request to fetch, nothing else.
const barePort = freePort();
const bare = new Deno.Command(Deno.execPath(), {
  args: [
    "eval",
    `Deno.serve({ hostname: "127.0.0.1", port: ${barePort}, onListen() {} }, (r) => fetch("http://127.0.0.1:${backendPort}" + new URL(r.url).pathname));`,
  ],
  stdout: "null",
  stderr: "null",
}).spawn();

try {
  await waitFor(`http://127.0.0.1:${backendPort}/json`);
  await waitFor(`http://127.0.0.1:${barePort}/json`);
  if (has("caddy")) await waitFor(`http://127.0.0.1:${caddyPort}/json`);
  if (has("haproxy")) await waitFor(`http://127.0.0.1:${haproxyPort}/json`);
  await waitFor(`http://127.0.0.1:${nginxPort}/json`);
  await waitFor(`http://127.0.0.1:${gatewayPort}/json`);
  const targets: Record<string, number> = {
    direct: backendPort,
    nginx: nginxPort,
    ...(has("caddy") ? { caddy: caddyPort } : {}),
    ...(has("haproxy") ? { haproxy: haproxyPort } : {}),
    "bare Deno": barePort,
    "a3s gateway": gatewayPort,
  };
  for (const path of ["/json", "/stream"]) {
    // Warm up every target once so the first measured round is not a cold start.
    for (const port of Object.values(targets)) await wrk(`http://127.0.0.1:${port}${path}`);
    const rounds: Record<string, Figures[]> = {};
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const [name, port] of Object.entries(targets)) {
        (rounds[name] ??= []).push(await wrk(`http://127.0.0.1:${port}${path}`));
      }
    }
    const direct = rounds.direct;
    const base50 = median(direct.map((f) => f.p50ms));
    const base99 = median(direct.map((f) => f.p99ms));
    console.log(
      `\n${
        path === "/json" ? "small JSON (18 B)" : "256 KiB body"
      }  wrk -t1 -c${values.connections} -d${values.seconds}s, median of ${values.rounds} rounds`,
    );
    console.log("target        req/s     p50 ms   p99 ms   added p50  added p99");
    for (const [name, figures] of Object.entries(rounds)) {
      const rps = median(figures.map((f) => f.rps));
      const p50 = median(figures.map((f) => f.p50ms));
      const p99 = median(figures.map((f) => f.p99ms));
      const added = name === "direct"
        ? ["-", "-"]
        : [(p50 - base50).toFixed(2), (p99 - base99).toFixed(2)];
      console.log(
        `${name.padEnd(12)}  ${rps.toFixed(0).padStart(7)}  ${p50.toFixed(2).padStart(7)}  ${
          p99.toFixed(2).padStart(7)
        }  ${added[0].padStart(9)}  ${added[1].padStart(9)}`,
      );
    }
    const ours = median(rounds["a3s gateway"].map((f) => f.rps));
    const theirs = median(rounds.nginx.map((f) => f.rps));
    const floor = median(rounds["bare Deno"].map((f) => f.rps));
    if (rounds.caddy) {
      const caddy = median(rounds.caddy.map((f) => f.rps));
      console.log(`ratio a3s/caddy req/s: ${(ours / caddy).toFixed(2)}`);
    }
    console.log(
      `ratio a3s/nginx req/s: ${(ours / theirs).toFixed(2)}; a3s/bare Deno: ${
        (ours / floor).toFixed(2)
      }`,
    );
  }
} finally {
  for (const child of [gateway, bare, ...peers, proxy, backend]) {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
  }
  await Deno.remove(dir, { recursive: true });
}
