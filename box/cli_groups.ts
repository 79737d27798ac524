/**
 * The box CLI's grouped and image-maintenance commands: `volume`, `snapshot`, `commit`, `diff`,
 * `export`, `history`, `image-inspect`, `image-prune`, `login` and `logout`. Each declares its
 * own flags; `cli.ts` parses them and opens the runtime.
 */
import { basename, dirname, join, resolve } from "node:path";
import { parseComposeFile } from "./compose/compose_file.ts";
import { checkImages, composeDown, composePs, composeUp } from "./compose/compose.ts";
import { A3sError, type CliOptions, UsageError } from "@a3s/common";
import type { BoxManager } from "./manager.ts";
import { SnapshotStore } from "./snapshots.ts";
import { commitBox, diffBox, exportBox } from "./builder/commit.ts";
import type { LayerDescriptor } from "./image/oci.ts";
import { boxTable, size, table } from "./cli_format.ts";
import { redactBox } from "./_redact.ts";

/** What a grouped command gets. */
export interface GroupContext {
  boxes: BoxManager;
  home: string;
  positionals: string[];
  values: Record<string, unknown>;
  format: "json" | "table";
}

/** One grouped command: its flags and its body. */
export interface GroupCommand {
  options: CliOptions;
  run(context: GroupContext): Promise<number | void>;
}

function print(format: "json" | "table", value: unknown, text: () => string): void {
  console.log(format === "json" ? JSON.stringify(value, null, 2) : text());
}

function need(positionals: string[], count: number, usage: string): void {
  if (positionals.length < count) throw new UsageError(`usage: a3s box ${usage}`);
}

function ago(at: number): string {
  return new Date(at).toISOString().replace(/\.\d+Z$/, "Z");
}

/** Where `login` keeps credentials: one file, mode 0600. */
export function authFile(home: string): string {
  return join(home, "box", "auth.json");
}

/** Reads the saved `user:password` per registry. */
export async function readCredentials(home: string): Promise<Record<string, string>> {
  try {
    const saved = JSON.parse(await Deno.readTextFile(authFile(home))) as Record<string, string>;
    return Object.fromEntries(Object.entries(saved).map(([k, v]) => [k, atob(v)]));
  } catch {
    return {};
  }
}

async function writeCredentials(home: string, credentials: Record<string, string>) {
  const encoded = Object.fromEntries(Object.entries(credentials).map(([k, v]) => [k, btoa(v)]));
  await Deno.mkdir(join(home, "box"), { recursive: true });
  const path = authFile(home);
  await Deno.writeTextFile(path, JSON.stringify(encoded), { mode: 0o600 });
  // writeTextFile's mode applies only on creation; an existing file is tightened too.
  await Deno.chmod(path, 0o600);
}

