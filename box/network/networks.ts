/**
 * Bridged networks: each network is a bridge inside a network namespace of its own (never the
 * host's, so nothing on it can reach the host or beyond), and each box attached to it gets its
 * own namespace joined to the bridge by a veth pair, with an address from the network's /24.
 * Boxes find each other by name through a hosts file the network keeps and mounts at
 * `/etc/hosts` (rewritten in place, so running boxes see boxes that join later).
 */
import { join } from "node:path";
import { A3sError, NotFoundError, ValidationError } from "@a3s/common";
import { createNetns, deleteNetns, netnsPath } from "../cri/netns.ts";

/** A box attached to a network. */
export interface NetworkMember {
  /** The box's name, which other boxes resolve. */
  name: string;
  /** The box's address on the network's /24. */
  ip: string;
  /** The box's own network namespace. */
  netns: string;
  /** The host end of its veth pair, on the bridge. */
  hostVeth: string;
  /** The interface inside the box (eth0 on its first network). */
  device: string;
  /** More names that resolve to it (a compose service's name). */
  aliases?: string[];
}

/** A network as `box network ls/inspect` shows it. */
export interface NetworkInfo {
  /** The network's name, as `--network` takes it. */
  name: string;
  /** The network's id, 32 hex characters; its first 10 name its namespace. */
  id: string;
  /** Always `bridge`: a Linux bridge in the network's own namespace. */
  driver: "bridge";
  /** The network's IPv4 /24 in CIDR form (`10.89.1.0/24`). */
  subnet: string;
  /** The namespace holding the bridge. */
  netns: string;
  /** When the network was created, in milliseconds since the epoch. */
  createdAt: number;
  /** The boxes attached to the network. */
  members: NetworkMember[];
  /**
   * The host's address on the network (`.1`), when the host may reach its boxes: only for
   * networks made with `hostAccess` (Kubernetes' pod network, which the kubelet probes).
   */
  hostGateway?: string;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

/** The host end of a `hostAccess` network's veth pair, named after the network's id. */
export function hostVethName(networkId: string): string {
  return `a3sh${networkId.slice(0, 8)}`;
}

async function ip(args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new A3sError(
      "network_failed",
      `ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/**
 * The networks of one data dir.
 *
 * @example
 * ```ts
 * import { NetworkStore } from "@a3s/box";
 * const networks = new NetworkStore("/tmp/a3s");
 * console.log(await networks.list());
 * ```
 */
export class NetworkStore {
  /** The directory holding the network records and hosts files, `<home>/box/networks`. */
  readonly dir: string;

  /** The network store of the data dir `home`; nothing is created until a network is. */
  constructor(home: string) {
    this.dir = join(home, "box", "networks");
  }

  #record(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  /** The hosts file boxes on `name` mount at /etc/hosts. */
  hostsFile(name: string): string {
    return join(this.dir, `${name}.hosts`);
  }

  async #save(network: NetworkInfo): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    await Deno.writeTextFile(this.#record(network.name), JSON.stringify(network));
    const lines = [
      "127.0.0.1\tlocalhost",
      ...network.members.map((m) => [m.ip, m.name, ...(m.aliases ?? [])].join("\t")),
    ];
    // Written in place (same inode), so bind mounts in running boxes see the new members.
    await Deno.writeTextFile(this.hostsFile(network.name), `${lines.join("\n")}\n`);
  }

  /** A network by name; throws NotFoundError when there is none. */
  async inspect(name: string): Promise<NetworkInfo> {
    if (!NAME.test(name)) throw new ValidationError(`invalid network name '${name}'`, "name");
    try {
      return JSON.parse(await Deno.readTextFile(this.#record(name))) as NetworkInfo;
    } catch {
      throw new NotFoundError(`no such network: ${name}`, "network");
    }
  }

  /** Every network, sorted by name. */
  async list(): Promise<NetworkInfo[]> {
    const out: NetworkInfo[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        if (!entry.name.endsWith(".json") || entry.name.startsWith(".")) continue;
        out.push(await this.inspect(entry.name.slice(0, -5)));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Creates a network with the next free 10.89.N.0/24. With `hostAccess` the host joins it as
   * `.1` (a veth pair from the host to the bridge), so the host reaches the boxes' addresses and
   * they reach the host's; nothing is routed beyond it either way.
   */
  async create(name: string, options: { hostAccess?: boolean } = {}): Promise<NetworkInfo> {
    if (!NAME.test(name)) throw new ValidationError(`invalid network name '${name}'`, "name");
    const existing = await this.list();
    if (existing.some((n) => n.name === name)) {
      throw new A3sError("network_exists", `network ${name} already exists`, {
        status: 409,
        field: "name",
      });
    }
    const used = new Set(existing.map((n) => Number(n.subnet.split(".")[2])));
    // A network the host joins needs a subnet the host's own routes do not use yet (another
    // data dir's pod network, say); the others live in their own namespaces and may overlap.
    if (options.hostAccess) { for (const octet of await hostSubnets()) used.add(octet); }
    let octet = 1;
    while (used.has(octet) && octet < 255) octet++;
    if (octet === 255) throw new A3sError("network_full", "no free subnet left in 10.89.0.0/16");
    const id = crypto.randomUUID().replaceAll("-", "");
    const netns = `a3s-net-${id.slice(0, 10)}`;
    await createNetns(netns);
    const hostGateway = options.hostAccess ? `10.89.${octet}.1` : undefined;
    try {
      await ip(["-n", netns, "link", "add", "br0", "type", "bridge"]);
      await ip(["-n", netns, "link", "set", "br0", "up"]);
      if (hostGateway) {
        // The host end stays in the host's namespace; deleting the network's namespace takes
        // the pair with it.
        const hostVeth = hostVethName(id);
        await ip([
          "link",
          "add",
          hostVeth,
          "type",
          "veth",
          "peer",
          "name",
          "host0",
          "netns",
          netns,
        ]);
        await ip(["-n", netns, "link", "set", "host0", "master", "br0", "up"]);
        await ip(["addr", "add", `${hostGateway}/24`, "dev", hostVeth]);
        await ip(["link", "set", hostVeth, "up"]);
      }
    } catch (error) {
      await deleteNetns(netns);
      throw error;
    }
    const network: NetworkInfo = {
      name,
      id,
      driver: "bridge",
      subnet: `10.89.${octet}.0/24`,
      netns,
      createdAt: Date.now(),
      members: [],
      hostGateway,
    };
    await this.#claim(network);
    return network;
  }

  /**
   * Publishes a new network's record only if no record of that name exists, atomically (a
   * link fails if the name is taken): two creators racing (two pods starting at once, each
   * finding no pod network) both got past the name check, both made a namespace, and the second
   * record overwrote the first, whose namespace was then owned by nothing. The loser deletes its
   * namespace and gets `network_exists`.
   */
  async #claim(network: NetworkInfo): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    const draft = join(this.dir, `.${network.id}.json`);
    await Deno.writeTextFile(draft, JSON.stringify(network));
    try {
      await Deno.link(draft, this.#record(network.name));
    } catch (error) {
      await deleteNetns(network.netns);
      if (error instanceof Deno.errors.AlreadyExists) {
        throw new A3sError("network_exists", `network ${network.name} already exists`, {
          status: 409,
          field: "name",
        });
      }
      throw error;
    } finally {
      await Deno.remove(draft).catch(() => {});
    }
    await this.#save(network);
  }

  /**
   * Attaches a box (by the name others will resolve) before it starts: makes its namespace,
   * wires it to the bridge and adds it to the hosts file. Returns the namespace path to join.
   */
  async attach(
    networkName: string,
    boxName: string,
    aliases: string[] = [],
  ): Promise<NetworkMember> {
    // A box already on another network keeps its namespace and gains one more interface.
    const elsewhere = (await this.list()).flatMap((n) => n.members).filter((m) =>
      m.name === boxName
    );
    const network = await this.inspect(networkName);
    if (network.members.some((m) => m.name === boxName)) {
      throw new A3sError("name_in_use", `${boxName} is already on network ${networkName}`, {
        status: 409,
        field: "name",
      });
    }
    const taken = new Set(network.members.map((m) => Number(m.ip.split(".")[3])));
    let host = 2;
    while (taken.has(host) && host < 255) host++;
    if (host === 255) throw new A3sError("network_full", `network ${networkName} is full`);
    const prefix = network.subnet.split(".").slice(0, 3).join(".");
    const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
    const member: NetworkMember = {
      name: boxName,
      ip: `${prefix}.${host}`,
      netns: elsewhere[0]?.netns ?? `a3s-box-${suffix}`,
      hostVeth: `veth${suffix}`,
      device: `eth${elsewhere.length}`,
      aliases,
    };
    if (elsewhere.length === 0) await createNetns(member.netns);
    try {
      await ip([
        "-n",
        network.netns,
        "link",
        "add",
        member.hostVeth,
        "type",
        "veth",
        "peer",
        "name",
        member.device,
        "netns",
        member.netns,
      ]);
      await ip(["-n", network.netns, "link", "set", member.hostVeth, "master", "br0", "up"]);
      await ip(["-n", member.netns, "addr", "add", `${member.ip}/24`, "dev", member.device]);
      await ip(["-n", member.netns, "link", "set", member.device, "up"]);
    } catch (error) {
      if (elsewhere.length === 0) await deleteNetns(member.netns);
      else await ip(["-n", network.netns, "link", "del", member.hostVeth]).catch(() => {});
      throw error;
    }
    network.members.push(member);
    await this.#save(network);
    return member;
  }

  /** The namespace path a member joins. */
  memberNetns(member: NetworkMember): string {
    return netnsPath(member.netns);
  }

  /** Detaches a box: its namespace (and so its veth pair) goes, and its hosts line. */
  async detach(networkName: string, boxName: string): Promise<void> {
    const network = await this.inspect(networkName);
    const member = network.members.find((m) => m.name === boxName);
    if (!member) throw new NotFoundError(`${boxName} is not on network ${networkName}`, "box");
    const shared = (await this.list()).some((n) =>
      n.name !== networkName && n.members.some((m) => m.netns === member.netns)
    );
    // Deleting the bridge end removes the pair; the namespace goes with the box's last network.
    if (shared) await ip(["-n", network.netns, "link", "del", member.hostVeth]);
    else await deleteNetns(member.netns);
    network.members = network.members.filter((m) => m !== member);
    await this.#save(network);
  }

  /** Removes a network; one with members needs them detached first. */
  async remove(name: string): Promise<void> {
    const network = await this.inspect(name);
    if (network.members.length > 0) {
      throw new A3sError(
        "network_in_use",
        `network ${name} has boxes attached: ${network.members.map((m) => m.name).join(", ")}`,
        { status: 409, field: "name" },
      );
    }
    // The kernel destroys a deleted namespace (and so the pair's host end) later, in a work
    // queue; deleting the host end first means it is gone when remove returns.
    if (network.hostGateway) {
      await ip(["link", "del", hostVethName(network.id)]).catch((error: A3sError) => {
        if (!/Cannot find device/.test(error.message)) throw error;
      });
    }
    await deleteNetns(network.netns);
    await Deno.remove(this.#record(name)).catch(() => {});
    await Deno.remove(this.hostsFile(name)).catch(() => {});
  }

  /** Detaches members whose boxes no longer exist (`exists` says which do). */
  async prune(exists: (boxName: string) => Promise<boolean>): Promise<void> {
    for (const network of await this.list()) {
      for (const member of network.members) {
        if (!(await exists(member.name))) await this.detach(network.name, member.name);
      }
    }
  }
}

/** The third octets of the 10.89.N.0/24 subnets the host routes to already. */
async function hostSubnets(): Promise<number[]> {
  const out = await new Deno.Command("ip", {
    args: ["-4", "-o", "route", "show", "root", "10.89.0.0/16"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  return [...text.matchAll(/^10\.89\.(\d+)\./gm)].map((m) => Number(m[1]));
}

/** What a box needs to start on a network: the namespace to join and the hosts file mount. */
export async function networkBoxOptions(
  networks: NetworkStore,
  networkName: string,
  boxName: string,
): Promise<{ netns: string; hostsMount: { host: string; guest: string; readOnly: boolean } }> {
  const member = await networks.attach(networkName, boxName);
  return {
    netns: networks.memberNetns(member),
    hostsMount: { host: networks.hostsFile(networkName), guest: "/etc/hosts", readOnly: true },
  };
}