const volumeCommand: GroupCommand = {
  options: { force: { type: "boolean", short: "f" }, label: { type: "string", multiple: true } },
  async run({ boxes, positionals: [sub, ...p], values, format }) {
    switch (sub) {
      case "create": {
        const labels = Object.fromEntries(
          ((values.label as string[] | undefined) ?? []).map((l) => [
            l.split("=")[0],
            l.slice(l.indexOf("=") + 1),
          ]),
        );
        console.log((await boxes.volumes.create(p[0], labels)).name);
        return;
      }
      case "ls": {
        const list = await boxes.volumes.list();
        print(
          format,
          list,
          () => table(["DRIVER", "VOLUME NAME"], list.map((v) => [v.driver, v.name])),
        );
        return;
      }
      case "inspect": {
        need(p, 1, "volume inspect VOLUME...");
        const out = [];
        for (const name of p) out.push(await boxes.volumes.inspect(name));
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      case "rm": {
        need(p, 1, "volume rm [-f] VOLUME...");
        for (const name of p) {
          await boxes.volumes.remove(name, await boxes.volumeUsers(name), values.force === true);
          console.log(name);
        }
        return;
      }
      case "prune": {
        for (const volume of await boxes.volumes.list()) {
          if ((await boxes.volumeUsers(volume.name)).length > 0) continue;
          await boxes.volumes.remove(volume.name, []);
          console.log(`Deleted volume: ${volume.name}`);
        }
        return;
      }
      default:
        throw new UsageError("usage: a3s box volume create|ls|rm|inspect|prune");
    }
  },
};

const snapshotCommand: GroupCommand = {
  options: {},
  async run({ boxes, home, positionals: [sub, ...p], format }) {
    const snapshots = new SnapshotStore(boxes, home);
    switch (sub) {
      case "create":
        need(p, 1, "snapshot create BOX [NAME]");
        console.log((await snapshots.create(p[0], p[1])).name);
        return;
      case "restore":
        need(p, 1, "snapshot restore SNAPSHOT [BOX]");
        console.log((await snapshots.restore(p[0], p[1])).name);
        return;
      case "ls": {
        const list = await snapshots.list();
        print(format, list, () =>
          table(
            ["SNAPSHOT ID", "NAME", "BOX", "CREATED", "SIZE"],
            list.map((s) => [s.id.slice(0, 12), s.name, s.boxName, ago(s.createdAt), size(s.size)]),
          ));
        return;
      }
      case "inspect": {
        need(p, 1, "snapshot inspect SNAPSHOT...");
        const out = [];
        for (const ref of p) out.push(await snapshots.inspect(ref));
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      case "rm":
        need(p, 1, "snapshot rm SNAPSHOT...");
        for (const ref of p) console.log((await snapshots.remove(ref)).name);
        return;
      default:
        throw new UsageError("usage: a3s box snapshot create|restore|ls|rm|inspect");
    }
  },
};

const networkCommand: GroupCommand = {
  options: {},
  async run({ boxes, positionals: [sub, ...p], format }) {
    const networks = boxes.networks;
    switch (sub) {
      case "create":
        need(p, 1, "network create NAME");
        console.log((await networks.create(p[0])).id);
        return;
      case "ls": {
        const list = await networks.list();
        print(format, list, () =>
          table(
            ["NETWORK ID", "NAME", "DRIVER", "SUBNET", "BOXES"],
            list.map((n) => [n.id.slice(0, 12), n.name, n.driver, n.subnet, `${n.members.length}`]),
          ));
        return;
      }
      case "inspect": {
        need(p, 1, "network inspect NETWORK...");
        const out = [];
        for (const name of p) out.push(await networks.inspect(name));
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      case "rm":
        need(p, 1, "network rm NETWORK...");
        for (const name of p) {
          await networks.remove(name);
          console.log(name);
        }
        return;
      case "connect": {
        need(p, 2, "network connect NETWORK BOX");
        const box = await boxes.inspect(p[1]);
        const onOne = (await networks.list()).some((n) =>
          n.members.some((m) => m.name === box.name)
        );
        if (!onOne && box.state === "running") {
          throw new A3sError(
            "unsupported",
            `box ${box.name} runs in a network namespace of its own; connect works for boxes started with --network NAME`,
            { status: 409, field: "box" },
          );
        }
        if (!onOne) {
          throw new A3sError(
            "unsupported",
            `box ${box.name} was not created on a network; create it with --network ${p[0]}`,
            { status: 409, field: "box" },
          );
        }
        const member = await networks.attach(p[0], box.name);
        console.log(`${box.name} ${member.device} ${member.ip}`);
        return;
      }
      case "disconnect": {
        need(p, 2, "network disconnect NETWORK BOX");
        const box = await boxes.inspect(p[1]);
        await networks.detach(p[0], box.name);
        return;
      }
      default:
        throw new UsageError("usage: a3s box network create|ls|rm|inspect|connect|disconnect");
    }
  },
};

const composeCommand: GroupCommand = {
  options: {
    file: { type: "string", short: "f" },
    "project-name": { type: "string", short: "p" },
    detach: { type: "boolean", short: "d" },
    volumes: { type: "boolean", short: "v" },
  },
  async run({ boxes, positionals: [sub], values, format }) {
    const file = resolve((values.file as string | undefined) ?? "compose.yaml");
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch {
      throw new UsageError(`cannot read compose file ${file}`);
    }
    const dir = dirname(file);
    const project = parseComposeFile(
      text,
      (values["project-name"] as string | undefined) ?? basename(dir),
    );
    const log = (line: string) => console.error(line);
    switch (sub) {
      case "config":
        console.log(JSON.stringify(project, null, 2));
        return;
      case "up":
        // Boxes run detached either way; -d is accepted for Docker's muscle memory.
        await checkImages(boxes, project);
        await composeUp(boxes, project, dir, log);
        return;
      case "down":
        await composeDown(boxes, project, { volumes: values.volumes === true, log });
        return;
      case "ps": {
        const list = (await composePs(boxes, project)).map(redactBox);
        print(format, list, () => boxTable(list));
        return;
      }
      default:
        throw new UsageError("usage: a3s box compose [-f FILE] [-p NAME] up|down [-v]|ps|config");
    }
  },
};

async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      const info = await Deno.lstat(join(dir, entry.name));
      total += info.isDirectory ? await treeBytes(join(dir, entry.name)) : info.size;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return total;
}

function eventRows(events: Awaited<ReturnType<BoxManager["events"]>>): string[][] {
  return events.map((e) => [
    new Date(e.at).toISOString(),
    e.boxId.slice(0, 12),
    e.action,
    JSON.stringify(e.detail),
  ]);
}

const EVENT_HEADER = ["TIME", "BOX ID", "ACTION", "DETAIL"];

async function statsRows(boxes: BoxManager): Promise<{ rows: string[][]; values: unknown[] }> {
  const rows: string[][] = [];
  const values: unknown[] = [];
  for (const box of await boxes.list()) {
    const stats = await boxes.stats(box.id).catch(() => undefined);
    if (!stats) continue;
    values.push(stats);
    rows.push([
      box.id.slice(0, 12),
      box.name,
      box.driver,
      stats.cpuSeconds?.toFixed(2) ?? "-",
      stats.memoryBytes === undefined ? "-" : size(stats.memoryBytes),
      stats.memoryLimitBytes === undefined ? "-" : size(stats.memoryLimitBytes),
      `${stats.pids ?? "-"}`,
    ]);
  }
  return { rows, values };
}

/** The grouped commands by name. */
export const GROUP_COMMANDS: Record<string, GroupCommand> = {
  events: {
    options: { follow: { type: "boolean", short: "f" }, since: { type: "string" } },
    async run({ boxes, positionals: p, values, format }) {
      const boxId = p[0] ? (await boxes.inspect(p[0])).id : undefined;
      const since = values.since === undefined ? 0 : Date.parse(values.since as string);
      if (Number.isNaN(since)) throw new UsageError(`invalid --since '${values.since}'`);
      let seen = 0;
      const show = async () => {
        const events = (await boxes.events(boxId)).filter((e) => e.at >= since);
        const fresh = events.slice(seen);
        seen = events.length;
        if (format === "json") { for (const e of fresh) console.log(JSON.stringify(e)); }
        else if (fresh.length) {
          console.log(
            table(EVENT_HEADER, eventRows(fresh)).split("\n").slice(seen === fresh.length ? 0 : 1)
              .join("\n"),
          );
        }
      };
      await show();
      if (!values.follow) return;
      // Follows the event log until interrupted (the log is the shared store, so events of
      // boxes other processes run show up too).
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      Deno.addSignalListener("SIGINT", onSignal);
      try {
        while (!stop.signal.aborted) {
          await new Promise((r) => setTimeout(r, 500));
          await show();
        }
      } finally {
        Deno.removeSignalListener("SIGINT", onSignal);
      }
    },
  },
  audit: {
    options: {},
    async run({ boxes, positionals: p, format }) {
      // Every create, exec (with its command and user), exec exit and delete, oldest first.
      const boxId = p[0] ? (await boxes.inspect(p[0])).id : undefined;
      const events = await boxes.events(boxId);
      print(format, events, () => table(EVENT_HEADER, eventRows(events)));
    },
  },
  df: {
    options: {},
    async run({ boxes, home, format }) {
      const images = await boxes.images.list();
      const all = await boxes.list({ all: true });
      let boxBytes = 0;
      for (const box of all) {
        boxBytes += await boxes.writableLayer(box.id).then(treeBytes, () => 0);
      }
      const volumes = await boxes.volumes.list();
      let volumeBytes = 0;
      for (const volume of volumes) volumeBytes += await treeBytes(volume.mountpoint);
      const rows = [
        {
          type: "Images",
          total: images.length,
          active: 0,
          size: images.reduce((n, i) => n + i.size, 0),
        },
        {
          type: "Boxes",
          total: all.length,
          active: all.filter((b) => b.state === "running").length,
          size: boxBytes,
        },
        { type: "Local Volumes", total: volumes.length, active: 0, size: volumeBytes },
        {
          type: "Build Cache",
          total: 0,
          active: 0,
          size: await treeBytes(join(boxes.images.dir, "build-cache")),
        },
        {
          type: "Snapshots",
          total: 0,
          active: 0,
          size: await treeBytes(join(home, "box", "snapshots")),
        },
      ];
      for (const image of images) if (await boxes.imageInUse(image.id)) rows[0].active++;
      for (const volume of volumes) {
        if ((await boxes.volumeUsers(volume.name)).length) rows[2].active++;
      }
      print(format, rows, () =>
        table(
          ["TYPE", "TOTAL", "ACTIVE", "SIZE"],
          rows.map((r) => [r.type, `${r.total}`, `${r.active}`, size(r.size)]),
        ));
    },
  },
  monitor: {
    options: { "no-stream": { type: "boolean" }, interval: { type: "string" } },
    async run({ boxes, values, format }) {
      const header = ["BOX ID", "NAME", "DRIVER", "CPU SECONDS", "MEMORY", "LIMIT", "PIDS"];
      const interval = values.interval === undefined ? 1 : Number(values.interval);
      if (!(interval > 0)) throw new UsageError(`invalid --interval '${values.interval}'`);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      Deno.addSignalListener("SIGINT", onSignal);
      try {
        do {
          const { rows, values: stats } = await statsRows(boxes);
          if (format === "json") console.log(JSON.stringify(stats));
          else {
            // A live table: clear the screen on a terminal, plain successive tables otherwise.
            if (Deno.stdout.isTerminal() && !values["no-stream"]) console.log("\x1b[2J\x1b[H");
            console.log(table(header, rows));
          }
          if (values["no-stream"]) return;
          await new Promise((r) => setTimeout(r, interval * 1000));
        } while (!stop.signal.aborted);
      } finally {
        Deno.removeSignalListener("SIGINT", onSignal);
      }
    },
  },
  compose: composeCommand,
  network: networkCommand,
  volume: volumeCommand,
  snapshot: snapshotCommand,
  commit: {
    options: { message: { type: "string", short: "m" }, author: { type: "string", short: "a" } },
    async run({ boxes, positionals: p, values }) {
      need(p, 1, "commit [-m MSG] [-a AUTHOR] BOX [REPOSITORY[:TAG]]");
      console.log(
        await commitBox(boxes, p[0], {
          tags: p[1] ? [p[1]] : [],
          message: values.message as string | undefined,
          author: values.author as string | undefined,
        }),
      );
    },
  },
  diff: {
    options: {},
    async run({ boxes, positionals: p, format }) {
      need(p, 1, "diff BOX");
      const changes = await diffBox(boxes, p[0]);
      print(format, changes, () => changes.map((c) => `${c.kind} ${c.path}`).join("\n"));
    },
  },
  export: {
    options: { output: { type: "string", short: "o" } },
    async run({ boxes, positionals: p, values }) {
      need(p, 1, "export -o FILE BOX");
      const data = await exportBox(boxes, p[0]);
      if (values.output) await Deno.writeFile(values.output as string, data);
      else if (Deno.stdout.isTerminal()) {
        throw new UsageError("refusing to write a tarball to a terminal; use -o FILE");
      } else await Deno.stdout.write(data);
    },
  },
  history: {
    options: {},
    async run({ boxes, positionals: p, format }) {
      need(p, 1, "history IMAGE");
      const image = await boxes.images.inspect(p[0]);
      const row = await boxes.images.resolve(p[0]);
      const layers = JSON.parse(row.layers) as LayerDescriptor[];
      let layer = 0;
      const entries = (image.config.history ?? []).map((h) => ({
        created: h.created ?? null,
        createdBy: h.created_by ?? "",
        size: h.empty_layer ? 0 : layers[layer++]?.size ?? 0,
        comment: h.comment ?? "",
      })).reverse();
      print(format, entries, () =>
        table(
          ["CREATED", "CREATED BY", "SIZE", "COMMENT"],
          entries.map((e) => [e.created ?? "-", e.createdBy.slice(0, 60), size(e.size), e.comment]),
        ));
    },
  },
  "image-inspect": {
    options: {},
    async run({ boxes, positionals: p }) {
      need(p, 1, "image-inspect IMAGE...");
      const out = [];
      for (const ref of p) {
        const row = await boxes.images.resolve(ref);
        out.push({ ...await boxes.images.inspect(ref), layerDescriptors: JSON.parse(row.layers) });
      }
      console.log(JSON.stringify(out, null, 2));
    },
  },
  "image-prune": {
    options: { all: { type: "boolean", short: "a" } },
    async run({ boxes, values }) {
      // Dangling (untagged) images go; with -a, every image no box uses.
      for (const image of await boxes.images.list()) {
        if (image.repoTags.length > 0 && values.all !== true) continue;
        if (await boxes.imageInUse(image.id)) continue;
        for (const tag of image.repoTags) {
          await boxes.images.remove(tag, () => Promise.resolve(false));
        }
        if (image.repoTags.length === 0) {
          await boxes.images.remove(image.id, () => Promise.resolve(false), true);
        }
        console.log(`Deleted: ${image.id}`);
      }
      console.log(`Total reclaimed space: ${size(await boxes.images.gc())}`);
    },
  },
  login: {
    options: {
      username: { type: "string", short: "u" },
      password: { type: "string", short: "p" },
      "password-stdin": { type: "boolean" },
    },
    async run({ home, positionals: p, values }) {
      need(p, 1, "login -u USER (-p PASS | --password-stdin) REGISTRY");
      const user = values.username as string | undefined;
      const password = values["password-stdin"]
        ? (await new Response(Deno.stdin.readable).text()).replace(/\r?\n$/, "")
        : values.password as string | undefined;
      if (!user || password === undefined) {
        throw new UsageError("login needs -u USER and -p PASS or --password-stdin");
      }
      const credentials = await readCredentials(home);
      credentials[p[0]] = `${user}:${password}`;
      await writeCredentials(home, credentials);
      console.log("Login Succeeded");
    },
  },
  logout: {
    options: {},
    async run({ home, positionals: p }) {
      need(p, 1, "logout REGISTRY");
      const credentials = await readCredentials(home);
      if (!(p[0] in credentials)) throw new UsageError(`not logged in to ${p[0]}`);
      delete credentials[p[0]];
      await writeCredentials(home, credentials);
      console.log(`Removing login credentials for ${p[0]}`);
    },
  },
};
